import { type CallToolResult, ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { type Handle, reloadCall, type Superseded, supersededLine } from '../core/page.js';
import { type PageStructure, pdfPagesText, whereText } from '../core/structure.js';
import { audienceOf } from '../errors.js';
import type { Candidate, FaultResult, PagingResult, Pressure, ServedPage } from '../pager.js';

/** Structured forms, matching ./schemas.ts. */
export const pressureJson = (p: Pressure) => ({ used_tokens: p.used, budget_tokens: p.budget, pages: p.pages });

/** A page's PDF pages and breadcrumb, each when it has one. */
const structureJson = (s: PageStructure) => ({
  ...(s.pdfPages ? { pdf_pages: s.pdfPages } : {}),
  ...(s.breadcrumb?.length ? { breadcrumb: s.breadcrumb } : {}),
});

/** ` · pp. 3–4 · Part I › Methods` after a page's source and ordinal, or nothing. */
const whereSuffix = (s: PageStructure) => {
  const where = whereText(s);
  return where ? ` · ${where}` : '';
};

export const handleJson = (h: Handle) => ({
  page_id: h.pageId,
  source: h.source,
  ordinal: h.ordinal,
  ...structureJson(h),
  tokens: h.tokens,
  gist: h.gist,
  ...(h.summary ? { summary: h.summary } : {}),
  ...supersededJson(h.supersededBy),
  reload: h.reload,
});

const supersededJson = (s: Superseded | undefined) =>
  s ? { superseded_by: { document_id: s.documentId, ingested_at: new Date(s.ingestedAt).toISOString() } } : {};

export const pageJson = (p: ServedPage) => ({
  page_id: p.pageId,
  source: p.source,
  ordinal: p.ordinal,
  ...structureJson(p),
  tokens: p.tokens,
  level: p.level,
  pinned: p.pinned,
  lines: p.lines,
  resolution: p.resolution,
  ...supersededJson(p.supersededBy),
  ...(p.score !== undefined ? { score: Number(p.score.toFixed(4)) } : {}),
  ...(p.text !== undefined
    ? { text: p.text }
    : {
        ...(p.sentSecondsAgo !== undefined ? { sent_seconds_ago: p.sentSecondsAgo } : {}),
        reload: reloadCall([p.pageId]),
      }),
});

export const candidateJson = (c: Candidate) => ({
  page_id: c.pageId,
  source: c.source,
  ordinal: c.ordinal,
  ...(c.pdfPages ? { pdf_pages: c.pdfPages } : {}),
  tokens: c.tokens,
  gist: c.gist,
  score: Number(c.score.toFixed(4)),
  reload: c.reload,
});

export const faultJson = (r: FaultResult) => ({
  query: r.query,
  ...pagingJson(r),
  candidates: r.candidates.map(candidateJson),
});

export const pagingJson = (r: PagingResult) => ({
  pages: r.pages.map(pageJson),
  evicted: r.evicted.map(handleJson),
  skipped: r.skipped.map(handleJson),
  l1: pressureJson(r.l1),
});

/** Text forms, for hosts that ignore structured output: the page texts are here too. */
export const pressureText = (p: Pressure) => `L1: ${p.used}/${p.budget} tokens in ${p.pages} pages.`;

export const handleText = (h: Handle) =>
  `- ${h.pageId} · ${h.source} #${h.ordinal}${whereSuffix(h)} · ${h.tokens} tokens${h.supersededBy ? ` · ${supersededLine(h.supersededBy)}` : ''} · ${h.summary ? `summary (${h.summary.tokens} tokens): ${h.summary.text}` : h.gist}`;

/** One line of at most CANDIDATE_LINE_CHARS characters (source and gist are clipped by candidateIn). */
export const candidateText = (c: Candidate) =>
  `- ${c.pageId} · ${c.source} #${c.ordinal}${c.pdfPages ? ` · ${pdfPagesText(c.pdfPages)}` : ''} · ${c.tokens} tokens · score ${c.score.toFixed(3)} · ${c.gist}`;

/** The candidates' part of a page_fault result, empty when there are none. */
export function candidatesText(candidates: Candidate[]): string {
  if (!candidates.length) return '';
  return `Next best matches, not loaded (load_page one by id if the pages above do not answer):\n${candidates.map(candidateText).join('\n')}`;
}

export function pageText(p: ServedPage): string {
  const what =
    p.resolution === 'summary'
      ? `summary, ${p.tokens} tokens (${reloadCall([p.pageId])} for the full page)`
      : `${p.tokens} tokens`;
  const head = `## ${p.pageId} · ${p.source} #${p.ordinal}${whereSuffix(p)} · lines ${p.lines[0]}-${p.lines[1]} · ${what} · from ${p.level}${p.pinned ? ' · pinned' : ''}${p.supersededBy ? ` · ${supersededLine(p.supersededBy)}` : ''}`;
  if (p.text !== undefined) return `${head}\n${p.text}`;
  const when = p.sentSecondsAgo === undefined ? '' : ` ${p.sentSecondsAgo} s ago`;
  return `${head}\n(text sent to you${when}, not repeated; if you do not see it: ${reloadCall([p.pageId])})`;
}

/** A page_fault result as text: its pages, then its candidates, then what the other results show. */
export function faultText(r: FaultResult): string {
  const lead = r.pages.length
    ? `Page fault for "${r.query}": ${r.pages.length} page(s).`
    : `No page matches "${r.query}". Ingest the document first, or rephrase.`;
  return pagingText(r, lead, candidatesText(r.candidates));
}

/** A paging result as text; `extra`, when given, goes right after the pages. */
export function pagingText(r: PagingResult, lead: string, extra = ''): string {
  const parts = [lead, ...r.pages.map(pageText)];
  if (extra) parts.push(extra);
  if (r.evicted.length)
    parts.push(`Evicted from L1 (load_page brings one back):\n${r.evicted.map(handleText).join('\n')}`);
  if (r.skipped.length) {
    const call = reloadCall(r.skipped.map((h) => h.pageId));
    parts.push(
      `Did not fit in this call (${call} brings them, evicting older pages; or raise max_tokens):\n${r.skipped.map(handleText).join('\n')}`,
    );
  }
  parts.push(pressureText(r.l1));
  return parts.join('\n\n');
}

/** A successful tool result with both forms. */
export function ok(text: string, structured: Record<string, unknown>): CallToolResult {
  return { content: [{ type: 'text', text }], structuredContent: structured };
}

/**
 * A failure of a resource read, for its audience (see errors.ts): the caller's as invalid params, the
 * operator's as an internal error that says so (and is logged), vmem's own as it is (an internal error).
 */
export function resourceError(err: unknown): unknown {
  const message = err instanceof Error ? err.message : String(err);
  switch (audienceOf(err)) {
    case 'caller':
      return new McpError(ErrorCode.InvalidParams, message);
    case 'operator':
      console.error(`vmem: needs its operator: ${(err as Error).name}: ${message}`);
      return new McpError(
        ErrorCode.InternalError,
        `vmem's store needs its operator (not caused by your input): ${message}`,
      );
    case 'vmem':
      return err;
  }
}

/**
 * Runs a tool body; a failure becomes a tool error for its audience (see errors.ts): the caller's mistakes
 * name the field, the operator's problems and vmem's own say they are not the caller's fault.
 */
export async function guard(body: () => Promise<CallToolResult>): Promise<CallToolResult> {
  try {
    return await body();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const fail = (text: string): CallToolResult => ({ isError: true, content: [{ type: 'text', text }] });
    switch (audienceOf(err)) {
      case 'caller':
        return fail(`Invalid input: ${message}`);
      case 'operator':
        console.error(`vmem: needs its operator: ${(err as Error).name}: ${message}`);
        return fail(`vmem's store needs its operator (not caused by your input): ${message}`);
      case 'vmem':
        console.error('vmem: internal error:', err);
        return fail(`Internal error in vmem (not caused by your input): ${message}`);
    }
  }
}
