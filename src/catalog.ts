import { EventEmitter } from 'node:events';
import { mkdir, rename } from 'node:fs/promises';
import type { PageMeta } from './core/page.js';
import type { DocumentEntry, DroppedPage, PageEntry, PageSummary } from './core/page-table.js';
import { CATALOG_FILE, dataDirLayout, LEGACY_CATALOG_FILE } from './data-dir.js';
import { InternalError } from './errors.js';
import { exists } from './store/atomic-file.js';
import { jsonLines } from './store/json-lines.js';
import { type Database, dataVersion, ensureSchema, openDatabase, type Row, transaction } from './store/sqlite.js';

/** A page's access statistics, or a delta of them: accesses, the faults among them, the latest access. */
export type StatsRow = [id: string, accesses: number, faults: number, lastAccess: number];

/** What the whole store holds, kept in one row beside the tables, so reading it costs the same at any size. */
export interface Totals {
  documents: number;
  pages: number;
  /** Tokens of all pages. */
  tokens: number;
  /** Pages with a summary, and the summaries' tokens. */
  summaries: number;
  summaryTokens: number;
  accesses: number;
  faults: number;
}

/**
 * One database file per data dir. Pages and documents are rows; `totals` is one row of running sums, updated in
 * the same transaction as the rows it counts; `facts` holds one-off markers (the import of a legacy log).
 * Pages and documents list in rowid order (`seq` is the documents' rowid), read after a cursor (the last rowid
 * shown): forgetting deletes rows, so positions shift but cursors do not.
 *
 * Versions (see LIFECYCLE): a document is current until a later ingest of the same source supersedes it
 * (`superseded_by`). A page counts the documents holding it (`refs`) and the current ones among them
 * (`current_refs`): at 0 current it is a superseded version's page (`superseded_by` names the version that
 * replaced it), at 0 in all it leaves the store, recorded in `drops` for every process to see.
 */
/**
 * What versions and forgetting add. `drops` is the log of pages that left the store, read by every process (its
 * sessions drop them from L1) and by the purge, which removes them from L2, L3 and L4 and then sets `purged`: a purge
 * cut short is finished by the next. `unindex` holds pages that became a superseded version's only, to leave L3.
 */
