import type { PageMeta } from './page.js';

/** The shared facts about one page: where it is stored, how it is used. Not any session's residency. */
export interface PageEntry extends PageMeta {
  gist: string;
  /** Held durably by L4. */
  stored: boolean;
  /** Searchable in L3. */
  indexed: boolean;
  accessCount: number;
  faultCount: number;
  /** Epoch milliseconds of the last access, 0 if never. */
  lastAccess: number;
  summary?: PageSummary;
}

/** A compressed version of a page, made after its first eviction. */
export interface PageSummary {
  text: string;
  tokens: number;
  /** The compressor that made it, e.g. `extractive` or `openai:gpt-4o-mini`. */
  by: string;
  /** Epoch milliseconds. */
  at: number;
}

export interface DocumentEntry {
  id: string;
  source: string;
  tokens: number;
  bytes: number;
  pageIds: string[];
  ingestedAt: number;
}
