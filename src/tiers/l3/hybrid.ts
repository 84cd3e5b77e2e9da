import { Retries, type Timers } from '../../backoff.js';
import { withDeadline } from '../../deadline.js';
import { EmbedderMismatchError } from '../../errors.js';
import { type Networked, Status, type StatusListener } from '../status.js';
import type { ChromaIndex } from './chroma.js';
import type { EmbeddedIndex } from './embedded.js';
import { type Hit, type IndexItem, type ItemKind, itemOfKey, keyOf, type L3Index } from './index.js';

export interface HybridOptions {
  /** The lexical ranker, in the data dir: always there, so a fault never depends on the network. */
  lexical: EmbeddedIndex;
  /** Opens the vector side (the Chroma collection); called again after every failure until it works. */
  connect: () => Promise<ChromaIndex>;
  /** Items by page id and kind (from L4), to add the pages and summaries indexed while Chroma was away. */
  texts: (items: { pageId: string; kind: ItemKind }[]) => Promise<IndexItem[]>;
  /** Weight of the cosine signal, normalised to the best candidate, added to the lexical score. Default VECTOR_WEIGHT. */
  vectorWeight?: number;
  /** Delay before the first reconnect attempt, doubling up to `maxRetryMs`. Default 2000 ms. */
  retryMs?: number;
  /** Longest delay between reconnect attempts. Default `retryMs` (a constant delay). */
  maxRetryMs?: number;
  /** When reconnects run: the system's timers unless a test brings its own clock. */
  timers?: Timers;
  /** A Chroma request not answered within this counts as an outage. Default 5000 ms. */
  timeoutMs?: number;
}

/**
 * The cosine's weight next to the lexical score (whose best is 1). With the offline hashing embedder
 * the cosine knows little the lexical ranker does not: on SQuAD dev, weights 0 / 0.03 / 0.06 / 0.1 give
 * recall@1 88.7 / 88.5 / 88.4 / 88.0 and recall@3 97.0 / 97.0 / 97.0 / 97.0. So it stays a light
 * tie-breaker; a semantic embedder is what would earn it more.
 */
export const VECTOR_WEIGHT = 0.03;
/** Candidates taken from each side before fusing: enough that a page ranked low by one side can still win. */
export const CANDIDATES = 50;
/** Pages sent to Chroma per request while catching up. */
const CATCH_UP_BATCH = 500;

/**
 * L3 on a Chroma server, with the lexical ranker kept beside it. Chroma holds every page's vector,
 * text and metadata, shared by every process pointing at the collection; the embedded lexical index
 * (BM25 pages and passages, in the data dir) ranks too, and the two are fused per query. Lexical
 * ranking carries the recall with the offline embedder; the vector side is what a semantic embedder
 * improves.
 *
 * Chroma down (at start or mid-run) never fails a call: faults are ranked by the lexical side alone,
 * upserts go to the lexical side, and the collection is reopened with backoff (see backoff.ts). Once it is back,
 * the pages it lacks are read from L4 and added, so nothing indexed meanwhile stays unsearchable.
 * Each transition is reported once through `onStatus`.
 */
export class HybridIndex implements L3Index {
  readonly name = 'chroma';
  private readonly status = new Status();
  private vectors: ChromaIndex | undefined;
  private readonly reconnects: Retries<'chroma'>;
  private catchingUp: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly timeoutMs: number;
  private readonly vectorWeight: number;

  private constructor(private readonly opts: HybridOptions) {
    const initialMs = opts.retryMs ?? 2000;
    this.reconnects = new Retries({ initialMs, maxMs: opts.maxRetryMs ?? initialMs }, opts.timers);
    this.timeoutMs = opts.timeoutMs ?? 5000;
    this.vectorWeight = opts.vectorWeight ?? VECTOR_WEIGHT;
  }

  /**
   * Opens both sides. An unreachable Chroma is an outage (reported, retried); a collection built by
   * another embedder is a configuration error and throws, so vectors of two embedders never mix.
   */
  static async open(opts: HybridOptions, onStatus?: StatusListener): Promise<HybridIndex> {
    const idx = new HybridIndex(opts);
    if (onStatus) idx.status.on(onStatus);
    try {
      await idx.connect(true);
    } catch (err) {
      await idx.close(); // and the lexical side it was given: nobody else holds it now
      throw err;
    }
    return idx;
  }

  available(): boolean {
    return !this.closed && this.status.up;
  }

  onStatus(listener: StatusListener): () => void {
    return this.status.on(listener);
  }

  /** Resolves when the pages missing from Chroma at the last (re)connection have been added. */
  caughtUp(): Promise<void> {
    return this.catchingUp;
  }

