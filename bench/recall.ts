/**
 * What the recall benchmarks share: the Recall figures, the BM25 baseline they are compared with, and the
 * table BENCHMARKS.md shows them in.
 */
import { fmt, table } from './stats.js';

export interface Recall {
  questions: number;
  recallAt1: number;
  recallAt3: number;
  bm25RecallAt1: number;
  bm25RecallAt3: number;
}

/** Plain Okapi BM25 over whole pages: the baseline, deliberately independent of the ranker under test. */
export function bm25Baseline(docs: string[][], k1 = 1.2, b = 0.75): (query: string[]) => number[] {
  const df = new Map<string, number>();
  const tfs = docs.map((d) => {
    const tf = new Map<string, number>();
    for (const t of d) tf.set(t, (tf.get(t) ?? 0) + 1);
    for (const t of tf.keys()) df.set(t, (df.get(t) ?? 0) + 1);
    return tf;
  });
  const avg = docs.reduce((s, d) => s + d.length, 0) / docs.length;
  return (query) => {
    const scores = docs.map((d, i) => {
      let s = 0;
      for (const t of new Set(query)) {
        const f = tfs[i]!.get(t) ?? 0;
        if (!f) continue;
        const n = df.get(t)!;
        const idf = Math.log(1 + (docs.length - n + 0.5) / (n + 0.5));
        s += (idf * f * (k1 + 1)) / (f + k1 * (1 - b + (b * d.length) / avg));
      }
      return s;
    });
    // Best first; ties keep ingest order, as a stable sort of the index would.
    return scores
      .map((s, i) => [s, i] as const)
      .filter(([s]) => s > 0)
      .sort((x, y) => y[0] - x[0])
      .map(([, i]) => i);
  };
}

/** The recall section's table in BENCHMARKS.md: the BM25 baseline, then page_fault. */
export function recallTable(r: Recall): string {
  return table(
    ['ranker', 'recall@1', 'recall@3'],
    [
      ['baseline: BM25 (page level, k1 1.2, b 0.75)', fmt(r.bm25RecallAt1, 3), fmt(r.bm25RecallAt3, 3)],
      ['vmem page_fault (embedded L3)', fmt(r.recallAt1, 3), fmt(r.recallAt3, 3)],
    ],
  );
}
