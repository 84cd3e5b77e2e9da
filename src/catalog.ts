import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { access } from 'node:fs/promises';
import { dirname } from 'node:path';
import { type DocumentEntry, type PageEntry, type PageSummary, PageTable } from './core/page-table.js';
import { dataDirLayout } from './data-dir.js';
import { tempDirOf } from './store/atomic-file.js';
import { JsonlLog } from './store/jsonl-log.js';

/** A page's access statistics, or a delta of them: accesses, the faults among them, the latest access. */
export type StatsRow = [id: string, accesses: number, faults: number, lastAccess: number];

/** Shared facts as they are logged; stats are deltas, so concurrent processes add up instead of overwriting. */
export type CatalogRecord =
  | { t: 'doc'; w: string; doc: DocumentEntry; pages: PageEntry[] }
  | { t: 'stats'; w: string; s: StatsRow[] }
  | { t: 'summary'; w: string; id: string; summary: PageSummary };

/**
 * The access statistics a catalog log holds, summed per page, or undefined when there is no such log.
 * Access statistics are no L4 fact: reindex carries them over from the log it sets aside with this.
 */
export async function statsIn(path: string): Promise<StatsRow[] | undefined> {
  if (
    !(await access(path).then(
      () => true,
      () => false,
    ))
  )
    return undefined;
  const sums = new Map<string, StatsRow>();
  for (const r of await new JsonlLog<CatalogRecord>(path, tempDirOf(dirname(path))).read()) {
    if (r.t !== 'stats') continue;
    for (const [id, accesses, faults, at] of r.s) {
      const s = sums.get(id) ?? [id, 0, 0, 0];
      sums.set(id, [id, s[1] + accesses, s[2] + faults, Math.max(s[3], at)]);
    }
  }
  return [...sums.values()];
}

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

  /** `log`: the data dir's catalog log unless given (tests pass one whose appends fail). */
  static async open(
    dataDir: string,
    log = new JsonlLog<CatalogRecord>(dataDirLayout(dataDir).catalog, tempDirOf(dataDir)),
  ): Promise<Catalog> {
    const catalog = new Catalog(log);
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

  /**
   * Records documents and their new pages, durably, before returning. The table gains them only once their
   * append is durable: after a failed append (a full disk) they are unknown, and a retry writes them again.
   */
  async addDocuments(docs: { doc: DocumentEntry; pages: PageEntry[] }[]): Promise<void> {
    // Copies, taken now: the live entries gain statistics, which the log keeps in 'stats' records.
    const records: CatalogRecord[] = docs.map(({ doc, pages }) => ({
      t: 'doc',
      w: this.writer,
      doc: { ...doc },
      pages: pages.map((p) => ({ ...p, accessCount: 0, faultCount: 0, lastAccess: 0 })),
    }));
    await this.write(records);
    for (const { doc, pages } of docs) {
      for (const p of pages) this.table.addPage(p);
      this.table.addDocument(doc);
    }
  }

  /** Records a page's summary, durably, before returning (and in the table once it is durable). */
  async addSummary(pageId: string, summary: PageSummary): Promise<void> {
    const entry = this.table.get(pageId);
    if (!entry || entry.summary) return;
    await this.write([{ t: 'summary', w: this.writer, id: pageId, summary }]);
    this.table.setSummary(pageId, summary);
  }

  /** Adds access statistics gathered elsewhere (reindex carrying them over), durably, before returning. */
  async addStats(rows: StatsRow[]): Promise<void> {
    const known = rows.filter(([id]) => this.table.has(id));
    if (!known.length) return;
    await this.write([{ t: 'stats', w: this.writer, s: known }]);
    for (const [id, accesses, faults, at] of known) this.table.addStats(id, accesses, faults, at);
  }

  /** Counts an access now; access statistics reach the log in batches, not one write per fault. */
  recordAccess(pageId: string, at: number, fault: boolean): void {
    if (!this.table.has(pageId)) return;
    this.table.addStats(pageId, 1, fault ? 1 : 0, at);
    const s = this.pendingStats.get(pageId) ?? [0, 0, 0];
    this.pendingStats.set(pageId, [s[0] + 1, s[1] + (fault ? 1 : 0), Math.max(s[2], at)]);
    if (!this.statsTimer) {
      this.statsTimer = setTimeout(
        () => void this.flush().catch((err: unknown) => console.error('vmem: saving access statistics failed:', err)),
        STATS_FLUSH_MS,
      );
      this.statsTimer.unref();
    }
  }

  /** Writes pending statistics. */
  async flush(): Promise<void> {
    if (this.statsTimer) clearTimeout(this.statsTimer);
    this.statsTimer = undefined;
    // Waits for writes in flight; a failed one has already failed its own caller.
    if (!this.pendingStats.size) return this.writing.catch(() => {});
    const s = [...this.pendingStats].map(([id, [a, f, at]]): StatsRow => [id, a, f, at]);
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
