import type { Chunk } from './chunker.js';
import { clip } from './clip.js';
import { pageIdOf, sha256 } from './hash.js';
import { firstSentence } from './sentences.js';
import { type PageStructure, structureOf } from './structure.js';

/**
 * Where a page came from: its first occurrence. Pages are content-addressed, so a page shared by two documents
 * keeps the first. `pdfPages` (first and last PDF page, 1-based) is there for pages of a PDF, `breadcrumb`
 * (the headings above the page, outermost first) for pages under a heading.
 */
export interface PageOrigin extends PageStructure {
  documentId: string;
  source: string;
  ordinal: number;
  charStart: number;
  charEnd: number;
  lineStart: number;
  lineEnd: number;
}

/** An immutable page as L4 stores it. */
export interface Page extends PageOrigin {
  id: string;
  sha256: string;
  tokens: number;
  text: string;
}

/** The page a chunk of a document becomes: its id and hash are those of its text, never of its structure. */
export function pageOf(
  chunk: Chunk,
  origin: { documentId: string; source: string },
  structure: PageStructure = {},
): Page {
  const hash = sha256(chunk.text);
  return {
    id: pageIdOf(hash),
    sha256: hash,
    documentId: origin.documentId,
    source: origin.source,
    ...chunk,
    ...structureOf(structure),
  };
}

/** A page in full, or its summary (about a tenth of its tokens). */
export type Resolution = 'full' | 'summary';

/** The levels of the hierarchy, named as the tool results name them. */
export type Level = 'L1' | 'L2' | 'L3' | 'L4';

/** What an evicted (or not admitted) page leaves behind: enough to recognise it and get it back. */
export interface Handle extends PageStructure {
  pageId: string;
  source: string;
  ordinal: number;
  tokens: number;
  gist: string;
  /** The page's summary, once it has one: what it says, in about a tenth of its tokens. */
  summary?: { text: string; tokens: number };
  /** Set when the page is only an earlier version's: the version of its source that replaced it. */
  supersededBy?: Superseded;
  reload: string;
}

/** The version that replaced a page's: a document id and when it was ingested (epoch ms). */
export interface Superseded {
  documentId: string;
  ingestedAt: number;
}

/** The line a superseded page's header and handle carry. */
export const supersededLine = (s: Superseded) =>
  `superseded by ${s.documentId} (ingested ${new Date(s.ingestedAt).toISOString()})`;

/** Metadata of a page without its text. */
export type PageMeta = Omit<Page, 'text'>;

const GIST_CHARS = 120;

/** A one-line gist: the page's first sentence, or its first words, on one line. */
export function gistOf(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return clip(firstSentence(flat, 20) ?? flat, GIST_CHARS);
}

/** The one tool call that brings pages (back) into context with their text. */
export const reloadCall = (pageIds: string[]) => `load_page ${JSON.stringify({ page_ids: pageIds })}`;

export function handleOf(
  meta: PageMeta,
  gist: string,
  summary?: { text: string; tokens: number },
  supersededBy?: Superseded,
): Handle {
  return {
    pageId: meta.id,
    source: meta.source,
    ordinal: meta.ordinal,
    ...structureOf(meta),
    tokens: meta.tokens,
    gist,
    ...(summary ? { summary: { text: summary.text, tokens: summary.tokens } } : {}),
    ...(supersededBy ? { supersededBy } : {}),
    reload: reloadCall([meta.id]),
  };
}