const LIFECYCLE = `
CREATE INDEX IF NOT EXISTS documents_by_source ON documents (source, superseded_by);
CREATE TABLE IF NOT EXISTS drops (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  page_id TEXT NOT NULL,
  document_id TEXT NOT NULL,
  source TEXT NOT NULL,
  reason TEXT NOT NULL,
  at INTEGER NOT NULL,
  purged INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS drops_by_page ON drops (page_id);
CREATE INDEX IF NOT EXISTS drops_pending ON drops (purged, seq);
CREATE TABLE IF NOT EXISTS unindex (page_id TEXT PRIMARY KEY);
`;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS pages (
  id TEXT PRIMARY KEY,
  meta TEXT NOT NULL,
  gist TEXT NOT NULL,
  tokens INTEGER NOT NULL,
  stored INTEGER NOT NULL,
  indexed INTEGER NOT NULL,
  access_count INTEGER NOT NULL DEFAULT 0,
  fault_count INTEGER NOT NULL DEFAULT 0,
  last_access INTEGER NOT NULL DEFAULT 0,
  summary TEXT,
  summary_tokens INTEGER,
  refs INTEGER NOT NULL DEFAULT 0,
  current_refs INTEGER NOT NULL DEFAULT 0,
  superseded_by TEXT
);
CREATE TABLE IF NOT EXISTS documents (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  source TEXT NOT NULL,
  tokens INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  ingested_at INTEGER NOT NULL,
  page_ids TEXT NOT NULL,
  superseded_by TEXT,
  superseded_at INTEGER
);
CREATE TABLE IF NOT EXISTS totals (
  one INTEGER PRIMARY KEY CHECK (one = 1),
  documents INTEGER NOT NULL,
  pages INTEGER NOT NULL,
  tokens INTEGER NOT NULL,
  summaries INTEGER NOT NULL,
  summary_tokens INTEGER NOT NULL,
  accesses INTEGER NOT NULL,
  faults INTEGER NOT NULL
);
INSERT OR IGNORE INTO totals VALUES (1, 0, 0, 0, 0, 0, 0, 0);
${LIFECYCLE}
-- Last: its presence says the schema is complete.
CREATE TABLE IF NOT EXISTS facts (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`;

/** How often a process looks for the others' commits (one PRAGMA read when nothing changed). */
const POLL_MS = 200;
const STATS_FLUSH_MS = 2000;

const num = (v: unknown) => Number(v ?? 0);

/** The SQL a catalog runs, prepared once per connection. */
function statements(db: Database) {
  const q = (sql: string) => db.prepare(sql);
  return {
    page: q('SELECT * FROM pages WHERE id = ?'),
    hasPage: q('SELECT 1 AS one FROM pages WHERE id = ?'),
    // Asked of every hit of a fault: the one column, not the row.
    currentRefs: q('SELECT current_refs FROM pages WHERE id = ?'),
    pagesFrom: q('SELECT rowid, * FROM pages WHERE rowid > ? ORDER BY rowid LIMIT ?'),
    document: q('SELECT * FROM documents WHERE id = ?'),
    documentsFrom: q('SELECT * FROM documents WHERE seq > ? ORDER BY seq LIMIT ?'),
    totals: q('SELECT * FROM totals WHERE one = 1'),
    insertPage: q('INSERT OR IGNORE INTO pages (id, meta, gist, tokens, stored, indexed) VALUES (?, ?, ?, ?, ?, ?)'),
    // A page already known (same content) keeps its first origin and its stats; it may only gain levels.
    mergeLevels: q('UPDATE pages SET stored = max(stored, ?), indexed = max(indexed, ?) WHERE id = ?'),
    insertDocument: q(
      'INSERT OR IGNORE INTO documents (id, source, tokens, bytes, ingested_at, page_ids) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    // The first summary stays: a page is summarized once, a later one is a duplicate.
    setSummary: q('UPDATE pages SET summary = ?, summary_tokens = ? WHERE id = ? AND summary IS NULL'),
    addStats: q(
      'UPDATE pages SET access_count = access_count + ?, fault_count = fault_count + ?, last_access = max(last_access, ?) WHERE id = ?',
    ),
    addTotals: q(
      'UPDATE totals SET documents = documents + ?, pages = pages + ?, tokens = tokens + ?, summaries = summaries + ?, summary_tokens = summary_tokens + ?, accesses = accesses + ?, faults = faults + ? WHERE one = 1',
    ),
    currentOf: q('SELECT * FROM documents WHERE source = ? AND superseded_by IS NULL'),
    versionsOf: q('SELECT * FROM documents WHERE source = ? ORDER BY seq'),
    supersede: q('UPDATE documents SET superseded_by = ?, superseded_at = ? WHERE id = ?'),
    reinstate: q('UPDATE documents SET superseded_by = NULL, superseded_at = NULL WHERE id = ?'),
    deleteDocument: q('DELETE FROM documents WHERE id = ?'),
    refPage: q(
      'UPDATE pages SET refs = refs + ?, current_refs = current_refs + ? WHERE id = ? RETURNING refs, current_refs',
    ),
    setPageSuperseded: q('UPDATE pages SET superseded_by = ? WHERE id = ?'),
    deletePage: q('DELETE FROM pages WHERE id = ? RETURNING tokens, summary_tokens'),
    queueUnindex: q('INSERT OR IGNORE INTO unindex (page_id) VALUES (?)'),
    unqueueUnindex: q('DELETE FROM unindex WHERE page_id = ?'),
    unindexQueue: q('SELECT page_id FROM unindex LIMIT ?'),
    // A superseded version still holding a page, for a page no current document holds any more.
    supersededHolder: q(
      'SELECT d.superseded_by AS by FROM documents d, json_each(d.page_ids) j WHERE j.value = ? AND d.superseded_by IS NOT NULL LIMIT 1',
    ),
    addDrop: q('INSERT INTO drops (page_id, document_id, source, reason, at) VALUES (?, ?, ?, ?, ?)'),
    everDropped: q('SELECT 1 AS one FROM drops WHERE page_id = ? LIMIT 1'),
    lastDrop: q('SELECT * FROM drops WHERE page_id = ? ORDER BY seq DESC LIMIT 1'),
    dropsAfter: q('SELECT * FROM drops WHERE seq > ? ORDER BY seq LIMIT ?'),
    forgottenAs: q("SELECT 1 AS one FROM drops WHERE reason = 'forgotten' AND (source = ? OR document_id = ?) LIMIT 1"),
    lastDropSeq: q('SELECT coalesce(max(seq), 0) AS n FROM drops'),
    pendingPurges: q('SELECT seq, page_id FROM drops WHERE purged = 0 ORDER BY seq LIMIT ?'),
    markPurged: q('UPDATE drops SET purged = 1 WHERE seq = ?'),
    collectable: q(
      'SELECT * FROM documents WHERE superseded_by IS NOT NULL AND superseded_at <= ? AND seq > ? ORDER BY seq LIMIT ?',
    ),
    sourcesAfter: q(
      'SELECT source, count(*) AS versions FROM documents WHERE source > ? GROUP BY source ORDER BY source LIMIT ?',
    ),
    fact: q('SELECT value FROM facts WHERE key = ?'),
    setFact: q('INSERT OR REPLACE INTO facts (key, value) VALUES (?, ?)'),
  };
}
type Statements = ReturnType<typeof statements>;

function pageOfRow(r: Row): PageEntry {
  // Added onto the parsed meta rather than spread with it into a new object: V8 takes a slow path for that
  // spread, 11 µs a page, half of what a load_page served from Redis adds to the GET.
  return Object.assign(
    JSON.parse(String(r.meta)) as PageMeta,
    {
      gist: String(r.gist),
      stored: num(r.stored) === 1,
      indexed: num(r.indexed) === 1,
      accessCount: num(r.access_count),
      faultCount: num(r.fault_count),
      lastAccess: num(r.last_access),
    },
    r.summary === null || r.summary === undefined ? {} : { summary: JSON.parse(String(r.summary)) as PageSummary },
  );
}

function documentOfRow(r: Row): DocumentEntry {
  return {
    id: String(r.id),
    source: String(r.source),
    tokens: num(r.tokens),
    bytes: num(r.bytes),
    pageIds: JSON.parse(String(r.page_ids)) as string[],
    ingestedAt: num(r.ingested_at),
    ...(r.superseded_by ? { supersededBy: String(r.superseded_by) } : {}),
  };
}

function dropOfRow(r: Row): DroppedPage {
  return {
    pageId: String(r.page_id),
    documentId: String(r.document_id),
    source: String(r.source),
    reason: String(r.reason) as DroppedPage['reason'],
    at: num(r.at),
  };
}

/** One source in the documents listing: how many versions the store holds, and the current one. */
export interface SourceListing {
  source: string;
  versions: number;
  /** Absent when every version held is superseded (the current one was forgotten by id). */
  current?: { id: string; pages: number; tokens: number; ingestedAt: number };
}

function totalsOfRow(r: Row | undefined): Totals {
  return {
    documents: num(r?.documents),
    pages: num(r?.pages),
    tokens: num(r?.tokens),
    summaries: num(r?.summaries),
    summaryTokens: num(r?.summary_tokens),
    accesses: num(r?.accesses),
    faults: num(r?.faults),
  };
}

/** What a 'changed' event reports: pages, documents or summaries added (statistics alone are no change). */
const changeKey = (t: Totals) => `${t.documents}/${t.pages}/${t.summaries}`;

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
}

/**
 * The page table, shared by every process on one data dir through one SQLite database (`catalog.db`, WAL): opening
 * it reads nothing but its schema, and each read is a query, so neither the time to open nor the memory of a
 * process grows with the store. Every write is one transaction, durable before the call returns; facts are only
 * added (statistics as deltas, so processes add up; the first summary stays), so there is no last-writer-wins.
 * A process notices the others' commits by polling SQLite's data version, and emits 'changed' when they
 * brought pages, documents or summaries.
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

  private constructor(private readonly db: Database) {
    super();
    this.sql = statements(db);
    this.table = new PageTable(this.sql, this.pendingStats);
    this.version = dataVersion(db);
    this.seen = changeKey(this.table.totals());
    this.seenDrop = num(this.sql.lastDropSeq.get()?.n);
    this.pollTimer = setInterval(() => this.poll(), POLL_MS);
    this.pollTimer.unref();
  }

  /**
   * Opens (creating it if need be) the data dir's page table. A page table written by an earlier vmem as
   * `catalog.jsonl` is imported first, once, however many processes open it at the same time.
   */
  static async open(dataDir: string, { openDb = openDatabase }: CatalogOptions = {}): Promise<Catalog> {
    const layout = dataDirLayout(dataDir);
    await mkdir(dataDir, { recursive: true });
    const db = openDb(layout.catalog);
    try {
      ensureSchema(db, 'facts', SCHEMA);
      await importLegacyLog(db, layout.legacyCatalog);
      addLifecycle(db);
    } catch (err) {
      db.close();
      throw err;
    }
    return new Catalog(db);
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
      this.announceDrops();
      const key = changeKey(totalsOfRow(this.sql.totals.get()));
      if (key === this.seen) return;
      this.seen = key;
      this.emit('changed');
    } catch (err) {
      console.error(`vmem: reading the page table failed:`, err);
    }
  }

  /**
   * Runs a write in one transaction; what other processes added since the last look is announced afterwards,
   * and this write's own additions are not.
   */
  private write(body: () => void): void {
    let others = false;
    transaction(this.db, () => {
      others = changeKey(totalsOfRow(this.sql.totals.get())) !== this.seen;
      body();
      this.seen = changeKey(totalsOfRow(this.sql.totals.get()));
    });
    if (others) this.emit('changed');
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
    const { insertPage, mergeLevels, insertDocument, addTotals } = this.sql;
    const revived = new Set<string>();
    this.write(() => {
      let pages = 0;
      let tokens = 0;
      let documents = 0;
      for (const { doc, pages: entries } of docs) {
        const inserted = new Set<string>();
        for (const p of entries) {
          const { gist, stored, indexed, accessCount: _a, faultCount: _f, lastAccess: _l, summary: _s, ...meta } = p;
          delete (meta as Partial<PageEntry>).supersededBy;
          if (num(insertPage.run(p.id, JSON.stringify(meta), gist, p.tokens, +stored, +indexed).changes)) {
            pages++;
            tokens += p.tokens;
            inserted.add(p.id);
            if (this.sql.everDropped.get(p.id)) revived.add(p.id);
          } else mergeLevels.run(+stored, +indexed, p.id);
        }
        const { id, source, tokens: t, bytes, ingestedAt, pageIds } = doc;
        const known = this.sql.document.get(id);
        if (known && !known.superseded_by) continue; // current already: nothing changes
        if (known) this.sql.reinstate.run(id);
        else documents += num(insertDocument.run(id, source, t, bytes, ingestedAt, JSON.stringify(pageIds)).changes);
        // References first, then the previous version's are released: a page both hold never reaches 0.
        for (const pageId of new Set(pageIds)) {
          const r = this.sql.refPage.get(known ? 0 : 1, 1, pageId);
          if (!r) throw new InternalError(`page ${pageId} of document ${id} is not in the page table`);
          if (num(r.current_refs) === 1 && !inserted.has(pageId)) {
            this.sql.setPageSuperseded.run(null, pageId);
            this.sql.unqueueUnindex.run(pageId);
            revived.add(pageId);
          }
        }
        for (const old of this.sql.currentOf.all(source)) {
          if (old.id === id) continue;
          this.sql.supersede.run(id, ingestedAt, String(old.id));
          this.release(documentOfRow(old), id);
        }
      }
      addTotals.run(documents, pages, tokens, 0, 0, 0, 0);
    });
    return { revived: [...revived] };
  }

  /** A current document's pages lose it as a current holder; those left with none are `by`'s superseded pages. */
  private release(doc: DocumentEntry, by: string): void {
    for (const pageId of new Set(doc.pageIds)) {
      const r = this.sql.refPage.get(0, -1, pageId);
      if (r && num(r.current_refs) === 0) {
        this.sql.setPageSuperseded.run(by, pageId);
        this.sql.queueUnindex.run(pageId);
      }
    }
  }

  /**
   * Removes documents from the page table in one transaction: their rows, and their pages that no other
   * document holds, which are recorded in the drops log (`reason`) for every process and for the purge.
   * Returns the dropped page ids. Documents already gone are skipped, so a repeated call changes nothing.
   */
  async removeDocuments(ids: string[], reason: DroppedPage['reason']): Promise<string[]> {
    const dropped: string[] = [];
    this.write(() => {
      let documents = 0;
      let pages = 0;
      let tokens = 0;
      let summaries = 0;
      let summaryTokens = 0;
      const at = Date.now();
      for (const id of ids) {
        const row = this.sql.document.get(id);
        if (!row) continue;
        const doc = documentOfRow(row);
        const current = !doc.supersededBy;
        this.sql.deleteDocument.run(id);
        documents++;
        for (const pageId of new Set(doc.pageIds)) {
          const r = this.sql.refPage.get(-1, current ? -1 : 0, pageId);
          if (!r) continue;
          if (num(r.refs) <= 0) {
            const gone = this.sql.deletePage.get(pageId)!;
            pages++;
            tokens += num(gone.tokens);
            if (gone.summary_tokens !== null) {
              summaries++;
              summaryTokens += num(gone.summary_tokens);
            }
            this.sql.unqueueUnindex.run(pageId);
            this.sql.addDrop.run(pageId, id, doc.source, reason, at);
            dropped.push(pageId);
          } else if (current && num(r.current_refs) === 0) {
            // Only another source's superseded version holds it now.
            const by = this.sql.supersededHolder.get(pageId)?.by;
            this.sql.setPageSuperseded.run(by === undefined ? id : String(by), pageId);
            this.sql.queueUnindex.run(pageId);
          }
        }
      }
      this.sql.addTotals.run(-documents, -pages, -tokens, -summaries, -summaryTokens, 0, 0);
    });
    // This process's sessions learn of it as the others do, at once rather than at the next poll.
    this.announceDrops();
    return dropped;
  }

  /** Dropped pages whose levels may still hold them (a purge not yet done, or cut short), oldest first. */
  pendingPurges(limit: number): { seq: number; pageId: string }[] {
    return this.sql.pendingPurges.all(limit).map((r) => ({ seq: num(r.seq), pageId: String(r.page_id) }));
  }

  /** Records that dropped pages' levels no longer hold them. */
  async purged(seqs: number[]): Promise<void> {
    if (seqs.length) this.write(() => seqs.forEach((s) => this.sql.markPurged.run(s)));
  }

  /** Pages queued to leave L3 (a superseded version's only), up to `limit`. */
  unindexQueue(limit: number): string[] {
    return this.sql.unindexQueue.all(limit).map((r) => String(r.page_id));
  }

  /** Takes pages off the L3 queue, once the purge has dealt with them. */
  async unqueue(pageIds: string[]): Promise<void> {
    if (pageIds.length) this.write(() => pageIds.forEach((id) => this.sql.unqueueUnindex.run(id)));
  }

  /** Superseded documents, superseded at or before `before`, after cursor `after`: the candidates for collection. */
  superseded(before: number, after: number, limit: number): (DocumentEntry & { cursor: number })[] {
    return this.sql.collectable.all(before, after, limit).map((r) => ({ ...documentOfRow(r), cursor: num(r.seq) }));
  }

  /** Records a page's summary, durable before returning; a page that has one keeps it. */
  async addSummary(pageId: string, summary: PageSummary): Promise<void> {
    this.write(() => {
      if (num(this.sql.setSummary.run(JSON.stringify(summary), summary.tokens, pageId).changes))
        this.sql.addTotals.run(0, 0, 0, 1, summary.tokens, 0, 0);
    });
  }

  /** Adds access statistics gathered elsewhere (reindex carrying them over), durable before returning. */
  async addStats(rows: StatsRow[]): Promise<void> {
    if (!rows.length) return;
    this.write(() => this.applyStats(rows));
  }

  private applyStats(rows: StatsRow[]): void {
    let accesses = 0;
    let faults = 0;
    for (const [id, a, f, at] of rows) {
      if (!num(this.sql.addStats.run(a, f, at, id).changes)) continue;
      accesses += a;
      faults += f;
    }
    this.sql.addTotals.run(0, 0, 0, 0, 0, accesses, faults);
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
      this.write(() => this.applyStats(rows));
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
      this.db.close();
    }
  }
}

/** The fact that says a page table's versions and references are counted (see addLifecycle). */
const VERSIONS_COUNTED = 'versions counted';

/**
 * Brings a page table written before versions and forgetting up to date, once, in one transaction (two
 * processes opening it at once: the second finds it done): the columns and tables LIFECYCLE adds, then each
 * source's latest document current and the earlier ones superseded by it, and every page's references counted.
 * Pages only superseded versions hold are queued to leave L3.
 */
function addLifecycle(db: Database): void {
  const done = () => !!db.prepare('SELECT 1 AS one FROM facts WHERE key = ?').get(VERSIONS_COUNTED);
  if (done()) return;
  transaction(db, () => {
    if (done()) return;
    const has = (table: string, column: string) =>
      db
        .prepare(`SELECT name FROM pragma_table_info('${table}')`)
        .all()
        .some((r) => r.name === column);
    const add = (table: string, column: string, type: string) => {
      if (!has(table, column)) db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${type}`);
    };
    add('pages', 'refs', 'INTEGER NOT NULL DEFAULT 0');
    add('pages', 'current_refs', 'INTEGER NOT NULL DEFAULT 0');
    add('pages', 'superseded_by', 'TEXT');
    add('documents', 'superseded_by', 'TEXT');
    add('documents', 'superseded_at', 'INTEGER');
    db.exec(LIFECYCLE);
    db.exec(`
      CREATE TEMP TABLE latest AS
        SELECT source, (SELECT id FROM documents d2 WHERE d2.source = d.source ORDER BY ingested_at DESC, seq DESC LIMIT 1) AS id,
               max(ingested_at) AS at
        FROM documents d GROUP BY source;
      UPDATE documents SET
        superseded_by = (SELECT l.id FROM latest l WHERE l.source = documents.source),
        superseded_at = (SELECT l.at FROM latest l WHERE l.source = documents.source)
        WHERE id NOT IN (SELECT id FROM latest);
      CREATE TEMP TABLE holds AS
        SELECT DISTINCT j.value AS page, d.id AS doc, d.superseded_by IS NULL AS current, d.superseded_by AS by
        FROM documents d, json_each(d.page_ids) j;
      CREATE INDEX temp.holds_page ON holds (page);
      UPDATE pages SET
        refs = (SELECT count(*) FROM holds WHERE page = pages.id),
        current_refs = (SELECT count(*) FROM holds WHERE page = pages.id AND current);
      UPDATE pages SET superseded_by = (SELECT by FROM holds WHERE page = pages.id AND by IS NOT NULL LIMIT 1)
        WHERE current_refs = 0;
      INSERT OR IGNORE INTO unindex SELECT id FROM pages WHERE current_refs = 0;
      DROP TABLE temp.holds;
      DROP TABLE temp.latest;
    `);
    db.exec(`INSERT INTO facts (key, value) VALUES ('${VERSIONS_COUNTED}', strftime('%Y-%m-%dT%H:%M:%fZ'))`);
  });
}

