import type { PageMeta, Superseded } from './page.js';

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
  /** Set when no current document holds the page any more: the version that replaced the one that did. */
  supersededBy?: Superseded;
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
  /** The later version of the same source that replaced this one; absent while it is current. */
  supersededBy?: string;
}

/** A page that left the store (forgotten, or collected as a superseded version's), as the page table records it. */
export interface DroppedPage {
  pageId: string;
  documentId: string;
  source: string;
  reason: 'forgotten' | 'collected';
  /** Epoch milliseconds. */
  at: number;
}

/** How errors name a page that left the store: when, why, and with which document. */
export const droppedText = (d: DroppedPage) =>
  `page ${d.pageId} was ${d.reason} with document ${d.documentId} (${d.source}) at ${new Date(d.at).toISOString()}`;
