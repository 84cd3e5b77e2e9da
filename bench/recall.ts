/**
 * What the recall benchmarks share: the BM25 baseline, the table, and page_fault recall for datasets whose
 * gold location is a character range of a document (COVID-QA, QMSum). There, the documents go into a fresh
 * store with the default settings (embedded levels, 2000-token pages), each question is asked as the SQuAD
 * section asks it (evict all, then page_fault with max_pages 3), and a hit is a returned page that overlaps
 * one of the question's ranges.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config.js';
import { chunkText } from '../src/core/chunker.js';
import { pageOf } from '../src/core/page.js';
import { tokenizer } from '../src/core/tokenizer.js';
import { analyze } from '../src/embed/analyzer.js';
import type { SourceFile } from '../src/ingest/sources.js';
import { Pager } from '../src/pager.js';
import { EmbeddedIndex } from '../src/tiers/l3/embedded.js';
import { fmt, percentile, table } from './stats.js';

export interface Recall {
  questions: number;
  recallAt1: number;
  recallAt3: number;
  bm25RecallAt1: number;
  bm25RecallAt3: number;
}

/** Recall over all questions and over each half: the ranker is tuned on the even-indexed ones, the odd are held out. */
export interface HalvedRecall extends Recall {
  even: Recall;
  odd: Recall;
}

/** Counts hits of [vmem@1, vmem@3, BM25@1, BM25@3] per question, overall and by half. */
export class RecallCounter {
  private readonly hits = { all: [0, 0, 0, 0], even: [0, 0, 0, 0], odd: [0, 0, 0, 0] };
  private count = 0;

  add(marks: readonly boolean[]): void {
    for (const h of [this.hits.all, this.count % 2 ? this.hits.odd : this.hits.even])
      marks.forEach((m, j) => (h[j]! += m ? 1 : 0));
    this.count++;
  }

  result(): HalvedRecall {
    const recall = (h: number[], n: number): Recall => ({
      questions: n,
      recallAt1: h[0]! / n,
      recallAt3: h[1]! / n,
      bm25RecallAt1: h[2]! / n,
      bm25RecallAt3: h[3]! / n,
    });
    const even = Math.ceil(this.count / 2);
    return {
      ...recall(this.hits.all, this.count),
      even: recall(this.hits.even, even),
      odd: recall(this.hits.odd, this.count - even),
    };
  }
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

/**
 * The recall section's table in BENCHMARKS.md: the BM25 baseline, then page_fault, over all questions and
 * each half (the ranker's settings were chosen on the even half; the odd half is held out).
 */
export function recallTable(r: HalvedRecall): string {
  const cells = (x: Recall, vmem: boolean) =>
    vmem ? [fmt(x.recallAt1, 3), fmt(x.recallAt3, 3)] : [fmt(x.bm25RecallAt1, 3), fmt(x.bm25RecallAt3, 3)];
  const row = (name: string, vmem: boolean) => [name, ...cells(r, vmem), ...cells(r.even, vmem), ...cells(r.odd, vmem)];
  return table(
    [
      'ranker',
      'recall@1',
      'recall@3',
      `tuning half (even, ${r.even.questions}) @1`,
      '@3',
      `held-out half (odd, ${r.odd.questions}) @1`,
      '@3',
    ],
    [row('baseline: BM25 (page level, k1 1.2, b 0.75)', false), row(`vmem page_fault (${rankerName()})`, true)],
  );
}

/** What ranks the store the recall benches open: the embedded L3, and the passage vectors of a configured model. */
function rankerName(): string {
  const config = loadConfig({}, embedderEnv());
  return config.embedder === 'openai' ? `embedded L3 + ${config.embedModel} passages` : 'embedded L3';
}

/** A question and where its answer is: [start, end) character ranges of one document. */
export interface RangeQuestion {
  question: string;
  doc: number;
  ranges: [number, number][];
}

export interface PageRecall extends HalvedRecall {
  documents: number;
  pages: number;
  /** Mean number of pages a question's ranges overlap (any of them is a hit). */
  goldPages: number;
  ingestMs: number;
  /** Per question, the page_fault call alone. */
  faultMs: number[];
}

/**
 * The embedder settings of the environment, and no other: the recall benches measure the default store,
 * or, with VMEM_EMBEDDER=openai (VMEM_EMBED_MODEL, VMEM_EMBED_BASE_URL, OPENAI_API_KEY), the same store
 * ranked with that model's passage vectors too.
 */
export function embedderEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const names = ['VMEM_EMBEDDER', 'VMEM_EMBED_MODEL', 'VMEM_EMBED_BASE_URL', 'OPENAI_BASE_URL', 'OPENAI_API_KEY'];
  return Object.fromEntries(names.filter((n) => env[n]).map((n) => [n, env[n]]));
}

