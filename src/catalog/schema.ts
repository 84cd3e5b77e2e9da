import { rename } from 'node:fs/promises';
import type { PageMeta } from '../core/page.js';
import type { DocumentEntry, DroppedPage, PageEntry, PageSummary } from '../core/page-table.js';
import { CATALOG_FILE, LEGACY_CATALOG_FILE } from '../data-dir.js';
import { exists } from '../store/atomic-file.js';
import { jsonLines } from '../store/json-lines.js';
import { type Database, openDatabase, type Row, transaction } from '../store/sqlite.js';

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

export const SCHEMA = `
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

export const num = (v: unknown) => Number(v ?? 0);

/**
 * What a node's copy of a page table shared over the network adds (see catalog/shared-log.ts): the pages and
 * summaries other nodes brought, which this data dir's L3 has yet to index (`to_index`), and the outcome of each
 * change this node wrote, for the process that wrote it to read back (another process on the same data dir may
 * have applied it first). Run at every open: a page table of an earlier vmem lacks them.
 */
export const REPLICA = `
CREATE TABLE IF NOT EXISTS to_index (page_id TEXT NOT NULL, kind TEXT NOT NULL, PRIMARY KEY (page_id, kind));
CREATE TABLE IF NOT EXISTS outcomes (entry TEXT PRIMARY KEY, outcome TEXT NOT NULL);
`;

/** The SQL a catalog runs, prepared once per connection. */
export function statements(db: Database) {
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
    queueIndex: q('INSERT OR IGNORE INTO to_index (page_id, kind) VALUES (?, ?)'),
    indexQueue: q('SELECT page_id, kind FROM to_index LIMIT ?'),
    unqueueIndex: q('DELETE FROM to_index WHERE page_id = ? AND kind = ?'),
    saveOutcome: q('INSERT OR REPLACE INTO outcomes (entry, outcome) VALUES (?, ?)'),
    outcome: q('SELECT outcome FROM outcomes WHERE entry = ?'),
    dropOutcome: q('DELETE FROM outcomes WHERE entry = ?'),
    fact: q('SELECT value FROM facts WHERE key = ?'),
    setFact: q('INSERT OR REPLACE INTO facts (key, value) VALUES (?, ?)'),
  };
}
export type Statements = ReturnType<typeof statements>;

export function pageOfRow(r: Row): PageEntry {
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

export function documentOfRow(r: Row): DocumentEntry {
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

export function dropOfRow(r: Row): DroppedPage {
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

export function totalsOfRow(r: Row | undefined): Totals {
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
export const changeKey = (t: Totals) => `${t.documents}/${t.pages}/${t.summaries}`;

/** The fact that says a page table's versions and references are counted (see addLifecycle). */
const VERSIONS_COUNTED = 'versions counted';

/**
 * Brings a page table written before versions and forgetting up to date, once, in one transaction (two
 * processes opening it at once: the second finds it done): the columns and tables LIFECYCLE adds, then each
 * source's latest document current and the earlier ones superseded by it, and every page's references counted.
 * Pages only superseded versions hold are queued to leave L3.
 */
export function addLifecycle(db: Database): void {
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
export async function importLegacyLog(db: Database, path: string): Promise<void> {
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
