/** Interns terms as small integers: postings keyed by numbers are several times cheaper to build than by strings. */
export class Vocabulary {
  private readonly ids = new Map<string, number>();

  /** The term's id, assigning the next one to a new term. */
  id(term: string): number {
    let id = this.ids.get(term);
    if (id === undefined) this.ids.set(term, (id = this.ids.size));
    return id;
  }

  /** The term's id, or undefined for a term no page has. */
  find(term: string): number | undefined {
    return this.ids.get(term);
  }
}

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

/** Appends `unit` with each distinct term's count to that term's postings ([unit, tf, unit, tf, …]). */
function addPostings(postings: Map<number, number[]>, unit: number, terms: readonly number[]): void {
  const tf = new Map<number, number>();
  for (const t of terms) tf.set(t, (tf.get(t) ?? 0) + 1);
  for (const [t, n] of tf) {
    const p = postings.get(t);
    if (p) p.push(unit, n);
    else postings.set(t, [unit, n]);
  }
}

/**
 * Marks which of n entries a query has touched, without clearing anything between queries: an entry
 * is marked when its stamp equals the current generation. Queries touch a few thousand of hundreds of
 * thousands of units, so per-query maps or zero-filled arrays would cost more than the scoring.
 */
class Marks {
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

/** A Float64Array of at least n entries, reusing `a` when it is big enough (contents not kept). */
function atLeast(a: Float64Array<ArrayBuffer>, n: number): Float64Array<ArrayBuffer> {
  return n <= a.length ? a : new Float64Array(Math.max(n, 2 * a.length));
}

/** Inverse document frequency, BM25's (always positive). */
function idfOf(units: number, df: number): number {
  return Math.log(1 + (units - df + 0.5) / (df + 0.5));
}

/**
 * BM25 over one granularity of text units. Incremental: units are added as pages are ingested,
 * document frequencies and the average length follow.
 */
export class Bm25 {
  /** Term → [unit, tf, unit, tf, …]: one array per term keeps building the index cheap. */
  private readonly postings = new Map<number, number[]>();
  private readonly lengths: number[] = [];
  /** Unit → page it belongs to. */
  private readonly owner: number[] = [];
  private totalLength = 0;
  private readonly marks = new Marks();
  private scores = new Float64Array(0);

  constructor(
    private readonly k1 = 1.2,
    private readonly b = 0.75,
  ) {}

  add(page: number, terms: readonly number[]): void {
    const unit = this.lengths.length;
    this.lengths.push(terms.length);
    this.owner.push(page);
    this.totalLength += terms.length;
    addPostings(this.postings, unit, terms);
  }

  /** Best unit score per page, into `out` (indexed by page). */
  scorePages(queryTerms: readonly number[], out: Float64Array): void {
    const n = this.lengths.length;
    if (!n) return;
    const avg = this.totalLength / n;
    this.marks.begin(n);
    const scores = (this.scores = atLeast(this.scores, n));
    const touched: number[] = [];
    for (const t of new Set(queryTerms)) {
      const p = this.postings.get(t);
      if (!p) continue;
      const idf = idfOf(n, p.length / 2);
      for (let i = 0; i < p.length; i += 2) {
        const u = p[i]!;
        const f = p[i + 1]!;
        if (this.marks.mark(u)) {
          scores[u] = 0;
          touched.push(u);
        }
        scores[u]! += (idf * f * (this.k1 + 1)) / (f + this.k1 * (1 - this.b + (this.b * this.lengths[u]!) / avg));
      }
    }
    for (const u of touched) {
      const page = this.owner[u]!;
      if (scores[u]! > out[page]!) out[page] = scores[u]!;
    }
  }
}

/**
 * BM25 over sentence windows of several sizes, from one sentence-level index. A window is the
 * sentences within `half` of a centre sentence, clipped to its page; its term counts and length are
 * sums over its sentences, so every window size is scored at query time from the same postings
 * (one copy of the text, instead of one per overlapping window). Cost: the sentences holding a query
 * term, times the window width squared, times the query's terms. IDF is over sentences.
 */
export class SentenceWindows {
  /** Term → [sentence, tf, sentence, tf, …]. */
  private readonly postings = new Map<number, number[]>();
  /** Prefix sums of sentence lengths: sentences a..b hold ends[b + 1] - ends[a] terms. */
  private readonly ends: number[] = [0];
  /** Sentence → page it belongs to. */
  private readonly owner: number[] = [];
  /** Page → its first sentence; a page's sentences are contiguous. */
  private readonly first: number[] = [];
  private readonly count: number[] = [];
  /** Per query: the sentences holding a query term, and their row in `tfs`. */
  private readonly holding = new Marks();
  private row = new Int32Array(0);
  /** Per query: term counts, one row of the query's terms per sentence that holds any. */
  private tfs = new Float64Array(0);
  /** Per window size: the centres already scored. */
  private readonly scored = new Marks();

