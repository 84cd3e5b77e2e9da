import type { RegisteredTool } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { snapshotSchema } from '../../core/snapshot.js';
import type { ToolContext } from '../context.js';
import { guard, ok } from '../format.js';
import { MAX_EXPIRY_SECONDS } from '../schemas.js';

const input = z.object({
  note: z.string().max(2000).optional().describe('For whoever restores it'),
  expires_in_seconds: z.number().int().min(1).max(MAX_EXPIRY_SECONDS).optional().describe('Default: never'),
});
const output = z.object({
  snapshot_id: z.string(),
  uri: z.string(),
  snapshot: snapshotSchema,
  snapshot_bytes: z.number().int(),
  page_tokens: z.number().int(),
});

export function registerSerializeContext({ server, pager, session }: ToolContext): RegisteredTool {
  return server.registerTool(
    'serialize_context',
    {
      title: 'Snapshot your context',
      description: 'Save your context as a snapshot of page pointers; another agent can restore_context its id.',
      inputSchema: input,
      outputSchema: output,
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    },
    async ({ note, expires_in_seconds }) =>
      guard(async () => {
        const { snapshotId, snapshot, pageTokens } = await pager.serialize(session, note, expires_in_seconds);
        const bytes = Buffer.byteLength(JSON.stringify(snapshot));
        const uri = `vmem://snapshots/${snapshotId}`;
        return ok(
          `Snapshot ${snapshotId} (${uri}): ${snapshot.pages.length} pages, ${pageTokens} tokens of text as ${bytes} bytes of pointers. Restore with restore_context {"snapshot_id":"${snapshotId}"}.`,
          {
            snapshot_id: snapshotId,
            uri,
            snapshot,
            snapshot_bytes: bytes,
            page_tokens: pageTokens,
          },
        );
      }),
  );
}
