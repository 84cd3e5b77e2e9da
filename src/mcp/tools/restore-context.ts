import type { RegisteredTool } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import type { ToolContext } from '../context.js';
import { guard, ok, pagingJson, pagingText } from '../format.js';
import { pagingOut } from '../schemas.js';

/**
 * The snapshot itself travels as its JSON text: a string is the one type every provider's function
 * schema takes as is (a nested object needs strict-mode rewriting that Gemini's subset refuses). An
 * object is accepted too, and read as its JSON.
 */
const snapshotJson = z.preprocess((v) => (typeof v === 'object' && v !== null ? JSON.stringify(v) : v), z.string());

const input = z.object({
  snapshot_id: z.string().optional().describe('From serialize_context'),
  snapshot: snapshotJson.optional().describe('Instead of snapshot_id: the snapshot JSON'),
});
const output = z.object({ snapshot_id: z.string().optional(), ...pagingOut });

export function registerRestoreContext({ server, pager, session }: ToolContext): RegisteredTool {
  return server.registerTool(
    'restore_context',
    {
      title: 'Restore a snapshot',
      description: "Replace your context with a snapshot's pages, verifying every page hash.",
      inputSchema: input,
      outputSchema: output,
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    async ({ snapshot_id, snapshot }) =>
      guard(async () => {
        const r = await pager.restore(session, { snapshotId: snapshot_id, snapshot });
        return ok(pagingText(r, `Restored ${r.pages.length} page(s)${snapshot_id ? ` from ${snapshot_id}` : ''}.`), {
          ...(snapshot_id ? { snapshot_id } : {}),
          ...pagingJson(r),
        });
      }),
  );
}
