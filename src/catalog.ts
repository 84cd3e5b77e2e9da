import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { mkdir } from 'node:fs/promises';
import { type ApplyContext, applyChange, type Change, type Outcome } from './catalog/changes.js';
import {
  addLifecycle,
  changeKey,
  documentOfRow,
  dropOfRow,
  importLegacyLog,
  num,
  pageOfRow,
  REPLICA,
  SCHEMA,
  type SourceListing,
  type Statements,
  type StatsRow,
  statements,
  type Totals,
  totalsOfRow,
} from './catalog/schema.js';
import { compareIds, LOG_PAGE, LOG_START, type LogEntry, type SharedLog } from './catalog/shared-log.js';
import type { DocumentEntry, DroppedPage, PageEntry, PageSummary } from './core/page-table.js';
import { dataDirLayout } from './data-dir.js';
import { PageTableUnavailableError } from './errors.js';
import { type Database, dataVersion, ensureSchema, openDatabase, transaction } from './store/sqlite.js';
import type { ItemKind } from './tiers/l3/index.js';
import type { Networked } from './tiers/status.js';

export type { SourceListing, StatsRow, Totals } from './catalog/schema.js';
export { statsIn } from './catalog/schema.js';

/** How often a process looks for the others' commits (one PRAGMA read when nothing changed). */
const POLL_MS = 200;
const STATS_FLUSH_MS = 2000;

/**
 * The page table: page → facts, document → its pages in order, read from the catalog's database on each call.
 * Entries are copies: changing one changes nothing; the Catalog records facts. This process's access
 * statistics not yet written are added in, so it sees its own accesses at once.
 */
export class PageTable {
  /** @internal */
  constructor(
    private readonly sql: Statements,
    private readonly pending: ReadonlyMap<string, readonly [number, number, number]>,
  ) {}

  get(pageId: string): PageEntry | undefined {
    const r = this.sql.page.get(pageId);
    if (!r) return undefined;
    const e = this.withPending(pageOfRow(r));
    if (r.superseded_by) {
      const by = String(r.superseded_by);
      e.supersededBy = { documentId: by, ingestedAt: num(this.sql.document.get(by)?.ingested_at) };
    }
    return e;
  }

  /** Whether a current document holds the page: pages only superseded versions hold are not ranked. */
  isCurrent(pageId: string): boolean {
    return num(this.sql.currentRefs.get(pageId)?.current_refs) > 0;
  }

  /** The record of a page's leaving the store (the latest, if it left more than once), or undefined. */
  dropped(pageId: string): DroppedPage | undefined {
    const r = this.sql.lastDrop.get(pageId);
    return r && dropOfRow(r);
  }

  /** Whether a source or document id was forgotten (wholly or in part) before: a scan of the drops log, for errors. */
  wasForgotten(target: string): boolean {
    return !!this.sql.forgottenAs.get(target, target);
  }

  /** The current version of a source, if the store holds one. */
  currentOf(source: string): DocumentEntry | undefined {
    const r = this.sql.currentOf.get(source);
    return r && documentOfRow(r);
  }

  /** Every version of a source the store holds, oldest first. */
  versionsOf(source: string): DocumentEntry[] {
    return this.sql.versionsOf.all(source).map(documentOfRow);
  }

  /** Up to `limit` sources after `after` (in code-point order), with their versions and current version. */
  sources({ after = '', limit }: { after?: string; limit: number }): SourceListing[] {
    return this.sql.sourcesAfter.all(after, limit).map((r) => {
      const source = String(r.source);
      const cur = this.currentOf(source);
      return {
        source,
        versions: num(r.versions),
        ...(cur
          ? { current: { id: cur.id, pages: cur.pageIds.length, tokens: cur.tokens, ingestedAt: cur.ingestedAt } }
          : {}),
      };
    });
  }

  has(pageId: string): boolean {
    return this.sql.hasPage.get(pageId) !== undefined;
  }

  document(id: string): DocumentEntry | undefined {
    const r = this.sql.document.get(id);
    return r && documentOfRow(r);
  }

  /** Up to `limit` documents recorded after cursor `after` (0: from the first), in order, each with its cursor. */
  documents({ after = 0, limit }: { after?: number; limit: number }): (DocumentEntry & { cursor: number })[] {
    return this.sql.documentsFrom.all(after, limit).map((r) => ({ ...documentOfRow(r), cursor: num(r.seq) }));
  }

  /** Up to `limit` pages recorded after cursor `after` (0: from the first), in order, each with its cursor. */
  pages({ after = 0, limit }: { after?: number; limit: number }): (PageEntry & { cursor: number })[] {
    return this.sql.pagesFrom
      .all(after, limit)
      .map((r) => Object.assign(this.withPending(pageOfRow(r)), { cursor: num(r.rowid) }));
  }

