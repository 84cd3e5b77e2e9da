import { Retries, type Timers } from '../../backoff.js';
import type { Tokenizer } from '../../core/tokenizer.js';
import type { Embedder } from '../../embed/embedder.js';
import { passagesOf } from '../../embed/passages.js';
import { Status, type StatusListener } from '../status.js';
import { type IndexItem, type ItemKind, itemOfKey, keyOf } from './index.js';
import type { PassageVector, VectorStore } from './vector-store.js';

/** What the embedded index needs to rank by meaning too. */
export interface SemanticOptions {
  embedder: Embedder;
  /** Items' texts by page id and kind (from L4): the index keeps analysed words, not text. */
  texts: (items: { pageId: string; kind: ItemKind }[]) => Promise<IndexItem[]>;
  /** Counts passage tokens (the configured encoding). */
  tokenizer: Tokenizer;
  /** Where the endpoint is, for messages (never the key). */
  describe: string;
  /** Delay before retrying after a failure, doubling up to `maxRetryMs`. Default 2 s up to 5 min. */
  retryMs?: number;
  maxRetryMs?: number;
  timers?: Timers;
}

/** Items embedded per round: a bounded batch of requests, so progress is committed often. */
const ITEMS_PER_ROUND = 16;
/** Item rows read per look at the queue. */
const SCAN_CHUNK = 1000;

/**
 * Fills in the passage vectors of items indexed without them, in the background, so that ingest never waits
 * on the endpoint: the queue is the index itself (items with no vector rows), so a process killed mid-way
 * resumes at its next open, and several processes filling at once only waste a request (rows are keyed).
 * The endpoint down is reported once, retried with backoff, and reported once again when it is back.
 */
export class VectorCatchUp {
  private readonly status = new Status();
  private readonly retries: Retries<'endpoint'>;
  private readonly abort = new AbortController();
  private running: Promise<void> | undefined;
  private again = false;
  private closed = false;
  /** Items up to this number have vectors (as far as this process has looked). */
  private cursor = 0;

  constructor(
    private readonly store: VectorStore,
    private readonly opts: SemanticOptions,
  ) {
    const initialMs = opts.retryMs ?? 2000;
    this.retries = new Retries({ initialMs, maxMs: opts.maxRetryMs ?? 5 * 60_000 }, opts.timers);
  }

  /** Whether the endpoint is worth asking: not known to be down. */
  reachable(): boolean {
    return !this.closed && (!this.status.settled || this.status.up);
  }

  onStatus(listener: StatusListener): () => void {
    return this.status.on(listener);
  }

  /** Starts a round unless one runs (then it runs again after) or a retry waits for its time. */
  kick(): void {
    if (this.closed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.retries.pending('endpoint')) return;
    this.running = this.run().finally(() => {
      this.running = undefined;
      if (this.again && !this.closed) {
        this.again = false;
        this.kick();
      }
    });
  }

  /** Resolves when no round is running (tests; close). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Marks the endpoint down (a failed query embedding too) and schedules a retry. */
  lost(err: unknown): void {
    if (this.closed) return;
    this.status.set(false, err instanceof Error ? err : new Error(String(err)));
    this.retries.failed('endpoint', () => this.kick());
  }

  async close(): Promise<void> {
    this.closed = true;
    this.abort.abort();
    this.retries.cancel();
    this.status.clear();
    await this.idle();
  }

  private async run(): Promise<void> {
    try {
      let asked = false;
      for (let batch = await this.pending(); batch.length && !this.closed; batch = await this.pending()) {
        await this.fill(batch);
        asked = true;
        this.cursor = batch.at(-1)!.no;
        // Only a recovery is news: the first success of a process is not reported.
        if (this.status.settled) this.status.set(true);
      }
      // Down with nothing left to embed: one small request says whether it is back.
      if (!asked && this.status.settled && !this.status.up && !this.closed)
        await this.opts.embedder.embed(['vmem'], { signal: this.abort.signal });
      if (this.closed) return;
      this.retries.succeeded('endpoint');
      if (this.status.settled) this.status.set(true);
    } catch (err) {
      if (!this.closed) this.lost(err);
    }
  }

  /** The next items without vectors after the cursor, up to ITEMS_PER_ROUND; advances past those done. */
  private async pending(): Promise<{ no: number; key: string }[]> {
    const out: { no: number; key: string }[] = [];
    for (let after = this.cursor; ; ) {
      const rows = this.store.itemsAfter(after, SCAN_CHUNK);
      for (const r of rows) {
        if (!r.done) out.push(r);
        else if (!out.length) this.cursor = r.no;
        if (out.length === ITEMS_PER_ROUND) return out;
      }
      if (rows.length < SCAN_CHUNK || this.closed) return out;
      after = rows.at(-1)!.no;
      await new Promise((r) => setImmediate(r)); // a store of a million items is read without holding the loop
    }
  }

  private async fill(batch: { no: number; key: string }[]): Promise<void> {
    const items = await this.opts.texts(batch.map((b) => itemOfKey(b.key)));
    const textOf = new Map(items.map((it) => [keyOf(it.meta.id, it.kind), it.text]));
    // An item whose text L4 no longer has gets the empty row: `vmem reindex` is what restores it.
    const passages = batch.map((b) => passagesOf(textOf.get(b.key) ?? '', this.opts.tokenizer));
    const flat = passages.flat();
    const vectors = flat.length ? await this.opts.embedder.embed(flat, { signal: this.abort.signal }) : [];
    if (this.closed) return;
    const rows: PassageVector[] = [];
    let at = 0;
    batch.forEach((b, i) => {
      const n = passages[i]!.length;
      if (!n) rows.push({ item: b.no, passage: 0, vector: new Float32Array(0) });
      for (let p = 0; p < n; p++) rows.push({ item: b.no, passage: p, vector: vectors[at++]! });
    });
    this.store.add(rows, this.opts.describe);
  }
}
