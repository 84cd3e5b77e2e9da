import { z } from 'zod';

/**
 * The tools' argument and result shapes. Bounds live here, so `tools/list` advertises them and the SDK
 * refuses a violation before vmem's code runs. Every shape stays inside what strict function-calling
 * providers accept (see ./tool-list.ts): flat arguments of scalars and arrays of scalars, no tuples.
 * Field names are snake_case.
 */

/** Pages one page_fault may bring in. */
export const MAX_FAULT_PAGES = 20;
/** Page ids one load_page or evict may name. */
export const MAX_PAGE_IDS = 200;
/** Ten years: a snapshot that should outlive that needs no expiry. */
export const MAX_EXPIRY_SECONDS = 10 * 365 * 24 * 3600;

/** Ids the store does not know get the pager's error, which says where ids come from. */
export const pageIdsIn = z.array(z.string()).min(1).max(MAX_PAGE_IDS);

export const resolutionIn = z.enum(['full', 'summary']);

/** A token cap for one call: at most the session's whole L1. */
export const maxTokensIn = (budget: number) => z.number().int().min(1).max(budget);

/**
 * A schema built once per L1 budget: every session of a store shares it, so a session costs its
 * state, not its own copy of each tool's zod schemas.
 */
export function perBudget<T>(build: (budget: number) => T): (budget: number) => T {
  const made = new Map<number, T>();
  return (budget) => {
    let schema = made.get(budget);
    if (!schema) made.set(budget, (schema = build(budget)));
    return schema;
  };
}

/** First and last PDF page (1-based) of a page of a PDF, for citing it. */
const pdfPagesOut = z.array(z.number().int()).length(2).optional();
/** The headings above a page, outermost first. */
const breadcrumbOut = z.array(z.string()).optional();

export const pressureOut = z.object({
  used_tokens: z.number().int(),
  budget_tokens: z.number().int(),
  pages: z.number().int(),
});

/** A page only an earlier version of its source holds: the version that replaced it. */
export const supersededOut = z.object({ document_id: z.string(), ingested_at: z.string() });

export const handleOut = z.object({
  page_id: z.string(),
  source: z.string(),
  ordinal: z.number().int(),
  pdf_pages: pdfPagesOut,
  breadcrumb: breadcrumbOut,
  tokens: z.number().int(),
  gist: z.string(),
  summary: z.object({ text: z.string(), tokens: z.number().int() }).optional(),
  superseded_by: supersededOut.optional(),
  reload: z.string(),
});

/** A page ranked next after those a page_fault brought in (see src/paging/candidates.ts). */
export const candidateOut = z.object({
  page_id: z.string(),
  source: z.string(),
  ordinal: z.number().int(),
  pdf_pages: pdfPagesOut,
  tokens: z.number().int(),
  gist: z.string(),
  score: z.number(),
  reload: z.string(),
});

export const pageOut = z.object({
  page_id: z.string(),
  source: z.string(),
  ordinal: z.number().int(),
  pdf_pages: pdfPagesOut,
  breadcrumb: breadcrumbOut,
  tokens: z.number().int(),
  level: z.enum(['L1', 'L2', 'L3', 'L4']),
  pinned: z.boolean(),
  /** First and last line, 1-based. */
  lines: z.array(z.number().int()).length(2),
  resolution: z.enum(['full', 'summary']),
  superseded_by: supersededOut.optional(),
  score: z.number().optional(),
  text: z.string().optional(),
  /** Present when `text` is not: the page was sent this long ago and should still be in the model's context. */
  sent_seconds_ago: z.number().int().optional(),
  /** Present when `text` is not: the one call that returns the text. */
  reload: z.string().optional(),
});

export const pagingOut = {
  pages: z.array(pageOut),
  evicted: z.array(handleOut),
  skipped: z.array(handleOut),
  l1: pressureOut,
};