/**
 * Access statistics of a page table set aside by reindex (`file`, a catalog.db), in batches of `size` rows: pages
 * accessed at least once. Access statistics are no L4 fact: reindex carries them over with this.
 */
export function* statsIn(file: string, size = 10_000): Generator<StatsRow[]> {
  const db = openDatabase(file);
  try {
    const next = db.prepare(
      'SELECT rowid, id, access_count, fault_count, last_access FROM pages WHERE rowid > ? AND (access_count > 0 OR last_access > 0) ORDER BY rowid LIMIT ?',
    );
    for (let after = 0; ; ) {
      const rows = next.all(after, size);
      if (!rows.length) return;
      after = num(rows.at(-1)!.rowid);
      yield rows.map((r): StatsRow => [String(r.id), num(r.access_count), num(r.fault_count), num(r.last_access)]);
    }
  } finally {
    db.close();
  }
}

/** The records of the page table's log before catalog.db (`catalog.jsonl`), as that vmem wrote them. */
type LegacyRecord =
  | { t: 'doc'; w: string; doc: DocumentEntry; pages: PageEntry[] }
  | { t: 'stats'; w: string; s: StatsRow[] }
  | { t: 'summary'; w: string; id: string; summary: PageSummary };

/** SQLITE_BUSY, as better-sqlite3 and node:sqlite report it: another process holds the write lock. */
const isBusy = (err: unknown) =>
  (err as { code?: string }).code === 'SQLITE_BUSY' || /database is locked/i.test((err as Error).message ?? '');

