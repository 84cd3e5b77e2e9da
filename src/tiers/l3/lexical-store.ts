import { LRUCache } from 'lru-cache';
import { type Database, ensureSchema, openDatabase, type SqlValue, transaction } from '../../store/sqlite.js';
import { ItemWords } from './item-words.js';
import { withBigrams } from './lexical.js';
import { mergePostings, SegmentBuilder } from './postings.js';

/**
 * The tables. Items are numbered in the order they were added (`no`); a term is a small integer
 * (`terms.id`), so bigram keys hash from ids exactly as the scorer does. Postings are cut into
 * segments, each written whole by one transaction: its rows sit together at the end of the tree
 * (key `segment, term`), so adding a batch of pages appends instead of touching every term's row.
 * Segments are merged ten at a time into one of the next level, which keeps them few (a query reads
 * each query term from each live segment) at a cost of log₁₀ rewrites per posting.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS terms (id INTEGER PRIMARY KEY, term TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS items (no INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, sentences BLOB NOT NULL, vector BLOB);
CREATE TABLE IF NOT EXISTS segments (id INTEGER PRIMARY KEY, level INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS postings (
  segment INTEGER NOT NULL, term INTEGER NOT NULL,
  units INTEGER NOT NULL, sentences INTEGER NOT NULL, data BLOB NOT NULL,
  PRIMARY KEY (segment, term)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS totals (
  id INTEGER PRIMARY KEY CHECK (id = 0),
  items INTEGER NOT NULL, length INTEGER NOT NULL, sentences INTEGER NOT NULL, sentence_length INTEGER NOT NULL);
INSERT OR IGNORE INTO totals VALUES (0, 0, 0, 0, 0);
`;

/** A removed item's key ('-' and its number): page ids start with 'p', so no page has one. */
const isRemovedKey = (key: string) => key.startsWith('-');
/** The same test in SQL, for the queries over items (here and in vector-store.ts). */
export const REMOVED_ITEM = "key LIKE '-%'";

/** Segments of one level merged into one of the next. */
const MERGE_FACTOR = 10;
/** Rows read per segment at a time while merging: memory stays bounded whatever the segments hold. */
const MERGE_CHUNK = 4096;
/**
 * Postings rows per INSERT statement: a segment is tens of thousands of rows (words and bigrams), and one
 * statement per row spent more time crossing into SQLite than SQLite spent writing.
 */
const ROWS_PER_INSERT = 100;
/** Term ids kept in memory: ids never change once committed, so any process may cache them. */
const TERM_CACHE = 100_000;
/**
 * Bytes of decoded sentences kept in memory. Items are immutable, so the cache is never stale; the
 * passage scores read the sentences of a query's candidate pages, and on a store of 2000-token pages
 * reading them from SQLite took 28 µs a page, 80% of a fault.
 */
const WORD_CACHE_BYTES = 64 << 20;

/** An item to add: its key, its sentences as analysed terms, and its vector (empty when vectors are off). */
export interface NewItem {
  key: string;
  sentences: string[][];
  vector: Float32Array;
}

export interface Totals {
  items: number;
  /** Page-level terms (words and bigrams) over all items. */
  length: number;
  sentences: number;
  /** Words over all sentences. */
  sentenceLength: number;
}

/** A term's postings in every live segment, with its document frequencies summed. */
export interface TermPostings {
  /** Items holding the term (page-level df). */
  units: number;
  /** Sentences holding it (sentence-level df; 0 for a bigram). */
  sentences: number;
  parts: Uint8Array[];
}

