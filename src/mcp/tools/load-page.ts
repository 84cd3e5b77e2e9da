import { z } from 'zod';
import type { ToolContext } from '../context.js';
import { guard, ok, pagingJson, pagingText } from '../format.js';
import { pageIds, pagingOut, resolutionIn } from '../schemas.js';

export function registerLoadPage({ server, pager, session }: ToolContext): void {
  server.registerTool(
    'load_page',
    {
      title: 'Load pages',
      description:
        'Load pages by id (from a handle or the page table) into your context; `pin` keeps them from LRU eviction. Always returns the text: ' +
        'the full page, or with resolution "summary" its summary (about a tenth of the tokens) where one exists.',
      inputSchema: {
        page_ids: pageIds.describe('Page ids, e.g. ["p0123456789abcdef0123"]'),
        pin: z.boolean().optional().describe('Protect from LRU eviction until evicted explicitly'),
        max_tokens: z.number().int().optional().describe('Token cap for this call (default: L1 budget)'),
        resolution: resolutionIn.describe('"full" (default) or "summary"'),
      },
      outputSchema: pagingOut,
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    async ({ page_ids, pin, max_tokens, resolution }) =>
      guard(async () => {
        const r = await pager.load(session, page_ids, { pin, maxTokens: max_tokens, resolution });
        return ok(pagingText(r, `Loaded ${r.pages.length} of ${page_ids.length} page(s).`), pagingJson(r));
      }),
  );
}