/**
 * Imports the log an earlier vmem kept the page table in: documents and pages in order, summaries (the first
 * stays), statistics summed, all in one transaction; then renames the log `<name>.migrated` (nothing is deleted).
 * The transaction starts by checking whether another process already imported it, so two processes opening
 * the same old store at once import it once; the one waiting for the other's import waits as long as it takes.
 */
async function importLegacyLog(db: Database, path: string): Promise<void> {
  if (!(await exists(path))) return;
  for (;;) {
    try {
      db.exec('BEGIN IMMEDIATE');
      break;
    } catch (err) {
      if (!isBusy(err)) throw err;
      if (!(await exists(path))) return; // imported meanwhile by the process that held the lock
    }
  }
  const done = `imported ${LEGACY_CATALOG_FILE}`;
  let counts: { documents: number; pages: number } | undefined;
  try {
    if (!db.prepare('SELECT value FROM facts WHERE key = ?').get(done)) {
      const sql = statements(db);
      for await (const r of jsonLines<LegacyRecord>(path)) {
        if (r.t === 'doc') {
          for (const p of r.pages) {
            const { gist, stored, indexed, accessCount: _a, faultCount: _f, lastAccess: _l, summary: _s, ...meta } = p;
            if (!num(sql.insertPage.run(p.id, JSON.stringify(meta), gist, p.tokens, +stored, +indexed).changes))
              sql.mergeLevels.run(+stored, +indexed, p.id);
          }
          const { id, source, tokens, bytes, ingestedAt, pageIds } = r.doc;
          sql.insertDocument.run(id, source, tokens, bytes, ingestedAt, JSON.stringify(pageIds));
        } else if (r.t === 'stats') {
          for (const [id, a, f, at] of r.s) sql.addStats.run(a, f, at, id);
        } else if (r.t === 'summary') {
          sql.setSummary.run(JSON.stringify(r.summary), r.summary.tokens, r.id);
        }
      }
      db.exec(`UPDATE totals SET
        documents = (SELECT count(*) FROM documents),
        pages = (SELECT count(*) FROM pages),
        tokens = (SELECT coalesce(sum(tokens), 0) FROM pages),
        summaries = (SELECT count(*) FROM pages WHERE summary IS NOT NULL),
        summary_tokens = (SELECT coalesce(sum(summary_tokens), 0) FROM pages),
        accesses = (SELECT coalesce(sum(access_count), 0) FROM pages),
        faults = (SELECT coalesce(sum(fault_count), 0) FROM pages)
        WHERE one = 1`);
      const t = totalsOfRow(sql.totals.get());
      counts = { documents: t.documents, pages: t.pages };
      sql.setFact.run(done, new Date().toISOString());
    }
    db.exec('COMMIT');
  } catch (err) {
    db.exec('ROLLBACK');
    throw err;
  }
  // Imported, by this process or one that stopped before renaming it; a log already kept aside is not replaced.
  const kept = `${path}.migrated`;
  if (!(await exists(kept)))
    await rename(path, kept).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  if (counts)
    console.error(
      `vmem: moved the page table from ${LEGACY_CATALOG_FILE} into ${CATALOG_FILE} (${counts.documents} documents, ${counts.pages} pages)`,
    );
}
