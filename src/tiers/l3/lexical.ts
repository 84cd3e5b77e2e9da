/**
 * BM25 over one granularity of text units. Incremental: units are added as pages are ingested,
 * document frequencies and the average length follow.
 */
export class Bm25 {
  private readonly postings = new Map<string, { unit: number[]; tf: number[] }>();
  private readonly lengths: number[] = [];
  /** Unit → page it belongs to. */
  readonly owner: number[] = [];
  private totalLength = 0;

  constructor(
    private readonly k1 = 1.2,
    private readonly b = 0.75,
  ) {}

  get units(): number {
    return this.lengths.length;
  }

  add(page: number, terms: readonly string[]): void {
    const unit = this.lengths.length;
    this.lengths.push(terms.length);
    this.owner.push(page);
    this.totalLength += terms.length;
    const tf = new Map<string, number>();
    for (const t of terms) tf.set(t, (tf.get(t) ?? 0) + 1);
    for (const [t, n] of tf) {
      let p = this.postings.get(t);
      if (!p) this.postings.set(t, (p = { unit: [], tf: [] }));
      p.unit.push(unit);
      p.tf.push(n);
    }
  }

  /** Best unit score per page, into `out` (indexed by page). */
  scorePages(queryTerms: readonly string[], out: Float64Array): void {
    const n = this.lengths.length;
    if (!n) return;
    const avg = this.totalLength / n;
    const unitScores = new Map<number, number>();
    for (const t of new Set(queryTerms)) {
      const p = this.postings.get(t);
      if (!p) continue;
      const idf = Math.log(1 + (n - p.unit.length + 0.5) / (p.unit.length + 0.5));
      for (let i = 0; i < p.unit.length; i++) {
        const u = p.unit[i]!;
        const f = p.tf[i]!;
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

/** Words and adjacent-word bigrams: bigrams reward pages that use the query's phrases. */
export function withBigrams(terms: readonly string[]): string[] {
  const out = [...terms];
  for (let i = 1; i < terms.length; i++) out.push(`${terms[i - 1]}_${terms[i]}`);
  return out;
}
