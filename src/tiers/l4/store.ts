import type { Page } from '../../core/page.js';

/**
 * Kinds of small JSON records L4 keeps beside pages: snapshots, page summaries, and manifests (the
 * documents each ingest batch recorded, from which reindex rebuilds the page table's documents).
 */
export const RECORD_KINDS = ['snapshots', 'summaries', 'manifests'] as const;
export type RecordKind = (typeof RECORD_KINDS)[number];

/**
 * L4, the durable store and source of truth: every page ever ingested, written atomically before any
 * index points at it. Everything above it can be rebuilt from it.
 */
export interface L4Store {
  readonly name: string;
  /** Stores pages durably; storing a page that exists is a no-op (pages are immutable). */
  putPages(pages: Page[]): Promise<void>;
  /** Pages in the order of `ids`; undefined for a page that is not stored. Throws on a corrupt page. */
  getPages(ids: string[]): Promise<(Page | undefined)[]>;
  hasPage(id: string): Promise<boolean>;
  /** Every stored page id, for rebuilding indexes. */
  listPageIds(): Promise<string[]>;
  /** Removes pages (forgotten ones); a page not stored is no error. */
  deletePages(ids: string[]): Promise<void>;
  putRecord(kind: RecordKind, id: string, json: string): Promise<void>;
  getRecord(kind: RecordKind, id: string): Promise<string | undefined>;
  listRecords(kind: RecordKind): Promise<string[]>;
  /** Removes a record; an absent one is no error. */
  deleteRecord(kind: RecordKind, id: string): Promise<void>;
}
