import type { RegisteredTool } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import type { ToolContext } from '../context.js';
import { guard, ok, pagingJson, pagingText } from '../format.js';
import { maxTokensIn, pageIdsIn, pagingOut, perBudget, resolutionIn } from '../schemas.js';

const input = perBudget((budget) =>
  z.object({
    page_ids: pageIdsIn,
    pin: z.boolean().optional().describe('Keep until evicted'),
    max_tokens: maxTokensIn(budget).optional().describe('Default: L1 budget'),
    resolution: resolutionIn.optional().describe('summary: a tenth of the tokens'),
  }),
);
const output = z.object(pagingOut);

export function registerLoadPage({ server, pager, session }: ToolContext): RegisteredTool {
  return server.registerTool(
    'load_page',
    {
      title: 'Load pages',
      description: 'Load pages by id into your context, always with their text.',
      inputSchema: input(pager.config.l1Tokens),
      outputSchema: output,
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    async ({ page_ids, pin, max_tokens, resolution }) =>
      guard(async () => {
        const r = await pager.load(session, page_ids, { pin, maxTokens: max_tokens, resolution });
        return ok(pagingText(r, `Loaded ${r.pages.length} of ${page_ids.length} page(s).`), pagingJson(r));
      }),
  );
}