  get pageCount(): number {
    return this.totals().pages;
  }

  get documentCount(): number {
    return this.totals().documents;
  }

  /** The store's totals, this process's unwritten accesses included. */
  totals(): Totals {
    const t = totalsOfRow(this.sql.totals.get());
    for (const [accesses, faults] of this.pending.values()) {
      t.accesses += accesses;
      t.faults += faults;
    }
    return t;
  }

  private withPending(e: PageEntry): PageEntry {
    const p = this.pending.get(e.id);
    if (p) {
      e.accessCount += p[0];
      e.faultCount += p[1];
      e.lastAccess = Math.max(e.lastAccess, p[2]);
    }
    return e;
  }
}

/** Options of Catalog.open; tests pass a connection whose writes fail. */
export interface CatalogOptions {
  openDb?: (file: string) => Database;
  /**
   * The page table's log on the network, shared with vmem on other machines: this data dir's database is then
   * this node's copy of it (`catalog-replica.db`), kept up to date by following the log.
   */
  shared?: SharedLog;
}

/** Facts of a copy of a shared page table: its log's generation, the last entry applied, this node's id. */
const GENERATION = 'shared generation';
const APPLIED = 'shared applied';
const NODE = 'node';

/** How long a follower's blocking read waits before it looks again at the generation (and at being closed). */
const FOLLOW_BLOCK_MS = 1000;
/** Delay before following again after the log did not answer. */
const FOLLOW_RETRY_MS = 1000;

const NOTHING: Outcome = { revived: [], dropped: [] };

/**
 * The page table of a data dir, one SQLite database (`catalog.db`, WAL), shared by every process on the data dir:
 * opening it reads nothing but its schema, and each read is a query, so neither the time to open nor the memory
 * of a process grows with the store. Every write is a change (see catalog/changes.ts) applied in one transaction,
 * durable before the call returns; facts are only added (statistics as deltas, so processes add up; the first
 * summary stays), so there is no last-writer-wins. A process notices the others' commits by polling SQLite's data
 * version, and emits 'changed' when they brought pages, documents or summaries, and 'dropped' with the ids of pages
 * that left the store.
 *
 * Shared over the network (`shared`, VMEM_CATALOG_URL), the page table is a log every node follows (see
 * catalog/shared-log.ts), and the database is this node's copy: a change is appended to the log, then the copy
 * applies every entry up to it, in log order, before the call returns; entries other nodes append are applied
 * as they arrive (emitting the same events, and 'remote'): what they brought for L3 is queued for this node to
 * index, what they dropped or superseded is this node's to purge from its L3. Reads stay local queries.
 */
export class Catalog extends EventEmitter {
  readonly table: PageTable;
  private readonly sql: Statements;
  private readonly pendingStats = new Map<string, [number, number, number]>();
  private statsTimer: NodeJS.Timeout | undefined;
  private readonly pollTimer: NodeJS.Timeout;
  private version: number;
  /** The change key as of this process's last look: a different one means another process added something. */
  private seen: string;
  private closed = false;
  /** The last entry of the drops log this process has announced ('dropped'). */
  private seenDrop: number;
  /** Shared: this node's id (kept in the copy's facts, so every process on the data dir is the same node). */
  private readonly node: string;
  /** Shared: entries are applied one batch at a time in this process. */
  private applying: Promise<void> = Promise.resolve();
  private following: Promise<void> | undefined;
  /** Shared: entries this process appended and has yet to apply (its own changes are not announced to it). */
  private readonly appended = new Set<string>();

  private constructor(
    private readonly db: Database,
    private readonly log: SharedLog | undefined,
  ) {
    super();
    this.sql = statements(db);
    this.table = new PageTable(this.sql, this.pendingStats);
    this.version = dataVersion(db);
    this.seen = changeKey(this.table.totals());
    this.seenDrop = num(this.sql.lastDropSeq.get()?.n);
    this.node = log ? this.nodeId() : '';
    this.pollTimer = setInterval(() => this.poll(), POLL_MS);
    this.pollTimer.unref();
  }

