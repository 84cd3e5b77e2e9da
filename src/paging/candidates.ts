import type { PageTable } from '../catalog.js';
import { clip } from '../core/clip.js';
import { reloadCall } from '../core/page.js';
import { InputError } from '../errors.js';

/**
 * Candidates: the pages page_fault ranked next after the ones it brought in, offered as short handles so
 * that a model whose top page is wrong loads the right one with one load_page instead of asking again.
 * They cost the host's context, so each is one short line (see CANDIDATE_LINE_CHARS).
 */

/**
 * Five, from bench/candidates.ts (BENCHMARKS.md): beside the three pages a fault brings in by default, five
 * candidates put the gold page one load_page away for 2.0 (SQuAD), 7.0 (COVID-QA) and 9.3 (QMSum) points
 * more questions than none, for about 275 tokens (under 5% of the result). From three to five still gains
 * 1.8 (COVID-QA) and 3.7 (QMSum) points per 100 tokens; from five to eight, 0.8 and 3.0, where QMSum's 237
 * questions make each step coarse (one question is 0.4 points).
 */
export const DEFAULT_CANDIDATES = 5;
/** More than this and the candidates stop being cheap beside the pages. */
export const MAX_CANDIDATES = 10;
/** Gists are first sentences of up to 120 characters; a candidate needs only enough to recognise it. */
export const CANDIDATE_GIST_CHARS = 80;
/** A source is often a path: its end (the file name) is kept. */
export const CANDIDATE_SOURCE_CHARS = 48;
/**
 * The bound on one candidate's line in a tool result's text: id (21), clipped source and gist, ordinal,
 * PDF pages, tokens and score, with their separators: about 40 o200k tokens with a short source, 60 with a long path.
 */
export const CANDIDATE_LINE_CHARS = 200;

/** A page ranked next after those a fault brought in: enough to choose it, and the call that loads it. */
export interface Candidate {
  pageId: string;
  source: string;
  ordinal: number;
  /** The PDF pages it covers, for a page of a PDF: a candidate's line stays short, so not its breadcrumb. */
  pdfPages?: [number, number];
  tokens: number;
  gist: string;
  /** Its L3 score for the query, on the scale of the served pages' scores. */
  score: number;
  reload: string;
}

/** The number of candidates asked for, or the caller's error naming the field and the fix. */
export function candidateCount(asked: number | undefined): number {
  if (asked === undefined) return DEFAULT_CANDIDATES;
  if (!Number.isInteger(asked) || asked < 0 || asked > MAX_CANDIDATES)
    throw new InputError(
      'candidates',
      `is ${asked}; give a whole number from 0 (none) to ${MAX_CANDIDATES}, or leave it out for ${DEFAULT_CANDIDATES}`,
    );
  return asked;
}

/** The candidate a ranked page makes, its source and gist clipped to keep its line short. */
export function candidateIn(table: PageTable, pageId: string, score: number): Candidate {
  const e = table.get(pageId)!;
  return {
    pageId,
    source: clip(e.source, CANDIDATE_SOURCE_CHARS, 'start'),
    ordinal: e.ordinal,
    ...(e.pdfPages ? { pdfPages: e.pdfPages } : {}),
    tokens: e.tokens,
    gist: clip(e.gist, CANDIDATE_GIST_CHARS),
    score,
    reload: reloadCall([pageId]),
  };
}
