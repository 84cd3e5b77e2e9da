import type { ItemWords } from './item-words.js';
import { Column, Varints } from './postings.js';

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
 * The entries a query has reached, each given a slot (0, 1, 2… in the order first reached), without
 * clearing anything between queries: an entry is in when its stamp equals the current generation. Queries
 * reach thousands of a million items, so per-query maps or zero-filled arrays would cost more than the
 * scoring, and the slots keep what is kept per reached item in arrays as short as the query's reach.
 */
class Slots {
  private stamps = new Uint32Array(0);
  private slots = new Uint32Array(0);
  private generation = 0;
  count = 0;

  /** Starts a new set over entries 0..n-1. */
  begin(n: number): void {
    if (n > this.stamps.length) {
      const size = Math.max(n, 2 * this.stamps.length);
      this.stamps = new Uint32Array(size);
      this.slots = new Uint32Array(size);
    }
    if (++this.generation === 0xffffffff) {
      this.stamps.fill(0);
      this.generation = 1;
    }
    this.count = 0;
  }

  /** The slot of entry i, or -1 if it is not in the set. */
  of(i: number): number {
    return this.stamps[i] === this.generation ? this.slots[i]! : -1;
  }

  /** Puts entry i (not in the set) in it; returns its slot. */
  add(i: number): number {
    this.stamps[i] = this.generation;
    return (this.slots[i] = this.count++);
  }
}

/** Inverse document frequency, BM25's (always positive). */
export function idfOf(units: number, df: number): number {
  return Math.log(1 + (units - df + 0.5) / (df + 0.5));
}

/** BM25's parameters for whole pages, and for the passage windows (shorter units saturate sooner). */
export const PAGE_BM25 = { k1: 1.2, b: 0.75 };
export const WINDOW_BM25 = { k1: 0.7, b: 0.75 };

/** One query term's postings (in every segment), its idf, and how many items hold it. */
export interface TermList {
  parts: readonly Uint8Array[];
  idf: number;
  units: number;
}

/**
 * Page-level BM25 accumulated one term at a time from stored postings, into arrays reused across
 * queries: a query touches the items holding its terms and nothing else.
 */
export class PageScores {
  private readonly slots = new Slots();
  /** By slot: the item, and its score so far. */
  private readonly items = new Column(new Uint32Array(1 << 16));
  private readonly scores = new Column(new Float64Array(1 << 16));

  /**
   * The `k` best items by BM25 over `lists` (best first, ties to the earlier item), items numbered up to
   * `maxItem`, `avgLength` the average item length. Exact, but pruned as MaxScore does: a term adds less
   * than idf × (k1 + 1) to any item, so once the k-th best score so far beats what the terms left could
   * give an item not reached yet, those terms (the common ones, taken last) only add to the items reached.
   * At a million pages that skips most of the items of a query's common words. (A bound stored per term,
   * the largest share any item has, measured 1.1 ms less per query at a million pages: left for later.)
   */
  best(maxItem: number, lists: readonly TermList[], avgLength: number, k: number): { item: number; score: number }[] {
    const { k1 } = PAGE_BM25;
    this.slots.begin(maxItem + 1);
    this.items.length = 0;
    this.scores.length = 0;
    // Rarest first (ties in the caller's order, so equal pages tie the same way in every store).
    const order = lists.map((_, i) => i).sort((a, b) => lists[b]!.idf - lists[a]!.idf || a - b);
    // rest[j]: the most the lists from order[j] on could add to one item; units[j]: the postings they hold.
    const rest = new Float64Array(order.length + 1);
    const units = new Float64Array(order.length + 1);
    for (let j = order.length - 1; j >= 0; j--) {
      const l = lists[order[j]!]!;
      rest[j] = rest[j + 1]! + l.idf * (k1 + 1);
      units[j] = units[j + 1]! + l.units;
    }
    let open = true;
    order.forEach((i, j) => {
      // Finding the k-th best costs a pass over the items reached: worth it only while they are fewer than
      // the postings left. The margin keeps rounding in the sums from ever excluding a tie.
      const reached = this.slots.count;
      if (open && reached >= k && reached <= units[j]! && this.kth(k) > rest[j]! * (1 + 1e-9)) open = false;
      this.add(lists[i]!, avgLength, open);
    });
    return this.top(k);
  }

  /** Adds one term's contribution to every item holding it, or with `open` false only to the items reached. */
  private add({ parts, idf }: TermList, avgLength: number, open: boolean): void {
    const { k1, b } = PAGE_BM25;
    const slots = this.slots;
    if (open) {
      // Room for every posting the parts can hold (one takes three bytes at least), whatever they say they hold.
      const most = parts.reduce((n, p) => n + Math.floor(p.length / 3), 0);
      this.items.reserve(most);
      this.scores.reserve(most);
    }
    const items = this.items.data;
    const scores = this.scores.data;
    // The hot loop of a query (a common word is in one page of ten): read in place, as a callback per
    // posting (forEachPosting) made it half as fast.
    for (const data of parts) {
      const read = new Varints(data);
      for (let item = 0; read.at < data.length; ) {
        item += read.next();
        const tf = read.next();
        const length = read.next();
        let slot = slots.of(item);
        if (slot < 0) {
          if (!open) continue;
          slot = slots.add(item);
          items[slot] = item;
          scores[slot] = 0;
        }
        scores[slot]! += (idf * tf * (k1 + 1)) / (tf + k1 * (1 - b + (b * length) / avgLength));
      }
    }
    this.items.length = this.scores.length = slots.count;
  }

  /** The k-th best score of the items reached (there are at least k). */
  private kth(k: number): number {
    const best = this.top(k);
    return best[best.length - 1]!.score;
  }

  /** The `k` best items reached, best first (ties to the earlier item). */
  private top(k: number): { item: number; score: number }[] {
    const items = this.items.data;
    const scores = this.scores.data.subarray(0, this.scores.length);
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
    const score = scores[i]!;
    if (!(score > 0)) continue;
    // Most scores lose to the k-th best so far: one comparison, no call.
    if (heap.length === k && score < scores[heap[0]!]!) continue;
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
