/**
 * One-line inputs (minified JSON, the shape of minified code and one-line data dumps): a single span with no
 * paragraph, sentence or line break, which the chunker can only cut between tokens. Cost must grow linearly
 * with size (MB/s steady from 0.3 to 20 MB); the baseline is one counting pass of vmem's tokenizer over the same
 * text, faster on the larger input, whose pieces repeat more (each distinct piece is encoded once).
 * Run alone with `node --import tsx bench/one-line.ts`; `npm run bench` includes it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config.js';
import { chunkText } from '../src/core/chunker.js';
import { tokenizer } from '../src/core/tokenizer.js';
import { Pager } from '../src/pager.js';
import { fmt, table } from './stats.js';

const SIZES = [300_000, 20_000_000];

/** Minified JSON of about `bytes` bytes, on one line (deterministic). */
export function minifiedJson(bytes: number): string {
  const parts: string[] = [];
  let n = 2;
  for (let i = 0; n < bytes; i++) {
    const s = JSON.stringify({
      id: i,
      name: `item-${i}`,
      tags: ['alpha', 'beta', String(i % 97)],
      score: ((i * 7919) % 1000) / 10,
      ok: i % 3 === 0,
    });
    parts.push(s);
    n += s.length + 1;
  }
  return `[${parts.join(',')}]`;
}

export interface OneLineRow {
  bytes: number;
  pages: number;
  countMs: number;
  chunkMs: number;
  ingestMs: number;
}

export async function benchOneLine(): Promise<OneLineRow[]> {
  const enc = tokenizer('o200k_base');
  enc.count(minifiedJson(100_000)); // warm the JIT and the piece memo for every size alike
  const rows: OneLineRow[] = [];
  for (const size of SIZES) {
    const text = minifiedJson(size);
    let t = performance.now();
    enc.count(text);
    const countMs = performance.now() - t;
    t = performance.now();
    const pages = chunkText(text, 2000, enc).length;
    const chunkMs = performance.now() - t;
    const dir = mkdtempSync(join(tmpdir(), 'vmem-bench-'));
    try {
      const pager = await Pager.open(loadConfig({ '--data-dir': dir }, {}));
      t = performance.now();
      await pager.ingest([{ source: 'data.json', text }]);
      const ingestMs = performance.now() - t;
      await pager.close();
      rows.push({ bytes: Buffer.byteLength(text), pages, countMs, chunkMs, ingestMs });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return rows;
}

export function oneLineTable(rows: OneLineRow[]): string {
  const mbps = (bytes: number, ms: number) => fmt(bytes / 1e6 / (ms / 1000));
  return table(
    [
      'input (one line of minified JSON)',
      'pages',
      'baseline: token count, MB/s',
      'chunk, s',
      'MB/s',
      'ingest (chunk + L4 + L3 + catalog), s',
      'MB/s',
    ],
    rows.map((r) => [
      `${fmt(r.bytes / 1e6, 1)} MB`,
      r.pages,
      mbps(r.bytes, r.countMs),
      fmt(r.chunkMs / 1000, 2),
      mbps(r.bytes, r.chunkMs),
      fmt(r.ingestMs / 1000, 2),
      mbps(r.bytes, r.ingestMs),
    ]),
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) console.log(oneLineTable(await benchOneLine()));
