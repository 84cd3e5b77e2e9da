import { createRequire } from 'node:module';
import { ConfigError } from '../errors.js';
import { OPTIONAL_PACKAGES } from '../optional.js';

/** A value SQLite stores or returns: blobs come back as Uint8Array (node:sqlite) or Buffer (better-sqlite3). */
export type SqlValue = null | number | bigint | string | Uint8Array;
export type Row = Record<string, SqlValue>;

export interface Statement {
  run(...params: SqlValue[]): { changes: number | bigint; lastInsertRowid: number | bigint };
  get(...params: SqlValue[]): Row | undefined;
  all(...params: SqlValue[]): Row[];
}

/** The part of a synchronous SQLite connection vmem uses; node:sqlite and better-sqlite3 both have it. */
export interface Database {
  exec(sql: string): void;
  prepare(sql: string): Statement;
  close(): void;
}

type Driver = (file: string) => Database;

let driver: Driver | undefined;

/**
 * The SQLite driver: Node's own `node:sqlite` where it exists without a flag (Node ≥ 22.13), else the
 * `better-sqlite3` package, an optional peer that Node 20 users install beside vmem (a 28 MB native build
 * nobody on a current Node needs). Both are the same engine with the same synchronous API.
 */
function loadDriver(): Driver {
  if (driver) return driver;
  const require = createRequire(import.meta.url);
  try {
    // Node 22 still prints an ExperimentalWarning for node:sqlite: vmem's stderr is for its own messages.
    const emit = process.emitWarning;
    process.emitWarning = (w: string | Error, ...rest: unknown[]) => {
      const text = typeof w === 'string' ? w : w.message;
      if (!/SQLite is an experimental feature/.test(text))
        (emit as (...a: unknown[]) => void).call(process, w, ...rest);
    };
    try {
      const { DatabaseSync } = require('node:sqlite') as typeof import('node:sqlite');
      driver = (file) => new DatabaseSync(file) as unknown as Database;
    } finally {
      process.emitWarning = emit;
    }
  } catch {
    let Better: new (file: string) => Database;
    try {
      Better = require('better-sqlite3');
    } catch (err) {
      throw new ConfigError(
        `vmem keeps its page table and index in SQLite, which Node ${process.versions.node} does not have built in: use Node ≥ 22.13, or install the package better-sqlite3 next to vmem: npm install -g better-sqlite3@${OPTIONAL_PACKAGES['better-sqlite3']} (vmem installed with -g), or npm install better-sqlite3@${OPTIONAL_PACKAGES['better-sqlite3']} (vmem in a project's node_modules)`,
        { cause: err },
      );
    }
    driver = (file) => new Better(file);
  }
  return driver;
}

/**
 * Bytes of a database file read through a memory map rather than copied into SQLite's page cache: a
 * fault's postings are a few hundred KB spread over overflow pages, and at a million pages reading them
 * took 3.7 ms copied, 1.0 ms mapped. The mapped pages are the OS's file cache, shared by every process on
 * the store and reclaimed under memory pressure; writes still go through the journal, never the map. Both
 * drivers cap the map just under 2 GiB; a larger file is read past it as before.
 */
const MMAP_BYTES = 2 ** 31;

/**
 * Opens `file` for several processes at once: write-ahead logging (readers never wait for the writer),
 * a wait of up to `busyMs` for the write lock instead of an immediate SQLITE_BUSY, and full syncs, so a
 * commit that returned survives a crash of the process or the machine.
 */
export function openDatabase(file: string, { busyMs = 10_000 }: { busyMs?: number } = {}): Database {
  const db = loadDriver()(file);
  db.exec(`PRAGMA busy_timeout = ${busyMs}`);
  db.exec('PRAGMA journal_mode = WAL');
  db.exec('PRAGMA synchronous = FULL');
  db.exec(`PRAGMA mmap_size = ${MMAP_BYTES}`);
  return db;
}

/**
 * Runs `body` in one write transaction (taken at once, so two processes never deadlock upgrading a read
 * lock): all of it commits, or none of it on an exception.
 */
export function transaction<T>(db: Database, body: () => T): T {
  db.exec('BEGIN IMMEDIATE');
  try {
    const result = body();
    db.exec('COMMIT');
    return result;
  } catch (err) {
    db.exec('ROLLBACK');
    throw err;
  }
}

/**
 * Creates a database's tables unless `table` (the last one its schema creates) is already there. The
 * check is a read, so a process opening a store while another holds the write lock (a long import or
 * merge) waits for nothing; the creation is a transaction of its own, so two first opens do not collide.
 */
export function ensureSchema(db: Database, table: string, schema: string): void {
  if (!db.prepare(`SELECT 1 AS one FROM sqlite_master WHERE type = 'table' AND name = ?`).get(table))
    transaction(db, () => db.exec(schema));
}

/**
 * A change counter for the file that moves when another connection commits (SQLite's data_version):
 * what a process polls to notice the others' writes without reading anything else.
 */
export function dataVersion(db: Database): number {
  return Number(db.prepare('PRAGMA data_version').get()!.data_version);
}
