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
  summary?: string;
}

export interface DocumentEntry {
  id: string;
  source: string;
  tokens: number;
  bytes: number;
  pageIds: string[];
  ingestedAt: number;
}

export interface PageTableData {
  format: 'vmem-page-table/1';
  documents: DocumentEntry[];
  pages: PageEntry[];
}

/** The central index: page → facts, document → its pages in order. Pure data; the pager persists it. */
export class PageTable {
  private readonly pages = new Map<string, PageEntry>();
  private readonly documents = new Map<string, DocumentEntry>();

  static fromJSON(data: PageTableData): PageTable {
    if (data.format !== 'vmem-page-table/1') throw new Error(`unknown page table format ${String(data.format)}`);
    const t = new PageTable();
    for (const p of data.pages) t.pages.set(p.id, p);
    for (const d of data.documents) t.documents.set(d.id, d);
    return t;
  }

  toJSON(): PageTableData {
    return { format: 'vmem-page-table/1', documents: [...this.documents.values()], pages: [...this.pages.values()] };
  }

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

  /** Records an access; a fault is an access that had to go below L1. */
  recordAccess(pageId: string, at: number, fault: boolean): void {
    const e = this.pages.get(pageId);
    if (!e) return;
    e.accessCount++;
    if (fault) e.faultCount++;
    e.lastAccess = at;
  }
}