const bytesOf = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** The SQL the store runs, prepared once per connection. */
function statements(db: Database) {
  const q = (sql: string) => db.prepare(sql);
  return {
    meta: q('SELECT value FROM meta WHERE key = ?'),
    setMeta: q('INSERT OR REPLACE INTO meta VALUES (?, ?)'),
    // Term ids count from 0 (rowids from 1): the bigram hash of ids is the one the rankings were tuned with.
    termId: q('SELECT id - 1 AS id FROM terms WHERE term = ?'),
    addTerm: q('INSERT INTO terms (term) VALUES (?)'),
    hasItem: q('SELECT 1 FROM items WHERE key = ?'),
    addItem: q('INSERT OR IGNORE INTO items (key, sentences, vector) VALUES (?, ?, ?)'),
    // A removed item keeps its row, renamed to a key no page has (see isRemovedKey) and emptied: its number is
    // never reused (a deleted last row's would be), so the postings it leaves in the segments name no other item.
    removeItem: q("UPDATE items SET key = '-' || no, sentences = x'', vector = NULL WHERE key = ? RETURNING no"),
    live: q(`SELECT no FROM items WHERE no IN (SELECT value FROM json_each(?)) AND NOT ${REMOVED_ITEM}`),
    keysOf: q('SELECT no, key FROM items WHERE no IN (SELECT value FROM json_each(?))'),
    wordsOf: q('SELECT no, sentences FROM items WHERE no IN (SELECT value FROM json_each(?))'),
    itemsAfter: q('SELECT no, key, vector FROM items WHERE no > ? ORDER BY no LIMIT ?'),
    maxNo: q('SELECT coalesce(max(no), 0) AS n FROM items'),
    totals: q('SELECT items, length, sentences, sentence_length FROM totals'),
    addTotals: q(
      'UPDATE totals SET items = items + ?, length = length + ?, sentences = sentences + ?, sentence_length = sentence_length + ?',
    ),
    levels: q('SELECT id FROM segments WHERE level = ? ORDER BY id'),
    addSegment: q('INSERT INTO segments (level) VALUES (?)'),
    dropSegment: q('DELETE FROM segments WHERE id = ?'),
    dropPostings: q('DELETE FROM postings WHERE segment = ?'),
    // Every live segment's row of every term asked for, in one call: a seek per (segment, term).
    postings: q(
      'SELECT term, units, sentences, data FROM postings WHERE segment IN (SELECT id FROM segments) AND term IN (SELECT value FROM json_each(?))',
    ),
    segmentRows: q(
      'SELECT term, units, sentences, data FROM postings WHERE segment = ? AND term > ? ORDER BY term LIMIT ?',
    ),
    // The tail of a segment's rows, fewer than ROWS_PER_INSERT.
    insertRow: q('INSERT INTO postings VALUES (?, ?, ?, ?, ?)'),
    insertRows: q(`INSERT INTO postings VALUES ${Array(ROWS_PER_INSERT).fill('(?, ?, ?, ?, ?)').join(', ')}`),
  };
}

/**
 * The lexical index on disk (SQLite): nothing of it is loaded at open, so opening and idle memory do
 * not grow with the store, and every process on the data dir reads what the others committed at its
 * next query. Pure storage: EmbeddedIndex ranks.
 */
export class LexicalStore {
  private readonly termCache = new LRUCache<string, number>({ max: TERM_CACHE });
  private readonly wordCache = new LRUCache<number, ItemWords>({
    maxSize: WORD_CACHE_BYTES,
    sizeCalculation: (w) => 256 + w.byteLength,
  });
  private readonly stmts: ReturnType<typeof statements>;

  private closed = false;
  private readonly pendingRows: SqlValue[] = [];

  private constructor(
    private readonly db: Database,
    readonly file: string,
  ) {
    this.stmts = statements(db);
  }

  static open(file: string): LexicalStore {
    const db = openDatabase(file);
    ensureSchema(db, 'totals', SCHEMA);
    return new LexicalStore(db, file);
  }

  meta(key: string): string | undefined {
    return this.stmts.meta.get(key)?.value as string | undefined;
  }

  setMeta(key: string, value: string): void {
    this.stmts.setMeta.run(key, value);
  }

  /** Records what a new store holds, unless a process opening it at the same time did first. */
  initMeta(values: Record<string, string>): void {
    transaction(this.db, () => {
      if (this.meta('format')) return;
      for (const [key, value] of Object.entries(values)) this.setMeta(key, value);
    });
  }

  /** The ids of `terms` (undefined for a term no item has). */
  termIds(terms: readonly string[]): (number | undefined)[] {
    return terms.map((t) => this.termCache.get(t) ?? this.lookup(t));
  }

  private lookup(term: string): number | undefined {
    const id = this.stmts.termId.get(term)?.id as number | undefined;
    if (id !== undefined) this.termCache.set(term, id);
    return id;
  }

