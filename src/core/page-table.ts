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

/** The central index: page → facts, document → its pages in order. Pure data; the Catalog persists and shares it. */
export class PageTable {
  private readonly pages = new Map<string, PageEntry>();
  private readonly documents = new Map<string, DocumentEntry>();

  get(pageId: string): PageEntry | undefined {
    return this.pages.get(pageId);
  }

  has(pageId: string): boolean {
    return this.pages.has(pageId);
  }

  document(id: string): DocumentEntry | undefined {
    return this.documents.get(id);
  }

  listPages(): PageEntry[] {
    return [...this.pages.values()];
  }

  listDocuments(): DocumentEntry[] {
    return [...this.documents.values()];
  }

  get pageCount(): number {
    return this.pages.size;
  }

  /** Adds a page; a page already known (same content) keeps its first origin and its stats. */
  addPage(entry: PageEntry): PageEntry {
    const existing = this.pages.get(entry.id);
    if (existing) {
      existing.stored ||= entry.stored;
      existing.indexed ||= entry.indexed;
      return existing;
    }
    this.pages.set(entry.id, entry);
    return entry;
  }

  addDocument(doc: DocumentEntry): void {
    this.documents.set(doc.id, doc);
  }

  /** Records a page's summary; the first one stays (a page is summarized once, a later one is a duplicate). */
  setSummary(pageId: string, summary: PageSummary): boolean {
    const e = this.pages.get(pageId);
    if (!e || e.summary) return false;
    e.summary = summary;
    return true;
  }

  /** Adds access statistics: accesses, the faults among them (accesses that went below L1), the latest time. */
  addStats(pageId: string, accesses: number, faults: number, lastAccess: number): void {
    const e = this.pages.get(pageId);
    if (!e) return;
    e.accessCount += accesses;
    e.faultCount += faults;
    e.lastAccess = Math.max(e.lastAccess, lastAccess);
  }
}