  constructor(
    private readonly k1 = 0.7,
    private readonly b = 0.75,
  ) {}

  /** Adds page `page` (pages are added in order 0, 1, 2, ...) as its analysed sentences. */
  add(page: number, sentences: readonly (readonly number[])[]): void {
    this.first[page] = this.owner.length;
    this.count[page] = sentences.length;
    for (const terms of sentences) {
      const s = this.owner.length;
      this.ends.push(this.ends[s]! + terms.length);
      this.owner.push(page);
      addPostings(this.postings, s, terms);
    }
  }

  /**
   * For each half-width in `halves`, the best window score of each page `rows` selects, into the
   * matching array of `out` at the page's row (`rows[page]` is 1 + its row, 0 for a page not scored).
   */
  scorePages(
    queryTerms: readonly number[],
    halves: readonly number[],
    rows: Int32Array,
    out: readonly Float64Array[],
  ): void {
    const n = this.owner.length;
    const terms = [...new Set(queryTerms)].filter((t) => this.postings.has(t));
    const T = terms.length;
    if (!n || !T) return;
    const idf = terms.map((t) => idfOf(n, this.postings.get(t)!.length / 2));
    const avg = this.ends[n]! / n;

    // Term counts per sentence, for the sentences that hold any query term.
    this.holding.begin(n);
    if (this.row.length < n) this.row = new Int32Array(Math.max(n, 2 * this.row.length));
    const holding: number[] = [];
    terms.forEach((t, k) => {
      const p = this.postings.get(t)!;
      for (let i = 0; i < p.length; i += 2) {
        const s = p[i]!;
        if (!rows[this.owner[s]!]) continue;
        if (this.holding.mark(s)) {
          this.row[s] = holding.length;
          holding.push(s);
          this.tfs = growRows(this.tfs, holding.length, T);
          this.tfs.fill(0, (holding.length - 1) * T, holding.length * T);
        }
        this.tfs[this.row[s]! * T + k]! += p[i + 1]!;
      }
    });

    const tf = new Float64Array(T);
    halves.forEach((half, h) => {
      const scores = out[h]!;
      const norm0 = this.k1 * (1 - this.b);
      const normLength = (this.k1 * this.b) / (avg * (2 * half + 1));
      this.scored.begin(n);
      for (const s of holding) {
        // Every window holding sentence s: centres within `half` of it, on its page.
        const [lo, hi] = this.span(s, half);
        for (let c = lo; c <= hi; c++) {
          if (!this.scored.mark(c)) continue;
          const [a, b] = this.span(c, half);
          tf.fill(0);
          for (let j = a; j <= b; j++) {
            if (!this.holding.has(j)) continue;
            const r = this.row[j]! * T;
            for (let k = 0; k < T; k++) tf[k]! += this.tfs[r + k]!;
          }
          const norm = norm0 + normLength * (this.ends[b + 1]! - this.ends[a]!);
          let score = 0;
          for (let k = 0; k < T; k++) if (tf[k]) score += (idf[k]! * tf[k]! * (this.k1 + 1)) / (tf[k]! + norm);
          const r = rows[this.owner[c]!]! - 1;
          if (score > scores[r]!) scores[r] = score;
        }
      }
    });
  }

  /** The sentences within `half` of sentence `s`, clipped to its page. */
  private span(s: number, half: number): [number, number] {
    const page = this.owner[s]!;
    const first = this.first[page]!;
    return [Math.max(first, s - half), Math.min(first + this.count[page]! - 1, s + half)];
  }
}

/** `a` with room for `rows` rows of `width`, keeping its contents (doubling when it grows). */
function growRows(a: Float64Array<ArrayBuffer>, rows: number, width: number): Float64Array<ArrayBuffer> {
  if (rows * width <= a.length) return a;
  const b = new Float64Array(Math.max(rows * width, 2 * a.length));
  b.set(a);
  return b;
}

/**
 * Indices of the `k` highest positive scores, best first: a bounded min-heap, so a query over many
 * pages costs one pass plus a heap operation per score that beats the k-th best so far.
 */
export function topIndices(scores: Float64Array, k: number): number[] {
  const heap: number[] = [];
  const less = (a: number, b: number) => scores[a]! < scores[b]! || (scores[a] === scores[b] && a > b);
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
  // Ties go to the earlier page, as a stable sort of the scores would order them.
  return heap.sort((a, b) => scores[b]! - scores[a]! || a - b);
}
