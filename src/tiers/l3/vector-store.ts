import { EmbedderMismatchError } from '../../errors.js';
import { type Database, ensureSchema, openDatabase, transaction } from '../../store/sqlite.js';
import { REMOVED_ITEM } from './lexical-store.js';

/**
 * Passage vectors, in the embedded index's SQLite file (its own connection, its own table): a row per
 * (item, passage), keyed so that two processes embedding the same item at once insert it once. An item
 * with no text to embed gets one empty row, so it leaves the queue of items without vectors.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS passage_vectors (
  item INTEGER NOT NULL, passage INTEGER NOT NULL, vector BLOB NOT NULL,
  PRIMARY KEY (item, passage)) WITHOUT ROWID;
`;

/** The meta key of the vectors' dimension, set by the first vectors written. */
const DIM_KEY = 'vector_dim';

export interface PassageVector {
  item: number;
  passage: number;
  /** Empty for an item with nothing to embed. */
  vector: Float32Array;
}

const bytesOf = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** A Float32Array over a blob, copied only when SQLite's buffer is not 4-byte aligned. */
function floatsOf(blob: Uint8Array): Float32Array {
  if (blob.byteOffset % 4 === 0) return new Float32Array(blob.buffer, blob.byteOffset, blob.byteLength / 4);
  return new Float32Array(blob.buffer.slice(blob.byteOffset, blob.byteOffset + blob.byteLength));
}

export class VectorStore {
  private readonly stmts;
  private closed = false;

  private constructor(
    private readonly db: Database,
    readonly file: string,
  ) {
    const q = (sql: string) => db.prepare(sql);
    this.stmts = {
      meta: q('SELECT value FROM meta WHERE key = ?'),
      setMeta: q('INSERT OR IGNORE INTO meta VALUES (?, ?)'),
      add: q('INSERT OR IGNORE INTO passage_vectors VALUES (?, ?, ?)'),
      drop: q('DELETE FROM passage_vectors WHERE item = ?'),
      // The queue of items without vectors, read a bounded run of item numbers at a time; a removed item has none to get.
      itemsAfter: q(
        `SELECT no, key, (${REMOVED_ITEM} OR EXISTS (SELECT 1 FROM passage_vectors v WHERE v.item = i.no)) AS done FROM items i WHERE no > ? ORDER BY no LIMIT ?`,
      ),
      scan: q(
        'SELECT item, passage, vector FROM passage_vectors WHERE (item, passage) > (?, ?) ORDER BY item, passage LIMIT ?',
      ),
    };
  }

  /** Opens the vectors' table in `file`, the embedded index's database (whose tables already exist). */
  static open(file: string): VectorStore {
    const db = openDatabase(file);
    ensureSchema(db, 'passage_vectors', SCHEMA);
    return new VectorStore(db, file);
  }

  /** The dimension of the stored vectors; undefined before the first. */
  dim(): number | undefined {
    const v = this.stmts.meta.get(DIM_KEY)?.value;
    return v === undefined ? undefined : Number(v);
  }

  /**
   * Adds the vectors in one transaction; rows already there (another process's) are kept. Vectors of
   * another dimension than the stored ones are refused: the model changed, and two models' vectors never mix.
   */
  add(rows: readonly PassageVector[], describe: string): void {
    transaction(this.db, () => {
      const dims = new Set(rows.filter((r) => r.vector.length).map((r) => r.vector.length));
      for (const dim of dims) {
        this.stmts.setMeta.run(DIM_KEY, String(dim));
        const stored = this.dim();
        if (stored !== dim)
          throw new EmbedderMismatchError(
            `${describe} returned vectors of dimension ${dim}, but the L3 index at ${this.file} holds vectors of dimension ${stored}; run \`vmem reindex\` to rebuild it from L4`,
          );
      }
      for (const r of rows) this.stmts.add.run(r.item, r.passage, bytesOf(r.vector));
    });
  }

  /** Drops removed items' vectors (the catch-up never queues a removed item, whose key says it is removed). */
  remove(items: readonly number[]): void {
    if (items.length) transaction(this.db, () => items.forEach((item) => this.stmts.drop.run(item)));
  }

  /** Up to `limit` items after item number `after`, with whether each has its vectors. */
  itemsAfter(after: number, limit: number): { no: number; key: string; done: boolean }[] {
    return this.stmts.itemsAfter
      .all(after, limit)
      .map((r) => ({ no: Number(r.no), key: r.key as string, done: Number(r.done) === 1 }));
  }

  /** Every passage vector, streamed `chunk` rows at a time in item order (memory stays bounded at any size). */
  *scan(chunk = 4096): Generator<{ item: number; vector: Float32Array }> {
    for (let item = 0, passage = -1; ; ) {
      const rows = this.stmts.scan.all(item, passage, chunk);
      for (const r of rows) {
        const blob = r.vector as Uint8Array;
        if (blob.byteLength) yield { item: Number(r.item), vector: floatsOf(blob) };
      }
      if (rows.length < chunk) return;
      item = Number(rows.at(-1)!.item);
      passage = Number(rows.at(-1)!.passage);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }
}
