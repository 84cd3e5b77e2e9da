/**
 * `npm run bench:large`: a store of 500 MB of text in 2,000-token pages (the default), built from real
 * sentences: ingest throughput, then what opening it costs a host (spawn → initialize, idle memory) beside
 * an empty store, and page_fault latency on it. Its store is left in /dev/shm only while it runs.
 */
import { benchScale, storeCells } from './chroma.js';
import { openCost } from './open-cost.js';
import { scratchDir, sentencePool, spreadQuestions, warmupQuestions } from './scale-corpus.js';
import { loadSquad } from './squad-data.js';
import { fmt, table } from './stats.js';

const TEXT_MB = Number(process.env.VMEM_BENCH_LARGE_MB ?? 500);
const PAGE_TOKENS = 2000;
/** Bytes of text per 2,000-token page of these sentences (measured: 9,370, 4.7 per token). */
const BYTES_PER_PAGE = 9370;
const MB = 1024 * 1024;

const articles = loadSquad();
const empty = await openCost(scratchDir());
const row = await benchScale({
  pages: Math.round((TEXT_MB * MB) / BYTES_PER_PAGE),
  pageTokens: PAGE_TOKENS,
  sentences: sentencePool(articles),
  questions: spreadQuestions(articles, 200),
  warmup: warmupQuestions(articles, 200),
  dir: scratchDir(),
});
console.log(
  `## A store of ${fmt(row.textBytes / MB, 0)} MB of text in ${PAGE_TOKENS}-token pages (alone: \`npm run bench:large\`)\n`,
);
console.log(
  table(
    [
      'store',
      'pages',
      'text',
      'on disk',
      'ingest',
      'open (spawn → initialize)',
      'idle RSS',
      'page_fault p50',
      'p99',
      'FTS5 query p50 (ratio)',
    ],
    [
      ['empty', 0, '', '', '', `${fmt(empty.ms, 0)} ms`, `${fmt(empty.rss / MB, 0)} MB`, '', '', ''],
      ['large', row.pages, ...storeCells(row)],
    ],
  ),
);
