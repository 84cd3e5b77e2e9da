import { z } from 'zod';
import type { ToolContext } from '../context.js';
import { guard, ok, pagingJson, pagingText } from '../format.js';
import { pagingOut, resolutionIn } from '../schemas.js';

export function registerPageFault({ server, pager, session }: ToolContext): void {
  server.registerTool(
    'page_fault',
    {
      title: 'Page fault',
      description:
        'Bring the pages that answer `query` into your context (L1), evicting least recently used pages if needed. Pages already in context are not repeated. ' +
        'A page that does not fit in full comes as its summary when it has one (resolution "summary"); load_page brings the full text.',
      inputSchema: {
        query: z.string().describe('What you are missing, in words'),
        max_pages: z.number().int().optional().describe('Pages to bring in (1-20, default 3)'),
        max_tokens: z.number().int().optional().describe('Token cap for this call (default: L1 budget)'),
        resolution: resolutionIn.describe('"full": whole pages only; "summary": summaries where they exist; default: whole pages, summaries for those that do not fit'),
      },
      outputSchema: { query: z.string(), ...pagingOut },
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    },
    async ({ query, max_pages, max_tokens, resolution }) =>
      guard(async () => {
        const r = await pager.fault(session, query, { maxPages: max_pages, maxTokens: max_tokens, resolution });
        const lead = r.pages.length ? `Page fault for "${query}": ${r.pages.length} page(s).` : `No page matches "${query}". Ingest the document first, or rephrase.`;
        return ok(pagingText(r, lead), { query, ...pagingJson(r) });
      }),
  );
}
