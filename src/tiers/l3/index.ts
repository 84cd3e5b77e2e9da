import type { PageMeta } from '../../core/page.js';
import type { Networked } from '../status.js';

/** A page as L3 indexes it. */
export interface IndexItem {
  meta: PageMeta;
  text: string;
}

export interface Hit {
  pageId: string;
  score: number;
}

/**
 * L3, the semantic swap: finds pages by what they say. Shared by every session and process that
 * points at the same store. Upserts are idempotent (pages are immutable, ids are content hashes).
 */
export interface L3Index extends Networked {
  upsert(items: IndexItem[]): Promise<void>;
  /** Best pages for `query`, best first. */
  query(query: string, k: number): Promise<Hit[]>;
  has(pageId: string): boolean;
  size(): number;
  /** Makes every upsert so far durable. */
  flush(): Promise<void>;
  close(): Promise<void>;
}
