/**
 * The page table shared over a durable Redis (VMEM_CATALOG_URL): recording a document (append to the log, then
 * apply it to this node's copy) against a raw XADD of the same change, and against the page table of one data dir;
 * how soon another node sees it; how fast a new node replays the log. Alone: `npm run bench:shared`.
 */
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { SharedLog } from '../src/catalog/shared-log.js';
import { Catalog } from '../src/catalog.js';
import { connectRedis } from '../src/cluster/redis.js';
import { documentIdOf } from '../src/core/hash.js';
import { tokenizer } from '../src/core/tokenizer.js';
import { entryOf, pagesOf } from '../src/paging/ingest.js';
import { chapters, tempDir } from '../test/helpers.js';
import { startRedis } from '../test/support/redis.js';
import { fmt, latencyRow, percentile, table } from './stats.js';

export const SHARED_TITLE =
  'Page table shared over Redis (ms; a durable redis-server on loopback: AOF, appendfsync always, noeviction)';
const DOCUMENTS = 300;

export interface SharedBench {
  pagesPerDocument: number;
  rawMs: number[];
  sharedMs: number[];
  localMs: number[];
  visibleMs: number[];
  replay: { pages: number; ms: number };
}

/** Documents as ingest records them: real pages of text, each document a distinct version. */
function documents() {
  const enc = tokenizer('o200k_base');
  const text = chapters(3);
  return Array.from({ length: DOCUMENTS }, (_, i) => {
    const source = `doc-${i}.md`;
    const body = `Document ${i}.\n\n${text}`;
    const id = documentIdOf(source, body);
    const pages = pagesOf({ source, text: body }, id, 2000, enc);
    return {
      doc: { id, source, tokens: 0, bytes: body.length, pageIds: pages.map((p) => p.id), ingestedAt: Date.now() },
      pages: pages.map(entryOf),
    };
  });
}

async function node(url: string, dir: string) {
  const conn = { client: await connectRedis(url), blocking: await connectRedis(url, { blocking: true }), url };
  const log = (await SharedLog.open(conn, 'bench', { create: true }))!;
  return Catalog.open(dir, { shared: log });
}

/** Undefined when redis-server is not installed here. */
export async function benchShared(): Promise<SharedBench | undefined> {
  const redis = await startRedis({ durable: true }).catch(() => undefined);
  if (!redis) return undefined;
  const { dir, cleanup } = tempDir('vmem-bench-shared-');
  const docs = documents();
  const raw = new Redis(redis.url);
  const a = await node(redis.url, `${dir}/a`);
  const local = await Catalog.open(`${dir}/local`);
  let b: Catalog | undefined;
  try {
    const rawMs: number[] = [];
    const sharedMs: number[] = [];
    const localMs: number[] = [];
    const visibleMs: number[] = [];
    // The writer alone first: the other node, in this same process, would take turns on its event loop.
    for (const d of docs.slice(0, DOCUMENTS / 2)) {
      let t = performance.now();
      await raw.xadd('bench:raw', '*', 'n', 'node', 'c', JSON.stringify({ t: 'add', docs: [d] }));
      rawMs.push(performance.now() - t);
      t = performance.now();
      await a.addDocuments([d]);
      sharedMs.push(performance.now() - t);
      t = performance.now();
      await local.addDocuments([d]);
      localMs.push(performance.now() - t);
    }
    b = await node(redis.url, `${dir}/b`);
    for (const d of docs.slice(DOCUMENTS / 2)) {
      const seen = new Promise<number>((resolve) => b!.once('changed', () => resolve(performance.now())));
      const t = performance.now();
      await a.addDocuments([d]);
      visibleMs.push((await seen) - t);
    }
    const t = performance.now();
    const joined = await node(redis.url, `${dir}/joined`);
    const replayMs = performance.now() - t;
    const pages = joined.table.totals().pages;
    await joined.close();
    return {
      pagesPerDocument: docs[0]!.pages.length,
      rawMs,
      sharedMs,
      localMs,
      visibleMs,
      replay: { pages, ms: replayMs },
    };
  } finally {
    raw.disconnect();
    await Promise.all([a.close(), b?.close(), local.close()]);
    await redis.stop();
    cleanup();
  }
}

export function sharedTable(b: SharedBench): string {
  const base = percentile(b.rawMs, 50);
  const row = (what: string, v: number[]) => latencyRow(what, v, base);
  return [
    table(
      ['what', 'samples', 'p50', 'p99', 'p50 ratio to raw XADD'],
      [
        row(`baseline: raw XADD of the change (a document of ${b.pagesPerDocument} pages, as JSON)`, b.rawMs),
        row('addDocuments, shared: XADD, then read back and applied to this node’s copy', b.sharedMs),
        row('addDocuments, one data dir (SQLite transaction, no network)', b.localMs),
        row(
          'from the writer’s call to another node having applied it (blocking XREAD + apply; both nodes in this process)',
          b.visibleMs,
        ),
      ],
    ),
    '',
    `A new node replays the log of ${b.replay.pages} pages in ${fmt(b.replay.ms, 0)} ms (${fmt((b.replay.ms / b.replay.pages) * 1000, 0)} ms per 1,000 pages), before it serves.`,
  ].join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const b = await benchShared();
  console.log(
    `## ${SHARED_TITLE} (alone: \`npm run bench:shared\`)\n\n${b ? sharedTable(b) : 'redis-server is not installed here; skipped.'}`,
  );
}
