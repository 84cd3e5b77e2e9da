/**
 * Page-level recall of the embedded L3 on SQuAD v1.1 dev: every article is chunked into pages as vmem
 * ingests it, every question is asked, and a hit is the page holding the answer's first character.
 * A plain page-level Okapi BM25 (same analyzer, no bigrams, no windows) runs beside it as the baseline.
 *
 *   node --import tsx bench/squad-recall.ts
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chunkText } from '../src/core/chunker.js';
import { pageOf } from '../src/core/page.js';
import { tokenizer } from '../src/core/tokenizer.js';
import { analyze } from '../src/embed/analyzer.js';
import { EmbeddedIndex, type FusionWeights } from '../src/tiers/l3/embedded.js';
import { bm25Baseline, type HalvedRecall, RecallCounter } from './recall.js';
import { loadSquad, type SquadArticle } from './squad-data.js';

export interface SquadRecallOptions {
  pageTokens?: number;
  weights?: FusionWeights;
  articles?: SquadArticle[];
  /**
   * Ranks pages for a question, best first. Default: a fresh EmbeddedIndex queried directly (for tuning).
   * The benchmark passes the pager's page_fault on a store holding the same articles; page ids match
   * because pages are content-addressed.
   */
  rank?: (question: string) => Promise<string[]>;
}

export interface SquadRecallResult extends HalvedRecall {
  pages: number;
}

export async function squadRecall(opts: SquadRecallOptions = {}): Promise<SquadRecallResult> {
  const articles = opts.articles ?? loadSquad();
  const enc = tokenizer('o200k_base');
  const dir = await mkdtemp(join(tmpdir(), 'vmem-squad-'));
  try {
    const index = await EmbeddedIndex.open(join(dir, 'l3.db'), { weights: opts.weights });
    const pageIds: string[] = [];
    const pageTexts: string[] = [];
    /** Per question: gold page id and question text, in dataset order. */
    const asks: { question: string; gold: string }[] = [];
    for (const [a, article] of articles.entries()) {
      const chunks = chunkText(article.text, opts.pageTokens ?? 2000, enc);
      const items = chunks.map((c) => {
        const { text, ...meta } = pageOf(c, { documentId: `squad-${a}`, source: article.title });
        pageIds.push(meta.id);
        pageTexts.push(text);
        return { meta, text };
      });
      if (!opts.rank) await index.upsert(items);
      for (const q of article.questions) {
        const gold = chunks.findIndex((c) => q.answerOffset >= c.charStart && q.answerOffset < c.charEnd);
        asks.push({ question: q.question, gold: items[gold]!.meta.id });
      }
    }
    await index.flush();

    const baseline = bm25Baseline(pageTexts.map(analyze));
    const counter = new RecallCounter();
    for (const ask of asks) {
      const got = opts.rank ? await opts.rank(ask.question) : (await index.query(ask.question, 3)).map((h) => h.pageId);
      const base = baseline(analyze(ask.question))
        .slice(0, 3)
        .map((p) => pageIds[p]!);
      counter.add([got[0] === ask.gold, got.includes(ask.gold), base[0] === ask.gold, base.includes(ask.gold)]);
    }
    await index.close();
    return { pages: pageIds.length, ...counter.result() };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const r = await squadRecall();
  const pct = (x: number) => (100 * x).toFixed(2).padStart(6);
  console.log(`SQuAD v1.1 dev: ${r.questions} questions over ${r.pages} pages`);
  console.log('                       r@1      r@3');
  for (const [name, x] of [
    ['all', r],
    ['even', r.even],
    ['odd', r.odd],
  ] as const) {
    console.log(`embedded L3  ${name.padEnd(5)} ${pct(x.recallAt1)}  ${pct(x.recallAt3)}`);
    console.log(`BM25 (page)  ${name.padEnd(5)} ${pct(x.bm25RecallAt1)}  ${pct(x.bm25RecallAt3)}`);
  }
}
