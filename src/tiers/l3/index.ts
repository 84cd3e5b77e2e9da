import type { PageMeta } from '../../core/page.js';
import type { Networked } from '../status.js';

/** What an item of L3 holds: a page's text, or its summary's (so a fault can match a page through its summary). */
export type ItemKind = 'page' | 'summary';

/** A page (or its summary) as L3 indexes it. */
export interface IndexItem {
  meta: PageMeta;
  text: string;
  /** Absent: 'page'. */
  kind?: ItemKind;
}

export interface Hit {
  pageId: string;
  kind: ItemKind;
  score: number;
}

/**
 * How the L3 stores name an item on disk (the embedded index's log, Chroma's ids): the page id, plus this suffix
 * for a summary. Only the L3 backends encode and decode it.
 */
const SUMMARY_SUFFIX = '~summary';

export function keyOf(pageId: string, kind: ItemKind = 'page'): string {
  return kind === 'summary' ? `${pageId}${SUMMARY_SUFFIX}` : pageId;
}

export function itemOfKey(key: string): { pageId: string; kind: ItemKind } {
  return key.endsWith(SUMMARY_SUFFIX)
    ? { pageId: key.slice(0, -SUMMARY_SUFFIX.length), kind: 'summary' }
    : { pageId: key, kind: 'page' };
}

/**
 * L3, the semantic swap: finds pages by what they say. Shared by every session and process that
 * points at the same store. Upserts are idempotent (pages are immutable, ids are content hashes).
 */
export interface L3Index extends Networked {
  upsert(items: IndexItem[]): Promise<void>;
  /** Best items for `query`, best first: a page may come twice, once through its summary. */
  query(query: string, k: number): Promise<Hit[]>;
  /**
   * Makes pages (and their summaries) unfindable: forgotten pages, and pages only superseded versions hold.
   * A page upserted again afterwards is findable again.
   */
  remove(pageIds: string[]): Promise<void>;
  /** Whether the page (or, with kind 'summary', its summary) is indexed. */
  has(pageId: string, kind?: ItemKind): boolean;
  size(): number;
  /**
   * The part of this index kept in the data dir, when the rest is shared (the hybrid's embedded side, beside a
   * Chroma every node shares); absent when all of it is local. What other nodes brought is added here only.
   */
  local?(): L3Index;
  /** The networked parts inside this index that report their own outages (the hybrid's embedded side). */
  within?(): Networked[];
  /** Makes every upsert so far durable. */
  flush(): Promise<void>;
  close(): Promise<void>;
}
