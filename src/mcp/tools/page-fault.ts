import { z } from 'zod';
import type { ToolContext } from '../context.js';
import { guard, ok, pagingJson, pagingText } from '../format.js';
import { pagingOut } from '../schemas.js';

export function registerPageFault({ server, pager, session }: ToolContext): void {
  server.registerTool(
    'page_fault',
    {
      title: 'Page fault',
      description: 'Bring the pages that answer `query` into your context (L1), evicting least recently used pages if needed. Pages already in context are not repeated.',
      inputSchema: {
        query: z.string().describe('What you are missing, in words'),
        max_pages: z.number().int().optional().describe('Pages to bring in (1-20, default 3)'),
        max_tokens: z.number().int().optional().describe('Token cap for this call (default: L1 budget)'),
      },
      outputSchema: { query: z.string(), ...pagingOut },
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    },
    async ({ query, max_pages, max_tokens }) =>
      guard(async () => {
        const r = await pager.fault(session, query, { maxPages: max_pages, maxTokens: max_tokens });
        const lead = r.pages.length ? `Page fault for "${query}": ${r.pages.length} page(s).` : `No page matches "${query}". Ingest the document first, or rephrase.`;
        return ok(pagingText(r, lead), { query, ...pagingJson(r) });
      }),
  );
}