  /**
   * Opens (creating it if need be) the data dir's page table. A page table written by an earlier vmem as
   * `catalog.jsonl` is imported first, once, however many processes open it at the same time. Shared, the copy
   * is brought up to date with the log before this returns; a copy of another generation starts again.
   */
  static async open(dataDir: string, { openDb = openDatabase, shared }: CatalogOptions = {}): Promise<Catalog> {
    const layout = dataDirLayout(dataDir);
    await mkdir(dataDir, { recursive: true });
    const db = openDb(shared ? layout.replica : layout.catalog);
    // A copy of the shared log is rebuilt from it: a commit lost with the machine is applied again from the log
    // (the last entry applied is written in the same transaction), so it need not wait for the disk.
    if (shared) db.exec('PRAGMA synchronous = NORMAL');
    try {
      ensureSchema(db, 'facts', SCHEMA);
      db.exec(REPLICA);
      if (!shared) await importLegacyLog(db, layout.legacyCatalog);
      addLifecycle(db);
    } catch (err) {
      db.close();
      throw err;
    }
    const catalog = new Catalog(db, shared);
    if (shared) {
      try {
        catalog.startOver(shared.generation);
        await catalog.sync();
      } catch (err) {
        await catalog.close();
        throw err;
      }
      catalog.following = catalog.follow(shared);
    }
    return catalog;
  }

  /** The log of a page table shared over the network (its reachability), or undefined for one data dir's. */
  get shared(): Networked | undefined {
    return this.log;
  }

  /** Shared: makes this log's generation the one every node follows (reindex, once it is complete). */
  async publish(): Promise<void> {
    await this.log?.publish();
  }

  /** This node's id: made by the first process to open the copy. */
  private nodeId(): string {
    let node: string | undefined;
    transaction(this.db, () => {
      node = this.sql.fact.get(NODE)?.value as string | undefined;
      if (!node) this.sql.setFact.run(NODE, (node = `n${randomBytes(6).toString('hex')}`));
    });
    return node!;
  }

  /** Empties a copy made from another generation of the log (a reindex made a new one): it is rebuilt from this. */
  private startOver(generation: string): void {
    if (this.sql.fact.get(GENERATION)?.value === generation) return;
    let others = false;
    transaction(this.db, () => {
      if (this.sql.fact.get(GENERATION)?.value === generation) return;
      others = num(totalsOfRow(this.sql.totals.get()).documents) > 0;
      this.db.exec(`DELETE FROM pages; DELETE FROM documents; DELETE FROM drops; DELETE FROM unindex;
        DELETE FROM to_index; DELETE FROM outcomes;
        UPDATE totals SET documents = 0, pages = 0, tokens = 0, summaries = 0, summary_tokens = 0, accesses = 0, faults = 0`);
      this.sql.setFact.run(GENERATION, generation);
      this.sql.setFact.run(APPLIED, LOG_START);
    });
    this.seenDrop = num(this.sql.lastDropSeq.get()?.n);
    if (others) this.emit('changed');
  }

  /**
   * Looks for other processes' commits: a data version that moved, then the drops log (pages that left the
   * store: 'dropped'), then the totals, to see what they added.
   */
  private poll(): void {
    if (this.closed) return;
    try {
      const v = dataVersion(this.db);
      if (v === this.version) return;
      this.version = v;
      this.announce(true);
    } catch (err) {
      console.error(`vmem: reading the page table failed:`, err);
    }
  }

  /** Announces pages that left the store, then, when `others` added something, 'changed'. */
  private announce(others: boolean): void {
    this.announceDrops();
    const key = changeKey(totalsOfRow(this.sql.totals.get()));
    if (key === this.seen) return;
    this.seen = key;
    if (others) this.emit('changed');
  }

  /** Makes a change: applied here (one data dir), or appended to the shared log and applied up to it. */
  private async change(change: Change): Promise<Outcome> {
    if (!this.log) {
      let outcome = NOTHING;
      let others = false;
      transaction(this.db, () => {
        others = changeKey(totalsOfRow(this.sql.totals.get())) !== this.seen;
        outcome = applyChange(this.sql, change, { foreign: false });
        this.seen = changeKey(totalsOfRow(this.sql.totals.get()));
      });
      if (others) this.emit('changed');
      return outcome;
    }
    const id = await this.log.append(this.node, change);
    this.appended.add(id);
    try {
      await this.sync(id);
    } finally {
      this.appended.delete(id); // applied by the follower before it was added here
    }
    // Kept by whichever process of this node applied the entry (this one, or another on the data dir first).
    const row = this.sql.outcome.get(id);
    if (!row) return NOTHING;
    this.sql.dropOutcome.run(id);
    return JSON.parse(String(row.outcome)) as Outcome;
  }

