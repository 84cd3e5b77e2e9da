import type { ItemWords } from './item-words.js';
import { forEachPosting } from './postings.js';

/** Term ids stay below this; bigram keys sit above it, so one key space holds both. */
const BIGRAM_BASE = 2 ** 26;
/**
 * Bigrams are hashed into this many buckets: keys stay small integers (fast map keys, no per-bigram
 * string), and a rare collision only lends a bigram bonus to an unrelated phrase.
 */
const BIGRAM_BUCKETS = 2 ** 22;

/** Word ids and adjacent-word bigram keys: bigrams reward pages that use the query's phrases. */
export function withBigrams(ids: readonly number[]): number[] {
  const out = [...ids];
  for (let i = 1; i < ids.length; i++) {
    const h = Math.imul(ids[i - 1]! + 1, 0x9e3779b1) ^ ids[i]!;
    out.push(BIGRAM_BASE + ((Math.imul(h, 0x85ebca6b) >>> 0) % BIGRAM_BUCKETS));
  }
  return out;
}

/**
 * Marks which of n entries a query has touched, without clearing anything between queries: an entry
 * is marked when its stamp equals the current generation. Queries touch a few thousand of hundreds of
 * thousands of units, so per-query maps or zero-filled arrays would cost more than the scoring.
 */
export class Marks {
  private stamps = new Uint32Array(0);
  private generation = 0;

  /** Starts a new set of marks over entries 0..n-1. */
  begin(n: number): void {
    if (n > this.stamps.length) this.stamps = new Uint32Array(Math.max(n, 2 * this.stamps.length));
    if (++this.generation === 0xffffffff) {
      this.stamps.fill(0);
      this.generation = 1;
    }
  }

  /** Marks entry i; true if it was not marked yet in this set. */
  mark(i: number): boolean {
    if (this.stamps[i] === this.generation) return false;
    this.stamps[i] = this.generation;
    return true;
  }

  has(i: number): boolean {
    return this.stamps[i] === this.generation;
  }
}

/** Inverse document frequency, BM25's (always positive). */
export function idfOf(units: number, df: number): number {
  return Math.log(1 + (units - df + 0.5) / (df + 0.5));
}

/** BM25's parameters for whole pages, and for the passage windows (shorter units saturate sooner). */
export const PAGE_BM25 = { k1: 1.2, b: 0.75 };
export const WINDOW_BM25 = { k1: 0.7, b: 0.75 };

/**
 * Page-level BM25 accumulated one term at a time from stored postings, into arrays indexed by item
 * number and reused across queries: a query touches the items holding its terms and nothing else.
 */
export class PageScores {
  private readonly marks = new Marks();
  private scores = new Float64Array(0);
  private touched: number[] = [];

  /** Starts a query over items numbered up to `maxItem`. */
  begin(maxItem: number): void {
    this.marks.begin(maxItem + 1);
    if (this.scores.length <= maxItem) this.scores = new Float64Array(Math.max(maxItem + 1, 2 * this.scores.length));
    this.touched = [];
  }

  /** Adds one term's contribution: its postings, its idf, and the average item length. */
  add(parts: readonly Uint8Array[], idf: number, avgLength: number): void {
    const { k1, b } = PAGE_BM25;
    const scores = this.scores;
    for (const p of parts)
      forEachPosting(p, (item, tf, length) => {
        if (this.marks.mark(item)) {
          scores[item] = 0;
          this.touched.push(item);
        }
        scores[item]! += (idf * tf * (k1 + 1)) / (tf + k1 * (1 - b + (b * length) / avgLength));
      });
  }

  /** The `k` best items touched, best first (ties to the earlier item). */
  top(k: number): { item: number; score: number }[] {
    const items = this.touched;
    // A plain loop: Float64Array.from with a mapping function took a third of a query at 100k pages.
    const scores = new Float64Array(items.length);
    for (let r = 0; r < items.length; r++) scores[r] = this.scores[items[r]!]!;
    return topIndices(scores, k, (r) => items[r]!).map((r) => ({ item: items[r]!, score: scores[r]! }));
  }
}