  has(key: string): boolean {
    return !!this.stmts.hasItem.get(key);
  }

  totals(): Totals {
    const r = this.stmts.totals.get()!;
    return {
      items: Number(r.items),
      length: Number(r.length),
      sentences: Number(r.sentences),
      sentenceLength: Number(r.sentence_length),
    };
  }

  /** The highest item number: a bound for arrays indexed by item. */
  maxItem(): number {
    return Number(this.stmts.maxNo.get()!.n);
  }

  /**
   * Removes items by key, in one transaction; an absent key is skipped. Returns the numbers of those removed.
   * Their postings stay (rewriting segments would cost as much as a merge): queries drop them through `liveOf`,
   * and the index totals keep counting them, as their postings do, until a reindex.
   */
  remove(keys: readonly string[]): number[] {
    if (!keys.length) return [];
    return transaction(this.db, () =>
      keys.flatMap((key) => {
        const row = this.stmts.removeItem.get(key);
        if (!row) return [];
        const no = Number(row.no);
        this.wordCache.delete(no);
        return [no];
      }),
    );
  }

  /** Which of items `nos` are still held (not removed), in their order: one lookup for the lot. */
  liveOf(nos: readonly number[]): number[] {
    if (!nos.length) return [];
    const held = new Set(this.stmts.live.all(JSON.stringify(nos)).map((r) => Number(r.no)));
    return nos.filter((no) => held.has(no));
  }

  /** The keys of items `nos`, in that order. */
  keysOf(nos: readonly number[]): string[] {
    const byNo = new Map(this.stmts.keysOf.all(JSON.stringify(nos)).map((r) => [Number(r.no), r.key as string]));
    return nos.map((no) => byNo.get(no)!);
  }

  /** The words by sentence of items `nos`, in that order (those read lately come from memory). */
  wordsOf(nos: readonly number[]): ItemWords[] {
    const missing = nos.filter((no) => !this.wordCache.has(no));
    if (missing.length)
      for (const r of this.stmts.wordsOf.all(JSON.stringify(missing)))
        this.wordCache.set(Number(r.no), ItemWords.decode(r.sentences as Uint8Array));
    // Read again rather than kept from the loop: the cache may have let one of them go to fit the others.
    return nos.map((no) => this.wordCache.get(no) ?? this.wordsOf([no])[0]!);
  }