  /**
   * Shared: brings this copy up to the end of the log, or up to entry `until` (applying the entries it lacks, in
   * order); one data dir: nothing to do. The purge calls it under its lock, so that it never judges a page gone
   * that another node has just recorded again.
   */
  sync(until?: string): Promise<void> {
    if (!this.log) return Promise.resolve();
    const log = this.log;
    return this.serially(async () => {
      // Applied already (this process's follower, or another process on the data dir, got there first).
      if (until && compareIds(this.applied(), until) >= 0) return;
      for (;;) {
        const entries = await log.after(this.applied());
        if (entries.length) this.apply(entries);
        if (entries.length < LOG_PAGE) return;
      }
    });
  }

  /** Runs `body` after every batch of entries this process started applying before it. */
  private serially(body: () => Promise<void>): Promise<void> {
    const run = this.applying.then(body);
    this.applying = run.catch(() => {});
    return run;
  }

  private applied(): string {
    return String(this.sql.fact.get(APPLIED)?.value ?? LOG_START);
  }

  /**
   * Applies entries in one transaction, skipping those another process on the data dir applied already. The
   * outcome of this node's own entries is kept for the process that appended them (see change).
   */
  private apply(entries: LogEntry[]): void {
    let others = false;
    let remote = false;
    transaction(this.db, () => {
      others = changeKey(totalsOfRow(this.sql.totals.get())) !== this.seen;
      let applied = this.applied();
      for (const e of entries) {
        if (compareIds(e.id, applied) <= 0) continue;
        const ctx: ApplyContext = { foreign: e.node !== this.node };
        const outcome = applyChange(this.sql, e.change, ctx);
        if (!ctx.foreign && (outcome.revived.length || outcome.dropped.length))
          this.sql.saveOutcome.run(e.id, JSON.stringify(outcome));
        if (!this.appended.delete(e.id) && e.change.t !== 'stats') others = true;
        if (ctx.foreign && e.change.t !== 'stats') remote = true;
        applied = e.id;
      }
      this.sql.setFact.run(APPLIED, applied);
    });
    this.announce(others);
    if (remote) this.emit('remote');
  }

  /**
   * Follows the shared log: waits for entries (a blocking read on a connection of its own), applies them, and
   * starts over when a reindex made another generation current. The log unreachable: retried every second.
   */
  private async follow(log: SharedLog): Promise<void> {
    let reported: string | undefined;
    while (!this.closed) {
      try {
        const current = await log.replaced();
        if (current) {
          await this.serially(async () => {
            log.follow(current);
            this.startOver(current);
          });
          await this.sync();
        }
        if (await log.wait(this.applied(), FOLLOW_BLOCK_MS)) await this.sync();
        reported = undefined;
      } catch (err) {
        if (this.closed) return;
        // The log unreachable is reported as the level's outage (see watchHealth); anything else (an entry this
        // vmem cannot apply) once, as it would otherwise be retried silently forever.
        const message = (err as Error).message;
        if (!(err instanceof PageTableUnavailableError) && message !== reported) {
          reported = message;
          console.error('vmem: applying the shared page table failed; retrying every second:', err);
        }
        await new Promise((r) => setTimeout(r, FOLLOW_RETRY_MS).unref());
      }
    }
  }

  /** Announces the drops log's new entries, once each, as 'dropped' with their page ids. */
  private announceDrops(): void {
    const last = num(this.sql.lastDropSeq.get()?.n);
    if (last <= this.seenDrop) return;
    const ids = new Set<string>();
    for (let after = this.seenDrop; after < last; ) {
      const rows = this.sql.dropsAfter.all(after, 1000);
      if (!rows.length) break;
      for (const r of rows) ids.add(String(r.page_id));
      after = num(rows.at(-1)!.seq);
    }
    this.seenDrop = last;
    if (ids.size) this.emit('dropped', [...ids]);
  }

  /**
   * Records documents as their sources' current versions, with their pages (every page of each: those the
   * store holds already gain a reference), in one transaction, durable before returning. A source's previous
   * current version becomes superseded; its pages that no current document holds any more are queued to leave
   * L3. A document recorded before (an earlier version ingested again) becomes current again. After a failed
   * write (a full disk) none of them is known, and a retry writes them again.
   *
   * Returns the pages to make findable and stored again, which their levels may have let go meanwhile: pages
   * that were a superseded version's only, and pages that had left the store (see Lifecycle.revive).
   */
  async addDocuments(docs: { doc: DocumentEntry; pages: PageEntry[] }[]): Promise<{ revived: string[] }> {
    const { revived } = await this.change({ t: 'add', docs });
    return { revived };
  }

