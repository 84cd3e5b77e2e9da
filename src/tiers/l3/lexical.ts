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
    const unitScores = new Map<number, number>();
    for (const t of new Set(queryTerms)) {
      const p = this.postings.get(t);
      if (!p) continue;
      const df = p.length / 2;
      const idf = Math.log(1 + (n - df + 0.5) / (df + 0.5));
      for (let i = 0; i < p.length; i += 2) {
        const u = p[i]!;
        const f = p[i + 1]!;
        const s = (idf * f * (this.k1 + 1)) / (f + this.k1 * (1 - this.b + (this.b * this.lengths[u]!) / avg));
        unitScores.set(u, (unitScores.get(u) ?? 0) + s);
      }
    }
    for (const [u, s] of unitScores) {
      const page = this.owner[u]!;
      if (s > out[page]!) out[page] = s;
    }
  }
}

/**
 * BM25 over sentence windows of several sizes, from one sentence-level index. A window is the
 * sentences within `half` of a centre sentence, clipped to its page; its term counts and length are
 * sums over its sentences, so every window size is scored at query time from the same postings
 * (one copy of the text, instead of one per overlapping window). Cost: the query's postings times
 * the window width. IDF is over sentences.
 */
export class SentenceWindows {
  /** Term → [sentence, tf, sentence, tf, …]. */
  private readonly postings = new Map<number, number[]>();
  private readonly lengths: number[] = [];
  /** Sentence → page it belongs to. */
  private readonly owner: number[] = [];
  /** Page → its first sentence; a page's sentences are contiguous. */
  private readonly first: number[] = [];
  private readonly count: number[] = [];
  private totalLength = 0;

  constructor(
    private readonly k1 = 0.7,
    private readonly b = 0.75,
  ) {}

  /** Adds page `page` (pages are added in order 0, 1, 2, ...) as its analysed sentences. */
  add(page: number, sentences: readonly (readonly number[])[]): void {
    this.first[page] = this.lengths.length;
    this.count[page] = sentences.length;
    for (const terms of sentences) {
      const s = this.lengths.length;
      this.lengths.push(terms.length);
      this.owner.push(page);
      this.totalLength += terms.length;
      addPostings(this.postings, s, terms);
    }
  }

  /** For each half-width in `halves`, the best window score per page, into the matching array of `out`. */
  scorePages(queryTerms: readonly number[], halves: readonly number[], out: readonly Float64Array[]): void {
    const n = this.lengths.length;
    if (!n) return;
    const terms = [...new Set(queryTerms)].filter((t) => this.postings.has(t));
    const idf = terms.map((t) => {
      const df = this.postings.get(t)!.length / 2;
      return Math.log(1 + (n - df + 0.5) / (df + 0.5));
    });
    const avg = this.totalLength / n;
    halves.forEach((half, h) => {
      // Window centre → the query terms' counts in it.
      const windows = new Map<number, Float64Array>();
      terms.forEach((t, k) => {
        const p = this.postings.get(t)!;
        for (let i = 0; i < p.length; i += 2) {
          const [lo, hi] = this.span(p[i]!, half);
          for (let c = lo; c <= hi; c++) {
            let tf = windows.get(c);
            if (!tf) windows.set(c, (tf = new Float64Array(terms.length)));
            tf[k]! += p[i + 1]!;
          }
        }
      });
      const scores = out[h]!;
      const avgWindow = avg * (2 * half + 1);
      for (const [c, tf] of windows) {
        const [lo, hi] = this.span(c, half);
        let length = 0;
        for (let j = lo; j <= hi; j++) length += this.lengths[j]!;
        const norm = this.k1 * (1 - this.b + (this.b * length) / avgWindow);
        let s = 0;
        for (let k = 0; k < terms.length; k++) if (tf[k]) s += (idf[k]! * tf[k]! * (this.k1 + 1)) / (tf[k]! + norm);
        const page = this.owner[c]!;
        if (s > scores[page]!) scores[page] = s;
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
