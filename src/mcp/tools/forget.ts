import type { RegisteredTool } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import type { ToolContext } from '../context.js';
import { guard, ok } from '../format.js';

const input = z.object({
  target: z
    .string()
    .describe(
      'A source as ingested (every version of it goes), or a document id (d + 16 hex; a superseded version alone)',
    ),
});
const output = z.object({
  forgotten: z.array(z.object({ document_id: z.string(), source: z.string(), current: z.boolean() })),
  pages_removed: z.number().int(),
  pages_shared: z.number().int(),
});

export function registerForget({ server, pager }: ToolContext): RegisteredTool {
  return server.registerTool(
    'forget',
    {
      title: 'Forget a document',
      description:
        'Remove a document from the store for every agent: its pages leave every context, cache, index and disk, except pages another document shares. Snapshots pointing at them stop restoring.',
      inputSchema: input,
      outputSchema: output,
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    },
    async ({ target }) =>
      guard(async () => {
        const r = await pager.forget(target, 'target');
        const text = r.documents.length
          ? `Forgot ${r.documents.length} document(s) of ${r.documents[0]!.source}: ${r.pagesRemoved} page(s) removed from every level, ${r.pagesShared} kept (other documents hold them).`
          : `${target} was already forgotten; nothing left to remove.`;
        return ok(text, {
          forgotten: r.documents.map((d) => ({ document_id: d.id, source: d.source, current: d.current })),
          pages_removed: r.pagesRemoved,
          pages_shared: r.pagesShared,
        });
      }),
  );
}
