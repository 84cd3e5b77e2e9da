/**
 * L3 on a real Chroma server: the L3 ranking step and a whole page_fault against a raw Chroma query
 * with the same query embedding and result count, and fault latency as the store grows.
 */

import { readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../src/config.js';
import { HashingEmbedder } from '../src/embed/hashing.js';
import { Pager } from '../src/pager.js';
import { clientFor, collectionName } from '../src/tiers/l3/chroma.js';
import { CANDIDATES, HybridIndex } from '../src/tiers/l3/hybrid.js';
import { startChroma, type TestChroma } from '../test/support/chroma.js';
import { prng } from '../test/support/prng.js';
import { fts5Latency } from './fts5.js';
import { type OpenCost, openCost } from './open-cost.js';
import { fmt, percentile } from './stats.js';

export interface Latency {
  p50: number;
  p99: number;
  n: number;
}

export const latency = (v: number[]): Latency => ({ p50: percentile(v, 50), p99: percentile(v, 99), n: v.length });

export async function withChroma<T>(fn: (chroma: TestChroma) => Promise<T>): Promise<T | undefined> {
  const chroma = await startChroma({ ownServer: true }).catch(() => undefined);
  if (!chroma) return undefined;
  try {
    return await fn(chroma);
  } finally {
    await chroma.stop();
  }
}

/**
 * Opens a pager on `dir` with L3 on Chroma and waits until every page the store holds is in the
 * collection (a store paged before Chroma was configured is caught up from L4). Returns the time that took.
 */
export async function openOnChroma(
  dir: string,
  url: string,
  namespace: string,
  flags: Record<string, string> = {},
): Promise<{ pager: Pager; catchUpMs: number }> {
  const t = performance.now();
  const pager = await Pager.open(
    loadConfig({ ...flags, '--data-dir': dir, '--chroma-url': url, '--namespace': namespace }, {}),
  );
  if (!(pager.l3 instanceof HybridIndex) || !pager.l3.available())
    throw new Error(`L3 on Chroma at ${url} did not come up`);
  await pager.l3.caughtUp();
  return { pager, catchUpMs: performance.now() - t };
}

export interface ChromaLatency {
  raw: Latency;
  l3: Latency;
  fault: Latency;
}

/**
 * Per question, in turn: a raw query of the collection with the query's embedding (computed beforehand,
 * as a caller holding the vector would), vmem's L3 ranking (embedding, lexical side, Chroma, fusion),
 * and a whole page_fault after evicting L1 (ranking, then the page from L2 or L4 into L1).
 */
export async function chromaLatency(
  pager: Pager,
  url: string,
  namespace: string,
  questions: string[],
): Promise<ChromaLatency> {
  const collection = await clientFor(url).getCollection({ name: collectionName(namespace) });
  const embedder = new HashingEmbedder();
  const session = pager.newSession();
  const raw: number[] = [];
  const l3: number[] = [];
  const fault: number[] = [];
  for (const q of questions) {
    const [v] = await embedder.embed([q]);
    const vector = Array.from(v!);
    let t = performance.now();
    await collection.query({ queryEmbeddings: [vector], nResults: CANDIDATES, include: ['distances'] });
    raw.push(performance.now() - t);
    t = performance.now();
    await pager.l3.query(q, 1);
    l3.push(performance.now() - t);
    pager.evict(session, 'all');
    t = performance.now();
    await pager.fault(session, q, { maxPages: 1 });
    fault.push(performance.now() - t);
  }
  return { raw: latency(raw), l3: latency(l3), fault: latency(fault) };
}

/** page_fault latency on the embedded L3 (L1 evicted before each). */
export async function embeddedFaultLatency(pager: Pager, questions: string[]): Promise<Latency> {
  const session = pager.newSession();
  const ms: number[] = [];
  for (const q of questions) {
    pager.evict(session, 'all');
    const t = performance.now();
    await pager.fault(session, q, { maxPages: 1 });
    ms.push(performance.now() - t);
  }
  return latency(ms);
}

export interface ScaleRow {
  pages: number;
  pageTokens: number;
  ingestMs: number;
  /** Bytes of text ingested. */
  textBytes: number;
  embedded: Latency;
  /** Spawn → initialize and idle memory of `vmem serve` on the store. */
  open: OpenCost;
  /** The same questions through SQLite's own full-text query (FTS5 BM25) over the same pages. */
  engine: Latency;
  /** The store's bytes on disk (L4 pages and the derived databases). */
  diskBytes: number;
  chroma?: ChromaLatency & { catchUpMs: number };
}

/**
 * A store of `pages` pages of at most `pageTokens` tokens, made of real sentences (SQuAD contexts and
 * essays) drawn at random into paragraphs, so that the vocabulary and posting lengths are those of
 * real text; then fault latency on the embedded L3 and, when `chromaUrl` is given, on Chroma.
 */
export async function benchScale(opts: {
  pages: number;
  pageTokens: number;
  sentences: string[];
  questions: string[];
  /** Asked first and not measured, of vmem and of FTS5 alike (see warmupQuestions). */
  warmup: string[];
  dir: string;
  chromaUrl?: string;
  /** Leave the store in `dir` (to profile it afterwards). */
  keep?: boolean;
}): Promise<ScaleRow> {
  const { pages, pageTokens, sentences, questions, dir } = opts;
  const flags = {
    '--page-tokens': String(pageTokens),
    '--l1-tokens': String(Math.max(4 * pageTokens, 256)),
    '--max-ingest-bytes': String(1 << 26),
  };
  const pager = await Pager.open(loadConfig({ ...flags, '--data-dir': dir }, {}));
  const random = prng(pages);
  const t = performance.now();
  let doc = 0;
  let textBytes = 0;
  while (pager.table.pageCount < pages) {
    // ~pageTokens × 4 bytes per page; a few hundred pages per document, a few documents per ingest call.
    const docs = Array.from({ length: 8 }, () => {
      const paragraphs: string[] = [];
      for (let bytes = 0; bytes < 200 * pageTokens * 4; ) {
        const p = Array.from(
          { length: 3 + Math.floor(random() * 4) },
          () => sentences[Math.floor(random() * sentences.length)]!,
        ).join(' ');
        paragraphs.push(p);
        bytes += p.length;
      }
      return { source: `synthetic-${doc++}.txt`, text: paragraphs.join('\n\n') };
    });
    textBytes += docs.reduce((n, d) => n + Buffer.byteLength(d.text), 0);
    await pager.ingest(docs);
  }
  const ingestMs = performance.now() - t;
  await embeddedFaultLatency(pager, opts.warmup);
  const row: ScaleRow = {
    pages: pager.table.pageCount,
    pageTokens,
    ingestMs,
    textBytes,
    embedded: await embeddedFaultLatency(pager, questions),
    open: { ms: 0, rss: 0 },
    engine: { p50: 0, p99: 0, n: 0 },
    diskBytes: 0,
  };
  await pager.close();
  row.diskBytes = duBytes(dir);
  row.open = await openCost(dir);
  row.engine = await fts5Latency(dir, questions, opts.warmup);
  if (opts.chromaUrl) {
    const ns = `scale${pages}`;
    const { pager: onChroma, catchUpMs } = await openOnChroma(dir, opts.chromaUrl, ns, flags);
    try {
      row.chroma = { ...(await chromaLatency(onChroma, opts.chromaUrl, ns, questions)), catchUpMs };
    } finally {
      await onChroma.close();
    }
  }
  if (!opts.keep) rmSync(dir, { recursive: true, force: true });
  return row;
}

/** Bytes of the files under `dir`. */
function duBytes(dir: string): number {
  let n = 0;
  for (const f of readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
    const st = statSync(join(dir, f));
    if (st.isFile()) n += st.size;
  }
  return n;
}

const MB = 1024 * 1024;

/** A scale row's store figures as table cells: text, disk, ingest, open, idle memory, faults, the FTS5 baseline. */
export function storeCells(r: ScaleRow): string[] {
  return [
    `${fmt(r.textBytes / MB, 0)} MB`,
    `${fmt(r.diskBytes / MB, 0)} MB`,
    `${fmt(r.ingestMs / 1000, 1)} s (${fmt(r.textBytes / MB / (r.ingestMs / 1000), 2)} MB/s)`,
    `${fmt(r.open.ms, 0)} ms`,
    `${fmt(r.open.rss / MB, 0)} MB`,
    fmt(r.embedded.p50, 2),
    fmt(r.embedded.p99, 2),
    `${fmt(r.engine.p50, 2)} (${fmt(r.embedded.p50 / r.engine.p50)})`,
  ];
}
