import { EventEmitter } from 'node:events';
import { mkdir, rename } from 'node:fs/promises';
import type { PageMeta } from './core/page.js';
import type { DocumentEntry, PageEntry, PageSummary } from './core/page-table.js';
import { CATALOG_FILE, dataDirLayout, LEGACY_CATALOG_FILE } from './data-dir.js';
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
 * Pages and documents list in rowid order (`seq` is the documents' rowid): rows are never deleted and an ignored
 * insert takes no rowid, so rowids count 1, 2, 3… and the row at position n (from 0) is rowid n + 1.
 */
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
  summary_tokens INTEGER
);
CREATE TABLE IF NOT EXISTS documents (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  source TEXT NOT NULL,
  tokens INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  ingested_at INTEGER NOT NULL,
  page_ids TEXT NOT NULL
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
    pagesFrom: q('SELECT * FROM pages WHERE rowid > ? ORDER BY rowid LIMIT ?'),
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
    fact: q('SELECT value FROM facts WHERE key = ?'),
    setFact: q('INSERT OR REPLACE INTO facts (key, value) VALUES (?, ?)'),
  };
}
type Statements = ReturnType<typeof statements>;

function pageOfRow(r: Row): PageEntry {
  return {
    ...(JSON.parse(String(r.meta)) as PageMeta),
    gist: String(r.gist),
    stored: num(r.stored) === 1,
    indexed: num(r.indexed) === 1,
    accessCount: num(r.access_count),
    faultCount: num(r.fault_count),
    lastAccess: num(r.last_access),
    ...(r.summary === null || r.summary === undefined ? {} : { summary: JSON.parse(String(r.summary)) as PageSummary }),
  };
}

function documentOfRow(r: Row): DocumentEntry {
  return {
    id: String(r.id),
    source: String(r.source),
    tokens: num(r.tokens),
    bytes: num(r.bytes),
    pageIds: JSON.parse(String(r.page_ids)) as string[],
    ingestedAt: num(r.ingested_at),
  };
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
    return r && this.withPending(pageOfRow(r));
  }

  has(pageId: string): boolean {
    return this.sql.hasPage.get(pageId) !== undefined;
  }

  document(id: string): DocumentEntry | undefined {
    const r = this.sql.document.get(id);
    return r && documentOfRow(r);
  }

  /** Up to `limit` documents from position `from` (0 is the first), in the order they were recorded. */
  documents({ from = 0, limit }: { from?: number; limit: number }): DocumentEntry[] {
    return this.sql.documentsFrom.all(from, limit).map(documentOfRow);
  }

  /** Up to `limit` pages from position `from` (0 is the first), in the order they were recorded. */
  pages({ from = 0, limit }: { from?: number; limit: number }): PageEntry[] {
    return this.sql.pagesFrom.all(from, limit).map((r) => this.withPending(pageOfRow(r)));
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

  private constructor(private readonly db: Database) {
    super();
    this.sql = statements(db);
    this.table = new PageTable(this.sql, this.pendingStats);
    this.version = dataVersion(db);
    this.seen = changeKey(this.table.totals());
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
    } catch (err) {
      db.close();
      throw err;
    }
    return new Catalog(db);
  }

  /** Looks for other processes' commits: a data version that moved, then the totals, to see what they added. */
  private poll(): void {
    if (this.closed) return;
    try {
      const v = dataVersion(this.db);
      if (v === this.version) return;
      this.version = v;
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

  /**
   * Records documents and their new pages in one transaction, durable before returning. After a failed write (a
   * full disk) none of them is known, and a retry writes them again.
   */
  async addDocuments(docs: { doc: DocumentEntry; pages: PageEntry[] }[]): Promise<void> {
    const { insertPage, mergeLevels, insertDocument, addTotals } = this.sql;
    this.write(() => {
      let pages = 0;
      let tokens = 0;
      let documents = 0;
      for (const { doc, pages: entries } of docs) {
        for (const p of entries) {
          const { gist, stored, indexed, accessCount: _a, faultCount: _f, lastAccess: _l, summary: _s, ...meta } = p;
          if (num(insertPage.run(p.id, JSON.stringify(meta), gist, p.tokens, +stored, +indexed).changes)) {
            pages++;
            tokens += p.tokens;
          } else mergeLevels.run(+stored, +indexed, p.id);
        }
        const { id, source, tokens: t, bytes, ingestedAt, pageIds } = doc;
        documents += num(insertDocument.run(id, source, t, bytes, ingestedAt, JSON.stringify(pageIds)).changes);
      }
      addTotals.run(documents, pages, tokens, 0, 0, 0, 0);
    });
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
