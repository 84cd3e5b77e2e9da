/**
 * Ingest throughput against the raw tokenizer, on SQuAD v1.1 dev (48 articles, 2000-token pages), in the
 * same process. Part of `npm run bench`; alone: `npm run bench:ingest`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getEncoding } from 'js-tiktoken';
import { loadConfig } from '../src/config.js';
import { tokenizer } from '../src/core/tokenizer.js';
import { Pager } from '../src/pager.js';
import { loadSquad, type SquadArticle } from './squad-data.js';
import { bestOf, fmt, table } from './stats.js';

export const INGEST_TITLE = 'Ingest throughput (SQuAD v1.1 dev, 48 articles)';

export interface IngestBench {
  /** The store of the last ingest, left for the benches that follow (the caller removes it). */
  dir: string;
  mb: number;
  rawMbps: number;
  coldMbps: number;
  warmMbps: number;
}

export async function benchIngest(articles: SquadArticle[]): Promise<IngestBench> {
  const docs = articles.map((a) => ({ source: a.title, text: a.text }));
  const mb = docs.reduce((n, d) => n + Buffer.byteLength(d.text), 0) / 1e6;
  const enc = getEncoding('o200k_base');
  // Special-token strings in a document are text, as vmem treats them.
  const encodeAll = () => docs.forEach((d) => enc.encode(d.text, [], []));
  encodeAll(); // warm the JIT for the baseline
  const rawMs = await bestOf(3, encodeAll);
  let dir = '';
  const ingestOnce = async () => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = mkdtempSync(join(tmpdir(), 'vmem-bench-'));
    const pager = await Pager.open(loadConfig({ '--data-dir': dir }, {}));
    const t = performance.now();
    await pager.ingest(docs);
    const ms = performance.now() - t;
    await pager.close();
    return ms;
  };
  // The first ingest in a process meets every word for the first time (cold token and term memos);
  // later ones reuse them, as a long-running server does. Both sides have built their BPE tables first.
  tokenizer('o200k_base').count(' '); // builds its table (its first count does), as getEncoding built js-tiktoken's
  const coldMs = await ingestOnce();
  let warmMs = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 3; i++) warmMs = Math.min(warmMs, await ingestOnce());
  return { dir, mb, rawMbps: mb / (rawMs / 1000), coldMbps: mb / (coldMs / 1000), warmMbps: mb / (warmMs / 1000) };
}

export function ingestTable(ingest: IngestBench): string {
  return table(
    ['what', 'MB/s', 'ratio to raw tokenizer'],
    [
      ['raw js-tiktoken encode (o200k_base)', fmt(ingest.rawMbps), '1.00'],
      [
        'vmem ingest, first in the process (chunk + L4 fsync + L3 index + catalog)',
        fmt(ingest.coldMbps),
        fmt(ingest.coldMbps / ingest.rawMbps),
      ],
      [
        'vmem ingest of the same text again, best of 3 (its pieces and words already memoized)',
        fmt(ingest.warmMbps),
        fmt(ingest.warmMbps / ingest.rawMbps),
      ],
    ],
  );
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const ingest = await benchIngest(loadSquad());
  rmSync(ingest.dir, { recursive: true, force: true });
  console.log(`## ${INGEST_TITLE} (alone: \`npm run bench:ingest\`)\n\n${ingestTable(ingest)}`);
}
