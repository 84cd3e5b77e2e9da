import type { RegisteredTool } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { InputError } from '../../errors.js';
import type { ToolContext } from '../context.js';
import { guard, handleJson, handleText, ok, pressureJson, pressureText } from '../format.js';
import { handleOut, pageIdsIn, pressureOut } from '../schemas.js';

const input = z.object({
  page_ids: pageIdsIn.optional(),
  all: z.boolean().optional().describe('Instead of page_ids: evict every page'),
});
const output = z.object({ evicted: z.array(handleOut), not_resident: z.array(z.string()), l1: pressureOut });

export function registerEvict({ server, pager, session }: ToolContext): RegisteredTool {
  return server.registerTool(
    'evict',
    {
      title: 'Evict pages',
      description: 'Drop pages from your context, pinned ones too; returns handles to load them back.',
      inputSchema: input,
      outputSchema: output,
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    async ({ page_ids, all }) =>
      guard(async () => {
        if (!all && !page_ids) throw new InputError('page_ids', 'give page_ids, or all: true');
        if (all && page_ids) throw new InputError('all', 'give page_ids or all: true, not both');
        const r = pager.evict(session, all ? 'all' : page_ids!);
        const lines = [`Evicted ${r.evicted.length} page(s).`, ...r.evicted.map(handleText)];
        if (r.notResident.length) lines.push(`Not in L1: ${r.notResident.join(', ')}`);
        lines.push(pressureText(r.l1));
        return ok(lines.join('\n'), {
          evicted: r.evicted.map(handleJson),
          not_resident: r.notResident,
          l1: pressureJson(r.l1),
        });
      }),
  );
}
