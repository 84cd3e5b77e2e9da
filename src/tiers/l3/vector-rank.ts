import { dot } from '../../embed/embedder.js';

/**
 * The `n` items whose best passage is closest to `query`, best first, from passage vectors streamed in item
 * order: memory holds one chunk of vectors and the `n` best, whatever the store holds.
 *
 * A brute-force scan: its cost grows with the store (one dot product per passage, not measured here at
 * scale). Past a few hundred thousand passages it wants an approximate nearest-neighbour index on
 * disk beside the postings (HNSW or IVF over the same rows, e.g. sqlite-vec or a DiskANN-style graph),
 * which this function's callers would query instead.
 */
export function bestPassages(
  vectors: Iterable<{ item: number; vector: Float32Array }>,
  query: Float32Array,
  n: number,
): { item: number; cosine: number }[] {
  const top: { item: number; cosine: number }[] = [];
  const offer = (item: number, cosine: number) => {
    if (cosine <= 0 || (top.length === n && cosine <= top.at(-1)!.cosine)) return;
    let at = top.length;
    while (at > 0 && top[at - 1]!.cosine < cosine) at--;
    top.splice(at, 0, { item, cosine });
    if (top.length > n) top.pop();
  };
  let item = -1;
  let best = 0;
  for (const v of vectors) {
    if (v.item !== item) {
      if (item >= 0) offer(item, best);
      item = v.item;
      best = 0;
    }
    if (v.vector.length === query.length) best = Math.max(best, dot(query, v.vector));
  }
  if (item >= 0) offer(item, best);
  return top;
}

/**
 * Reciprocal rank fusion's constant (Cormack, Clarke and Büttcher, 2009): a rank's weight is 1/(K + rank).
 * 60 is theirs, and it is what keeps one list's first place from drowning the other list's near-misses.
 */
const RRF_K = 60;

/**
 * Fuses the lexical ranking (`lexical[r]`, the score of `candidates[r]`) with the semantic one by rank:
 * reciprocal rank fusion. By rank rather than by score, because cosine scales differ from model to model
 * (nomic-embed-text's cosines crowd between 0.4 and 0.8, text-embedding-3's between 0.1 and 0.6) and from
 * query to query, while a min–max of either score turns the best of a poor list into a 1 as confident as the
 * best of a good one; ranks need no tuning per model and no score calibration. A page missing from one list
 * gets nothing from it. Scores are scaled so that a page first in both lists scores 1, the range of the
 * lexical score alone, which the hybrid index's tie-breaker is weighed against.
 */
export function fuseByRank(
  candidates: readonly number[],
  lexical: Float64Array,
  semantic: readonly { item: number }[],
  k: number,
): { item: number; score: number }[] {
  const score = new Map<number, number>();
  const add = (item: number, rank: number) => score.set(item, (score.get(item) ?? 0) + 1 / (RRF_K + rank + 1));
  const byLexical = candidates.map((item, r) => ({ item, s: lexical[r]! })).filter((c) => c.s > 0);
  // Ties in the lexical score keep candidate order, as the lexical ranking does.
  byLexical.sort((a, b) => b.s - a.s).forEach((c, rank) => add(c.item, rank));
  semantic.forEach((c, rank) => add(c.item, rank));
  const scale = (RRF_K + 1) / 2;
  return [...score]
    .map(([item, s]) => ({ item, score: s * scale }))
    .sort((a, b) => b.score - a.score || a.item - b.item)
    .slice(0, k);
}