  /**
   * Removes documents from the page table in one transaction: their rows, and their pages that no other
   * document holds, which are recorded in the drops log (`reason`) for every process and for the purge.
   * Returns the dropped page ids. Documents already gone are skipped, so a repeated call changes nothing.
   */
  async removeDocuments(ids: string[], reason: DroppedPage['reason']): Promise<string[]> {
    const { dropped } = await this.change({ t: 'remove', ids, reason, at: Date.now() });
    // This process's sessions learn of it as the others do, at once rather than at the next poll.
    this.announceDrops();
    return dropped;
  }

  /** Dropped pages whose levels may still hold them (a purge not yet done, or cut short), oldest first. */
  pendingPurges(limit: number): { seq: number; pageId: string }[] {
    return this.sql.pendingPurges.all(limit).map((r) => ({ seq: num(r.seq), pageId: String(r.page_id) }));
  }

  /**
   * Records that dropped pages' levels no longer hold them. This node's own bookkeeping, never shared: each node
   * purges what it holds (its L3), and the shared levels again, which changes nothing.
   */
  async purged(seqs: number[]): Promise<void> {
    if (seqs.length) this.local(() => seqs.forEach((s) => this.sql.markPurged.run(s)));
  }

  /** Pages queued to leave L3 (a superseded version's only), up to `limit`. */
  unindexQueue(limit: number): string[] {
    return this.sql.unindexQueue.all(limit).map((r) => String(r.page_id));
  }

  /** Takes pages off the L3 queue, once the purge has dealt with them (this node's own bookkeeping). */
  async unqueue(pageIds: string[]): Promise<void> {
    if (pageIds.length) this.local(() => pageIds.forEach((id) => this.sql.unqueueUnindex.run(id)));
  }

  /** Shared: pages and summaries other nodes brought that this node's L3 is yet to index, up to `limit`. */
  indexQueue(limit: number): { pageId: string; kind: ItemKind }[] {
    return this.sql.indexQueue.all(limit).map((r) => ({ pageId: String(r.page_id), kind: String(r.kind) as ItemKind }));
  }

  /** Shared: takes items off the index queue once this node's L3 holds them. */
  async indexed(items: { pageId: string; kind: ItemKind }[]): Promise<void> {
    if (items.length) this.local(() => items.forEach((it) => this.sql.unqueueIndex.run(it.pageId, it.kind)));
  }

  /** A write of this data dir's own (never shared). */
  private local(body: () => void): void {
    transaction(this.db, body);
  }

  /** Superseded documents, superseded at or before `before`, after cursor `after`: the candidates for collection. */
  superseded(before: number, after: number, limit: number): (DocumentEntry & { cursor: number })[] {
    return this.sql.collectable.all(before, after, limit).map((r) => ({ ...documentOfRow(r), cursor: num(r.seq) }));
  }

  /** Records a page's summary, durable before returning; a page that has one keeps it. */
  async addSummary(pageId: string, summary: PageSummary): Promise<void> {
    await this.change({ t: 'summary', pageId, summary });
  }

  /** Adds access statistics gathered elsewhere (reindex carrying them over), durable before returning. */
  async addStats(rows: StatsRow[]): Promise<void> {
    if (rows.length) await this.change({ t: 'stats', rows });
  }

  /** Counts an access now; access statistics reach the database in batches, not one write per fault. */
  recordAccess(pageId: string, at: number, fault: boolean): void {
    this.addPending(pageId, 1, fault ? 1 : 0, at);
    if (!this.statsTimer) {
      this.statsTimer = setTimeout(
        () => void this.flush().catch((err: unknown) => console.error('vmem: saving access statistics failed:', err)),
        STATS_FLUSH_MS,
      );
      this.statsTimer.unref();
    }
  }

  private addPending(pageId: string, accesses: number, faults: number, at: number): void {
    const s = this.pendingStats.get(pageId) ?? [0, 0, 0];
    this.pendingStats.set(pageId, [s[0] + accesses, s[1] + faults, Math.max(s[2], at)]);
  }

  /** Writes pending statistics, as deltas: another process's accesses to the same pages add up with these. */
  async flush(): Promise<void> {
    if (this.statsTimer) clearTimeout(this.statsTimer);
    this.statsTimer = undefined;
    if (!this.pendingStats.size || this.closed) return;
    const rows = [...this.pendingStats].map(([id, [a, f, at]]): StatsRow => [id, a, f, at]);
    this.pendingStats.clear();
    try {
      await this.addStats(rows);
    } catch (err) {
      // Kept for the next flush: accesses made meanwhile add to them.
      for (const [id, a, f, at] of rows) this.addPending(id, a, f, at);
      throw err;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    try {
      await this.flush();
    } finally {
      this.closed = true;
      clearInterval(this.pollTimer);
      await this.log?.close();
      await this.following;
      await this.applying;
      this.db.close();
    }
  }
}
