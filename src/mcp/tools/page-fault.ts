import type { RegisteredTool } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { DEFAULT_CANDIDATES, MAX_CANDIDATES } from '../../paging/candidates.js';
import type { ToolContext } from '../context.js';
import { faultJson, faultText, guard, ok } from '../format.js';
import { candidateOut, MAX_FAULT_PAGES, maxTokensIn, pagingOut, perBudget, resolutionIn } from '../schemas.js';

const input = perBudget((budget) =>
  z.object({
    query: z.string().min(1).describe('What you are missing, in words'),
    max_pages: z.number().int().min(1).max(MAX_FAULT_PAGES).optional().describe('Default 3'),
    max_tokens: maxTokensIn(budget).optional().describe('Default: L1 budget'),
    resolution: resolutionIn.optional().describe('Default: summaries where pages do not fit'),
    resend: z.boolean().optional().describe('Resend pages you hold, e.g. in a new chat'),
    candidates: z
      .number()
      .int()
      .min(0)
      .max(MAX_CANDIDATES)
      .optional()
      .describe(`Next best pages listed by id; default ${DEFAULT_CANDIDATES}`),
  }),
);
const output = z.object({ query: z.string(), ...pagingOut, candidates: z.array(candidateOut) });

export function registerPageFault({ server, pager, session }: ToolContext): RegisteredTool {
  return server.registerTool(
    'page_fault',
    {
      title: 'Page fault',
      description:
        'Bring the pages that answer `query` into your context, evicting the least recently used. Pages sent to you recently come without text, with the call to get it. Lists the next best pages: load_page one if these do not answer.',
      inputSchema: input(pager.config.l1Tokens),
      outputSchema: output,
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    },
    async ({ query, max_pages, max_tokens, resolution, resend, candidates }) =>
      guard(async () => {
        const r = await pager.fault(session, query, {
          maxPages: max_pages,
          maxTokens: max_tokens,
          resolution,
          resend,
          candidates,
        });
        return ok(faultText(r), faultJson(r));
      }),
  );
}