/**
 * A page's best window score for each half-width in `halves`. A window is the sentences within `half`
 * of a centre sentence, clipped to the page; its term counts and length are sums over its sentences,
 * and only the windows around the few sentences that hold a query word are scored.
 * `terms` are the query's distinct word ids, `idf` their sentence-level idf, `avgLength` the average
 * sentence length.
 */
export function windowScores(
  page: ItemWords,
  terms: readonly number[],
  idf: readonly number[],
  avgLength: number,
  halves: readonly number[],
): number[] {
  const { k1, b } = WINDOW_BM25;
  const T = terms.length;
  const m = page.lengths.length;
  // counts[s * T + k]: occurrences of term k in sentence s, for the sentences holding any (listed in `holding`).
  const counts = new Float64Array(m * T);
  const held = new Uint8Array(m);
  terms.forEach((t, k) => {
    for (const s of page.sentencesWith(t)) {
      counts[s * T + k]!++;
      held[s] = 1;
    }
  });
  const holding: number[] = [];
  for (let s = 0; s < m; s++) if (held[s]) holding.push(s);
  const lengths = new Float64Array(m + 1);
  for (let i = 0; i < m; i++) lengths[i + 1] = lengths[i]! + page.lengths[i]!;
  const tf = new Float64Array(T);
  return halves.map((half) => {
    const normLength = (k1 * b) / (avgLength * (2 * half + 1));
    const scored = new Uint8Array(m);
    let best = 0;
    // Only windows holding a query word score above 0: the centres within `half` of a sentence that holds one.
    for (const s of holding) {
      for (let c = Math.max(0, s - half); c <= Math.min(m - 1, s + half); c++) {
        if (scored[c]) continue;
        scored[c] = 1;
        const lo = Math.max(0, c - half);
        const hi = Math.min(m - 1, c + half);
        tf.fill(0);
        for (let j = lo; j <= hi; j++) if (held[j]) for (let k = 0; k < T; k++) tf[k]! += counts[j * T + k]!;
        const norm = k1 * (1 - b) + normLength * (lengths[hi + 1]! - lengths[lo]!);
        let score = 0;
        for (let k = 0; k < T; k++) if (tf[k]) score += (idf[k]! * tf[k]! * (k1 + 1)) / (tf[k]! + norm);
        if (score > best) best = score;
      }
    }
    return best;
  });
}

/**
 * Indices of the `k` highest positive scores, best first: a bounded min-heap, so a query over many
 * pages costs one pass plus a heap operation per score that beats the k-th best so far.
 */
export function topIndices(scores: Float64Array, k: number, order: (i: number) => number = (i) => i): number[] {
  const heap: number[] = [];
  const less = (a: number, b: number) => scores[a]! < scores[b]! || (scores[a] === scores[b] && order(a) > order(b));
  const down = (i: number) => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && less(heap[l]!, heap[m]!)) m = l;
      if (r < heap.length && less(heap[r]!, heap[m]!)) m = r;
      if (m === i) return;
      [heap[i], heap[m]] = [heap[m]!, heap[i]!];
      i = m;
    }
  };
  for (let i = 0; i < scores.length; i++) {
    if (!(scores[i]! > 0)) continue;
    if (heap.length < k) {
      heap.push(i);
      for (let c = heap.length - 1; c > 0; ) {
        const p = (c - 1) >> 1;
        if (!less(heap[c]!, heap[p]!)) break;
        [heap[c], heap[p]] = [heap[p]!, heap[c]!];
        c = p;
      }
    } else if (k > 0 && less(heap[0]!, i)) {
      heap[0] = i;
      down(0);
    }
  }
  // Ties go to the earlier entry (by `order`), as a stable sort of the scores would order them.
  return heap.sort((a, b) => scores[b]! - scores[a]! || order(a) - order(b));
}
