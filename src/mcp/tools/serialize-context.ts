import { z } from 'zod';
import type { ToolContext } from '../context.js';
import { guard, ok } from '../format.js';
import { snapshotSchema } from '../../core/snapshot.js';

export function registerSerializeContext({ server, pager, session }: ToolContext): void {
  server.registerTool(
    'serialize_context',
    {
      title: 'Snapshot your context',
      description: 'Save your L1 as a snapshot (page pointers and hashes, no text) and get its id; another agent can restore_context it.',
      inputSchema: {
        note: z.string().max(2000).optional().describe('A note for whoever restores it'),
        expires_in_seconds: z.number().int().optional().describe('After this long the snapshot no longer restores (default: never)'),
      },
      outputSchema: { snapshot_id: z.string(), uri: z.string(), snapshot: snapshotSchema, snapshot_bytes: z.number().int(), page_tokens: z.number().int() },
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    },
    async ({ note, expires_in_seconds }) =>
      guard(async () => {
        const { snapshotId, snapshot, pageTokens } = await pager.serialize(session, note, expires_in_seconds);
        const bytes = Buffer.byteLength(JSON.stringify(snapshot));
        const uri = `vmem://snapshots/${snapshotId}`;
        return ok(`Snapshot ${snapshotId} (${uri}): ${snapshot.pages.length} pages, ${pageTokens} tokens of text as ${bytes} bytes of pointers. Restore with restore_context {"snapshot_id":"${snapshotId}"}.`, {
          snapshot_id: snapshotId,
          uri,
          snapshot,
          snapshot_bytes: bytes,
          page_tokens: pageTokens,
        });
      }),
  );
}