/** A page as ingest cut it, with the character range of its document that it covers. */
export interface CutPage {
  id: string;
  charStart: number;
  charEnd: number;
  text: string;
}

/** A fresh store with the default settings holding `docs`, and each document's pages as ingest cut them. */
export interface RecallStore {
  pager: Pager;
  pagesOf: CutPage[][];
  ingestMs: number;
}

/** Runs `fn` on a RecallStore of `docs` in a temporary data dir, removed afterwards. */
export async function withRecallStore<T>(docs: SourceFile[], fn: (store: RecallStore) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'vmem-recall-'));
  try {
    const pager = await Pager.open(loadConfig({ '--data-dir': dir }, embedderEnv()));
    try {
      const t = performance.now();
      await pager.ingest(docs);
      const ingestMs = performance.now() - t;
      // Passage vectors (VMEM_EMBEDDER=openai) are filled in the background: the questions wait for them.
      if (pager.l3 instanceof EmbeddedIndex) await pager.l3.vectorsIdle();
      if (pager.l3.available && !pager.l3.available())
        throw new Error(`the embeddings endpoint ${pager.config.embedBaseUrl} is unreachable: no recall to measure`);
      // The pages as ingest cut them, with the ranges they cover; ids match because pages are content-addressed.
      const enc = tokenizer(pager.config.encoding);
      const pagesOf = docs.map((d) =>
        chunkText(d.text, pager.config.pageTokens, enc).map((c) => ({
          ...c,
          id: pageOf(c, { documentId: '', source: d.source }).id,
        })),
      );
      const ids = new Set(pagesOf.flat().map((p) => p.id));
      if (ids.size !== pager.table.pageCount || [...ids].some((id) => !pager.table.has(id)))
        throw new Error('the pages chunked here are not the pages ingest made');
      return await fn({ pager, pagesOf, ingestMs });
    } finally {
      await pager.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The pages of the question's document that overlap one of its answer ranges: any of them is a hit. */
export function goldPages(pagesOf: CutPage[][], q: RangeQuestion): Set<string> {
  const gold = new Set(
    pagesOf[q.doc]!.filter((p) => q.ranges.some(([s, e]) => p.charStart < e && s < p.charEnd)).map((p) => p.id),
  );
  if (!gold.size) throw new Error(`no page holds the answer to ${JSON.stringify(q.question)}`);
  return gold;
}

export async function pageRecall(docs: SourceFile[], questions: RangeQuestion[]): Promise<PageRecall> {
  return withRecallStore(docs, async ({ pager, pagesOf, ingestMs }) => {
    const texts = new Map(pagesOf.flat().map((p) => [p.id, p.text]));
    const ids = [...texts.keys()];
    const baseline = bm25Baseline([...texts.values()].map(analyze));

    const session = pager.newSession();
    const counter = new RecallCounter();
    const faultMs: number[] = [];
    let goldCount = 0;
    for (const q of questions) {
      const gold = goldPages(pagesOf, q);
      goldCount += gold.size;
      pager.evict(session, 'all');
      const t = performance.now();
      const got = (await pager.fault(session, q.question, { maxPages: 3 })).pages.map((p) => p.pageId);
      faultMs.push(performance.now() - t);
      const base = baseline(analyze(q.question))
        .slice(0, 3)
        .map((p) => ids[p]!);
      const within = (ranked: string[], k: number) => ranked.slice(0, k).some((id) => gold.has(id));
      counter.add([within(got, 1), within(got, 3), within(base, 1), within(base, 3)]);
    }
    return {
      documents: docs.length,
      pages: ids.length,
      ...counter.result(),
      goldPages: goldCount / questions.length,
      ingestMs,
      faultMs,
    };
  });
}

/** The line under a page_fault recall table: how many pages count as a hit, and the time it took. */
export function pageRecallNote(r: PageRecall): string {
  return `A question's answer ranges overlap ${fmt(r.goldPages)} pages on average; a returned page among them is a hit. Ingest took ${fmt(r.ingestMs / 1000, 1)} s; page_fault took ${fmt(percentile(r.faultMs, 50), 2)} ms per question (p50; p99 ${fmt(percentile(r.faultMs, 99), 2)} ms).`;
}
