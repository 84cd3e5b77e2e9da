import type { RegisteredTool } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { InputError } from '../../errors.js';
import {
  MAX_SKIPPED_NAMED,
  readSources,
  type SkippedFile,
  type SourceFile,
  skippedLines,
} from '../../ingest/sources.js';
import type { ToolContext } from '../context.js';
import { guard, ok } from '../format.js';

const input = z.object({
  text: z.string().optional(),
  source: z.string().max(500).optional().describe('Name for text, e.g. a file name'),
  path: z.string().optional(),
});
const output = z.object({
  documents: z.array(
    z.object({
      document_id: z.string(),
      source: z.string(),
      pages: z.number().int(),
      new_pages: z.number().int(),
      tokens: z.number().int(),
    }),
  ),
  total_pages: z.number().int(),
  total_tokens: z.number().int(),
  /** Files of a directory that were not paged, with the reason; the first MAX_SKIPPED_NAMED of them. */
  skipped: z.array(z.object({ source: z.string(), reason: z.string() })).optional(),
  skipped_count: z.number().int().optional(),
});

export function registerIngest({ server, pager, roots }: ToolContext): RegisteredTool {
  return server.registerTool(
    'ingest',
    {
      title: 'Ingest documents',
      description:
        'Page a document into virtual memory: its `text`, or a file or directory `path` inside the ingest roots (text, code, PDF, HTML, .docx, .ipynb).',
      inputSchema: input,
      outputSchema: output,
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    async ({ text, source, path }, extra) =>
      guard(async () => {
        if ((text === undefined) === (path === undefined))
          throw new InputError('text', 'give exactly one of text or path');
        let docs: SourceFile[] = [{ source: source?.trim() || 'text', text: text ?? '' }];
        let skipped: SkippedFile[] = [];
        if (path !== undefined)
          ({ docs, skipped } = await readSources(await roots.check(path), pager.config.maxIngestBytes));
        const token = extra._meta?.progressToken;
        const results = await pager.ingest(docs, async (done, total) => {
          if (token === undefined) return;
          await extra.sendNotification({
            method: 'notifications/progress',
            params: { progressToken: token, progress: done, total, message: `${done}/${total} bytes paged` },
          });
        });
        const totalPages = results.reduce((n, r) => n + r.pages, 0);
        const totalTokens = results.reduce((n, r) => n + r.tokens, 0);
        const lines = results.map(
          (r) => `- ${r.documentId} · ${r.source} · ${r.pages} pages (${r.newPages} new) · ${r.tokens} tokens`,
        );
        if (skipped.length) lines.push(`Skipped ${skipped.length} file(s):`, ...skippedLines(skipped));
        return ok(
          `Ingested ${results.length} document(s), ${totalPages} pages, ${totalTokens} tokens. Use page_fault to bring pages into context.\n${lines.join('\n')}`,
          {
            documents: results.map((r) => ({
              document_id: r.documentId,
              source: r.source,
              pages: r.pages,
              new_pages: r.newPages,
              tokens: r.tokens,
            })),
            total_pages: totalPages,
            total_tokens: totalTokens,
            ...(skipped.length ? { skipped: skipped.slice(0, MAX_SKIPPED_NAMED), skipped_count: skipped.length } : {}),
          },
        );
      }),
  );
}