  async upsert(items: IndexItem[]): Promise<void> {
    await this.opts.lexical.upsert(items);
    const vectors = this.vectors;
    if (!vectors) return; // added when Chroma is back
    try {
      await withDeadline(vectors.upsert(items), this.timeoutMs);
    } catch (err) {
      this.lost(err);
    }
  }

  async query(query: string, k: number): Promise<Hit[]> {
    if (k <= 0) return [];
    const n = Math.max(k, CANDIDATES);
    const vectors = this.vectors;
    // Chroma's request goes out first (one turn of the event loop sends it), then the lexical side ranks
    // on this thread while Chroma works in its own process.
    const pending = vectors
      ? withDeadline(vectors.query(query, n), this.timeoutMs).catch((err: unknown): Hit[] => {
          this.lost(err);
          return [];
        })
      : [];
    if (vectors) await new Promise((r) => setImmediate(r));
    const lexical = await this.opts.lexical.query(query, n);
    const cosine = await pending;
    // Pages only the lexical index knows (not yet caught up in Chroma) keep their lexical score.
    const fused = new Map<string, number>(lexical.map((h) => [keyOf(h.pageId, h.kind), h.score]));
    const best = cosine.reduce((m, h) => Math.max(m, h.score), 0);
    if (best > 0 && this.vectorWeight > 0) {
      for (const h of cosine) {
        // Chroma may know pages of other data dirs on the same namespace: only this store's pages rank.
        if (h.score <= 0 || !this.opts.lexical.has(h.pageId, h.kind)) continue;
        const key = keyOf(h.pageId, h.kind);
        fused.set(key, (fused.get(key) ?? 0) + (this.vectorWeight * h.score) / best);
      }
    }
    return [...fused]
      .map(([key, score]) => ({ ...itemOfKey(key), score }))
      .sort((a, b) => b.score - a.score)
      .slice(0, k);
  }

  /**
   * Removes from both sides. Chroma unreachable: the embedded side alone, which is what ranks the store's
   * pages (a Chroma hit the embedded side no longer has is dropped in query), so nothing removed comes back.
   */
  async remove(pageIds: string[]): Promise<void> {
    await this.opts.lexical.remove(pageIds);
    const vectors = this.vectors;
    if (!vectors) return;
    try {
      await withDeadline(vectors.remove(pageIds), this.timeoutMs);
    } catch (err) {
      this.lost(err);
    }
  }

  /** The embedded side's embeddings endpoint goes down and comes back on its own, apart from Chroma. */
  local(): L3Index {
    return this.opts.lexical;
  }

  within(): Networked[] {
    return [this.opts.lexical];
  }

  has(pageId: string, kind?: ItemKind): boolean {
    return this.opts.lexical.has(pageId, kind);
  }

  size(): number {
    return this.opts.lexical.size();
  }

  async flush(): Promise<void> {
    await this.opts.lexical.flush();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.reconnects.cancel();
    this.status.clear();
    await this.catchingUp;
    await this.opts.lexical.close();
    await this.vectors?.close();
  }

  /** One attempt to open the collection; on success, adds what it lacks in the background. */
  private async connect(first: boolean): Promise<void> {
    try {
      const vectors = await withDeadline(this.opts.connect(), this.timeoutMs);
      if (this.closed) return;
      this.vectors = vectors;
      this.reconnects.succeeded('chroma');
      this.status.set(true);
      this.catchingUp = this.catchUp(vectors).catch((err: unknown) => this.lost(err));
    } catch (err) {
      if (first && err instanceof EmbedderMismatchError) throw err;
      this.lost(err);
    }
  }

  private async catchUp(vectors: ChromaIndex): Promise<void> {
    // Streamed from the lexical store a page of items at a time: the store may hold millions.
    let missing: { pageId: string; kind: ItemKind }[] = [];
    const send = async () => {
      const items = await this.opts.texts(missing);
      missing = [];
      await withDeadline(vectors.upsert(items), this.timeoutMs);
    };
    for (const it of this.opts.lexical.items()) {
      if (this.vectors !== vectors) return;
      if (vectors.has(it.pageId, it.kind)) continue;
      missing.push(it);
      if (missing.length === CATCH_UP_BATCH) await send();
    }
    if (missing.length && this.vectors === vectors) await send();
  }

  /** Marks Chroma down, reports it once, and schedules the next attempt. */
  private lost(err: unknown): void {
    if (this.closed) return;
    this.vectors = undefined;
    this.status.set(false, err instanceof Error ? err : new Error(String(err)));
    this.reconnects.failed('chroma', () => {
      if (!this.closed) void this.connect(false);
    });
  }
}
