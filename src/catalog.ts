import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import { PageTable, type DocumentEntry, type PageEntry, type PageSummary } from './core/page-table.js';
import { JsonlLog } from './store/jsonl-log.js';

/** Shared facts as they are logged; stats are deltas, so concurrent processes add up instead of overwriting. */
type CatalogRecord =
  | { t: 'doc'; w: string; doc: DocumentEntry; pages: PageEntry[] }
  | { t: 'stats'; w: string; s: [id: string, accesses: number, faults: number, lastAccess: number][] }
  | { t: 'summary'; w: string; id: string; summary: PageSummary };

const STATS_FLUSH_MS = 2000;

/**
 * The page table, shared by every process on one data dir through an append-only log
 * (`catalog.jsonl`): each process replays it at start, appends what it learns under a file lock,
 * and follows the others' appends, emitting 'changed' when they bring pages. Nothing is ever
 * overwritten, so there is no last-writer-wins.
 */
export class Catalog extends EventEmitter {
  readonly table = new PageTable();
  /** Tells this process's records from the others' when following the log. */
  private readonly writer = randomUUID();
  private readonly pendingStats = new Map<string, [number, number, number]>();
  private statsTimer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();

  private constructor(private readonly log: JsonlLog<CatalogRecord>) {
    super();
  }

  static async open(dataDir: string): Promise<Catalog> {
    const catalog = new Catalog(new JsonlLog<CatalogRecord>(join(dataDir, 'catalog.jsonl')));
    catalog.apply(await catalog.log.read(), true);
    catalog.log.follow((records) => catalog.apply(records, false));
    return catalog;
  }

  private apply(records: CatalogRecord[], initial: boolean): void {
    let pages = false;
    for (const r of records) {
      if (!initial && r.w === this.writer) continue; // already applied when it was written
      if (r.t === 'doc') {
        for (const p of r.pages) this.table.addPage(p);
        this.table.addDocument(r.doc);
        pages = true;
      } else if (r.t === 'stats') {
        for (const [id, accesses, faults, at] of r.s) this.table.addStats(id, accesses, faults, at);
      } else if (r.t === 'summary') {
        pages = this.table.setSummary(r.id, r.summary) || pages;
      }
    }
    if (pages && !initial) this.emit('changed');
  }

  /** Records documents and their new pages, durably, before returning. */
  async addDocuments(docs: { doc: DocumentEntry; pages: PageEntry[] }[]): Promise<void> {
    const records: CatalogRecord[] = docs.map(({ doc, pages }) => {
      for (const p of pages) this.table.addPage(p);
      this.table.addDocument(doc);
      // Copies, taken now: the live entries gain statistics, which the log keeps in 'stats' records.
      const logged = pages.map((p) => ({ ...p, accessCount: 0, faultCount: 0, lastAccess: 0 }));
      return { t: 'doc', w: this.writer, doc: { ...doc }, pages: logged };
    });
    await this.write(records);
  }

  /** Records a page's summary, durably, before returning. */
  async addSummary(pageId: string, summary: PageSummary): Promise<void> {
    if (!this.table.setSummary(pageId, summary)) return;
    await this.write([{ t: 'summary', w: this.writer, id: pageId, summary }]);
  }

  /** Counts an access now; access statistics reach the log in batches, not one write per fault. */
  recordAccess(pageId: string, at: number, fault: boolean): void {
    if (!this.table.has(pageId)) return;
    this.table.addStats(pageId, 1, fault ? 1 : 0, at);
    const s = this.pendingStats.get(pageId) ?? [0, 0, 0];
    this.pendingStats.set(pageId, [s[0] + 1, s[1] + (fault ? 1 : 0), Math.max(s[2], at)]);
    if (!this.statsTimer) {
      this.statsTimer = setTimeout(() => void this.flush().catch((err: unknown) => console.error('vmem: saving access statistics failed:', err)), STATS_FLUSH_MS);
      this.statsTimer.unref();
    }
  }

  /** Writes pending statistics. */
  async flush(): Promise<void> {
    if (this.statsTimer) clearTimeout(this.statsTimer);
    this.statsTimer = undefined;
    if (!this.pendingStats.size) return this.writing;
    const s = [...this.pendingStats].map(([id, [a, f, at]]) => [id, a, f, at] as [string, number, number, number]);
    this.pendingStats.clear();
    await this.write([{ t: 'stats', w: this.writer, s }]);
  }

  private async write(records: CatalogRecord[]): Promise<void> {
    // Appends from this process go one after another, in the order they were made.
    this.writing = this.writing.catch(() => {}).then(() => this.log.append(records));
    await this.writing;
  }

  async close(): Promise<void> {
    await this.flush();
    this.log.unfollow();
  }
}
