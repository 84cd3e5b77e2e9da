/**
 * Page-level BM25 over stored postings: the pruned top k (MaxScore) is exactly the top k of scoring every
 * posting, ties to the earlier item, whether or not the common terms get to add new items.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { idfOf, PAGE_BM25, PageScores, type TermList } from '../src/tiers/l3/lexical.ts';
import { PostingsWriter } from '../src/tiers/l3/postings.ts';
import { prng } from './support/prng.ts';

interface Posting {
  item: number;
  tf: number;
  length: number;
}

/** One term's postings, cut into `segments` parts of disjoint item ranges, as the store returns them. */
function listOf(postings: Posting[], items: number, segments: number): TermList {
  const parts: Uint8Array[] = [];
  for (let s = 0; s < segments; s++) {
    const w = new PostingsWriter();
    const lo = (s * items) / segments;
    const hi = ((s + 1) * items) / segments;
    for (const p of postings) if (p.item >= lo && p.item < hi) w.add(p.item, p.tf, p.length);
    if (w.count) parts.push(w.finish());
  }
  return { parts, idf: idfOf(items, postings.length), units: postings.length };
}

/** Every item's score, summed term by term, and the k best (score descending, then item ascending). */
function bruteForce(terms: Posting[][], items: number, avgLength: number, k: number) {
  const { k1, b } = PAGE_BM25;
  const scores = new Map<number, number>();
  const order = terms.map((_, i) => i).sort((x, y) => idfOf(items, terms[y]!.length) - idfOf(items, terms[x]!.length));
  for (const i of order) {
    const idf = idfOf(items, terms[i]!.length);
    for (const { item, tf, length } of terms[i]!)
      scores.set(
        item,
        (scores.get(item) ?? 0) + (idf * tf * (k1 + 1)) / (tf + k1 * (1 - b + (b * length) / avgLength)),
      );
  }
  return [...scores]
    .sort((x, y) => y[1] - x[1] || x[0] - y[0])
    .slice(0, k)
    .map(([item, score]) => ({ item, score }));
}

/** `df` distinct items of 1..items, each with a tf of 1–3 and one of a few lengths (so scores tie often). */
function postingsOf(random: () => number, items: number, df: number): Posting[] {
  const chosen = new Set<number>();
  while (chosen.size < df) chosen.add(1 + Math.floor(random() * items));
  return [...chosen]
    .sort((a, b) => a - b)
    .map((item) => ({ item, tf: 1 + Math.floor(random() * random() * 3), length: 40 + 20 * Math.floor(random() * 3) }));
}

test('the pruned top k equals scoring every posting, ties to the earlier item', () => {
  const scorer = new PageScores();
  let pruningApplied = 0;
  for (let seed = 1; seed <= 60; seed++) {
    const random = prng(seed);
    const items = 2000 + Math.floor(random() * 20_000);
    // A few rare terms (bigrams, names) and a few common words, as a question has.
    const dfs = [
      ...Array.from({ length: 1 + Math.floor(random() * 4) }, () => 1 + Math.floor(random() * 300)),
      ...Array.from({ length: 1 + Math.floor(random() * 4) }, () => Math.floor(items * (0.05 + 0.3 * random()))),
    ];
    const terms = dfs.map((df) => postingsOf(random, items, df));
    const avgLength = 60;
    const lists = terms.map((t) => listOf(t, items + 1, 1 + Math.floor(random() * 4)));
    for (const k of [1, 10, 200]) {
      const expected = bruteForce(terms, items + 1, avgLength, k);
      const got = scorer.best(items, lists, avgLength, k);
      assert.deepEqual(
        got.map((h) => h.item),
        expected.map((h) => h.item),
        `seed ${seed}, k ${k}`,
      );
      got.forEach((h, r) => assert.ok(Math.abs(h.score - expected[r]!.score) < 1e-9));
      // Whether the common terms were kept from adding items: the k-th best of the rare terms alone beats
      // what the common ones could give, which the test counts so that it covers that path.
      const rare = terms.filter((t) => t.length <= 300);
      const common = terms.filter((t) => t.length > 300);
      const kth = bruteForce(rare, items + 1, avgLength, k)[k - 1]?.score ?? 0;
      const bound = common.reduce((n, t) => n + idfOf(items + 1, t.length) * (PAGE_BM25.k1 + 1), 0);
      if (kth > bound) pruningApplied++;
    }
  }
  assert.ok(pruningApplied >= 20, `cases where the common terms only add to items reached: ${pruningApplied}`);
});

test('an empty query, and fewer items than k', () => {
  const scorer = new PageScores();
  assert.deepEqual(scorer.best(10, [], 50, 5), []);
  const postings = [
    { item: 3, tf: 1, length: 50 },
    { item: 7, tf: 2, length: 50 },
  ];
  const got = scorer.best(10, [listOf(postings, 11, 1)], 50, 5);
  assert.deepEqual(
    got.map((h) => h.item),
    [7, 3],
  );
});