  /** Every item's key and vector, in the order they were added (read in pages of `chunk`). */
  *items(chunk = 1000): Generator<{ no: number; key: string; vector: Float32Array | undefined }> {
    for (let after = 0; ; ) {
      const rows = this.stmts.itemsAfter.all(after, chunk);
      for (const r of rows) {
        if (isRemovedKey(r.key as string)) continue;
        const v = r.vector as Uint8Array | null;
        yield {
          no: Number(r.no),
          key: r.key as string,
          vector: v?.byteLength
            ? new Float32Array(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength))
            : undefined,
        };
      }
      if (rows.length < chunk) return;
      after = Number(rows.at(-1)!.no);
    }
  }

  /** The postings of `terms` in every live segment (a term no item holds is absent). */
  postings(terms: readonly number[]): Map<number, TermPostings> {
    const out = new Map<number, TermPostings>();
    for (const r of this.stmts.postings.all(JSON.stringify(terms))) {
      const term = Number(r.term);
      let p = out.get(term);
      if (!p) out.set(term, (p = { units: 0, sentences: 0, parts: [] }));
      p.units += Number(r.units);
      p.sentences += Number(r.sentences);
      p.parts.push(r.data as Uint8Array);
    }
    return out;
  }

  /**
   * Adds the items not stored yet, in one transaction: their rows, one new segment of their postings,
   * the totals; then merges segments where a level is full. Returns how many were added. Another
   * process adding the same item meanwhile is harmless: the key is unique, the second copy is skipped.
   */
  add(items: readonly NewItem[]): number {
    // Terms this transaction creates: cached only once it commits (a rolled-back id may go to another term).
    const fresh = new Map<string, number>();
    const added = transaction(this.db, () => {
      this.pendingRows.length = 0;
      const ids = (terms: readonly string[]) =>
        terms.map((t) => {
          let id = fresh.get(t) ?? this.termCache.get(t);
          if (id !== undefined) return id;
          id = this.stmts.termId.get(t)?.id as number | undefined;
          if (id !== undefined)
            this.termCache.set(t, id); // committed by an earlier transaction
          else fresh.set(t, (id = Number(this.stmts.addTerm.run(t).lastInsertRowid) - 1));
          return id;
        });
      const segment = new SegmentBuilder();
      const sums = { items: 0, length: 0, sentences: 0, sentenceLength: 0 };
      for (const it of items) {
        const sentences = it.sentences.map(ids);
        const blob = bytesOf(ItemWords.encode(sentences));
        const r = this.stmts.addItem.run(it.key, blob, it.vector.length ? bytesOf(it.vector) : null);
        if (!Number(r.changes)) continue; // already there
        const keys = withBigrams(sentences.flat());
        segment.add(Number(r.lastInsertRowid), keys, sentences);
        sums.items++;
        sums.length += keys.length;
        sums.sentences += sentences.length;
        sums.sentenceLength += sentences.reduce((n, s) => n + s.length, 0);
      }
      if (!sums.items) return 0;
      const id = Number(this.stmts.addSegment.run(0).lastInsertRowid);
      for (const row of segment.rows()) this.addPosting(id, row.key, row.units, row.sentences, row.data);
      this.flushPostings();
      this.stmts.addTotals.run(sums.items, sums.length, sums.sentences, sums.sentenceLength);
      for (let level = 0; this.mergeLevel(level); level++);
      return sums.items;
    });
    for (const [t, id] of fresh) this.termCache.set(t, id);
    return added;
  }

  /** Merges level `level` into one segment of the next when it is full; true if it did. */
  private mergeLevel(level: number): boolean {
    const segments = this.stmts.levels.all(level).map((r) => Number(r.id));
    if (segments.length < MERGE_FACTOR) return false;
    const merged = Number(this.stmts.addSegment.run(level + 1).lastInsertRowid);
    // A k-way merge by term over the segments' rows, a chunk of each at a time.
    const cursors = segments.map((s) => ({ s, rows: [] as Record<string, unknown>[], at: 0, after: -1, done: false }));
    const current = (c: (typeof cursors)[number]) => {
      if (c.at === c.rows.length && !c.done) {
        c.rows = this.stmts.segmentRows.all(c.s, c.after, MERGE_CHUNK);
        c.at = 0;
        c.done = c.rows.length < MERGE_CHUNK;
        if (c.rows.length) c.after = Number(c.rows.at(-1)!.term);
      }
      return c.rows[c.at] as { term: number; units: number; sentences: number; data: Uint8Array } | undefined;
    };
    for (;;) {
      let term = Number.POSITIVE_INFINITY;
      for (const c of cursors) {
        const r = current(c);
        if (r && Number(r.term) < term) term = Number(r.term);
      }
      if (term === Number.POSITIVE_INFINITY) break;
      const parts: Uint8Array[] = [];
      let sentences = 0;
      for (const c of cursors) {
        const r = current(c);
        if (!r || Number(r.term) !== term) continue;
        parts.push(r.data);
        sentences += Number(r.sentences);
        c.at++;
      }
      const { data, count } = mergePostings(parts);
      this.addPosting(merged, term, count, sentences, data);
    }
    this.flushPostings();
    for (const s of segments) {
      this.stmts.dropPostings.run(s);
      this.stmts.dropSegment.run(s);
    }
    return true;
  }

  /** Queues one postings row, written ROWS_PER_INSERT at a time (flushPostings writes the rest). */
  private addPosting(segment: number, term: number, units: number, sentences: number, data: Uint8Array): void {
    this.pendingRows.push(segment, term, units, sentences, data);
    if (this.pendingRows.length === 5 * ROWS_PER_INSERT) {
      this.stmts.insertRows.run(...this.pendingRows);
      this.pendingRows.length = 0;
    }
  }

  private flushPostings(): void {
    for (let i = 0; i < this.pendingRows.length; i += 5) this.stmts.insertRow.run(...this.pendingRows.slice(i, i + 5));
    this.pendingRows.length = 0;
  }

  /** Closes the database; a second close does nothing (node:sqlite would throw, better-sqlite3 does not). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }
}
