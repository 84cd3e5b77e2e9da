import { z } from 'zod';
import type { ToolContext } from '../context.js';
import { guard, ok, pagingJson, pagingText } from '../format.js';
import { pagingOut } from '../schemas.js';

export function registerRestoreContext({ server, pager, session }: ToolContext): void {
  server.registerTool(
    'restore_context',
    {
      title: 'Restore a snapshot',
      description: 'Replace your L1 with a snapshot\'s pages (by `snapshot_id`, or the `snapshot` object itself), verifying every page hash.',
      inputSchema: {
        snapshot_id: z.string().optional().describe('Id from serialize_context'),
        snapshot: z.unknown().optional().describe('The snapshot object (or its JSON)'),
      },
      outputSchema: { snapshot_id: z.string().optional(), ...pagingOut },
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
