import type { RegisteredTool } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import type { ToolContext } from '../context.js';
import { guard, ok, pagingJson, pagingText } from '../format.js';
import { MAX_FAULT_PAGES, maxTokensIn, pagingOut, perBudget, resolutionIn } from '../schemas.js';

const input = perBudget((budget) =>
  z.object({
    query: z.string().min(1).describe('What you are missing, in words'),
    max_pages: z.number().int().min(1).max(MAX_FAULT_PAGES).optional().describe('Default 3'),
    max_tokens: maxTokensIn(budget).optional().describe('Default: L1 budget'),
    resolution: resolutionIn.optional().describe('Default: summaries where pages do not fit'),
    resend: z.boolean().optional().describe('Resend pages you hold, e.g. in a new chat'),
  }),
);
const output = z.object({ query: z.string(), ...pagingOut });

export function registerPageFault({ server, pager, session }: ToolContext): RegisteredTool {
  return server.registerTool(
    'page_fault',
    {
      title: 'Page fault',
      description:
        'Bring the pages that answer `query` into your context, evicting the least recently used. Pages sent to you recently come without text, with the call to get it.',
      inputSchema: input(pager.config.l1Tokens),
      outputSchema: output,
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    },
    async ({ query, max_pages, max_tokens, resolution, resend }) =>
      guard(async () => {
        const r = await pager.fault(session, query, { maxPages: max_pages, maxTokens: max_tokens, resolution, resend });
        const lead = r.pages.length
          ? `Page fault for "${query}": ${r.pages.length} page(s).`
          : `No page matches "${query}". Ingest the document first, or rephrase.`;
        return ok(pagingText(r, lead), { query, ...pagingJson(r) });
      }),
  );
}
