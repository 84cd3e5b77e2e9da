import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { allPages, call, chapters, deferrals, demoDoc, factRe, l1Ids, readText, tempDir } from './helpers.ts';
import { CHROMA_MISSING, getRecords, startChroma } from './support/chroma.ts';
import { freePort, REDIS_MISSING, startRedis } from './support/redis.ts';
import { type Spawned, spawnServer } from './support/spawn.ts';
import { waitFor } from './support/wait.ts';

const FLAGS = ['--page-tokens', '500', '--l1-tokens', '4000'];
/** Chroma holds pages and, under `<page id>~summary`, the summaries of evicted pages. */
const isPageId = (id: string) => /^p[0-9a-f]{20}$/.test(id);
const ask = (station: string, year: number) => ({
  query: `What was the maintenance code for pump station ${station} in ${year}?`,
  max_pages: 1,
});

interface Served {
  pages: { page_id: string; level: string; text?: string }[];
}

/** A fault that finds the page holding the fact, or undefined while it is not there yet. */
async function faultFinds(s: Spawned, station: string, year: number): Promise<Served | undefined> {
  const r = (await s.client.callTool({ name: 'page_fault', arguments: ask(station, year) })) as CallToolResult;
  const served = r.structuredContent as unknown as Served;
  return served.pages[0]?.text && factRe(station, year).test(served.pages[0].text) ? served : undefined;
}

/** Two `vmem serve` processes over stdio on one store: A ingests and snapshots, B finds and restores. */
async function handOff(t: import('node:test').TestContext, extra: string[]): Promise<{ a: Spawned; b: Spawned }> {
  const defer = deferrals(t);
  const { dir, cleanup } = tempDir();
  defer(cleanup);
  const a = await spawnServer(dir, [...FLAGS, ...extra]);
  const b = await spawnServer(dir, [...FLAGS, ...extra]);
  defer(() => a.close());
  defer(() => b.close());

  await call(a.client, 'ingest', { text: demoDoc(), source: 'manual.md' });
  // B never restarted: A's pages reach it through the shared catalog and index.
  const found = await waitFor(() => faultFinds(b, 'Kestrel', 2003), "A's pages in B");
  assert.equal(found.pages[0]!.level === 'L4' || found.pages[0]!.level === 'L2', true);

  await call(a.client, 'page_fault', ask('Osprey', 2011));
  await call(a.client, 'page_fault', ask('Merlin', 1995));
  const snap = (await call<{ snapshot_id: string }>(a.client, 'serialize_context', { note: 'hand-off' })).s;
  const restored = (await call<Served>(b.client, 'restore_context', { snapshot_id: snap.snapshot_id })).s;
  assert.equal(restored.pages.length, 2);
  assert.deepEqual(
    l1Ids(await readText(b.client, 'vmem://l1')),
    l1Ids(await readText(a.client, 'vmem://l1')),
    "B holds A's L1, in order",
  );
  const table = JSON.parse(await readText(b.client, 'vmem://page-table')) as { documents: unknown[] };
  assert.equal(table.documents.length, 1);
  return { a, b };
}

describe('several vmem processes on one store', () => {
  test("sharing only the data dir: A ingests, B finds the pages without a restart and restores A's snapshot", async (t) => {
    await handOff(t, []);
  });

  test('sharing Redis and the data dir; Redis killed mid-run: faults keep being served from L4, then L2 comes back', async (t) => {
    const redis = await startRedis({ ownServer: true });
    if (!redis) return t.skip(REDIS_MISSING);
    t.after(() => redis.stop());
    const ns = `t${process.pid}x${Date.now()}`;
    const { a, b } = await handOff(t, ['--redis-url', redis.url, '--namespace', ns]);

    // A warmed L2 with its pages; B, sharing Redis, is served from L2.
    await call(b.client, 'evict', { all: true });
    const warm = (await call<Served>(b.client, 'page_fault', ask('Osprey', 2011))).s;
    assert.equal(warm.pages[0]!.level, 'L2');

    const logs: string[] = [];
    b.client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logs.push(String(n.params.data)));
    await b.client.setLoggingLevel('info');
    await redis.stop();
    await call(b.client, 'evict', { all: true });
    const cold = await waitFor(() => faultFinds(b, 'Osprey', 2011), 'a fault served while Redis is down');
    assert.equal(cold.pages[0]!.level, 'L4', 'served from L4 while Redis is down');
    await waitFor(
      async () => (logs.some((l) => /L2 \(redis\) is unreachable/.test(l)) ? true : undefined),
      'the outage notice',
    );
    assert.equal(logs.filter((l) => /unreachable/.test(l)).length, 1, 'the host is told once');

    const again = await startRedis({ ownServer: true, port: redis.port });
    assert.ok(again);
    t.after(() => again.stop());
    await waitFor(async () => (logs.some((l) => /reachable again/.test(l)) ? true : undefined), 'the recovery notice');
    await call(b.client, 'evict', { all: true });
    await call(b.client, 'page_fault', ask('Kestrel', 2003)); // warms the fresh Redis
    await call(b.client, 'evict', { all: true });
    const back = (await call<Served>(b.client, 'page_fault', ask('Kestrel', 2003))).s;
    assert.equal(back.pages[0]!.level, 'L2', 'L2 serves again after Redis returns');
    void a;
  });

  test('sharing Redis, Chroma and the data dir; Chroma stopped mid-run: faults keep being served, then Chroma catches up', async (t) => {
    const redis = await startRedis();
    if (!redis) return t.skip(REDIS_MISSING);
    t.after(() => redis.stop());
    const defer = deferrals(t);
    const chromaDir = tempDir('vmem-chroma-mp-');
    defer(chromaDir.cleanup);
    let chroma = await startChroma({ ownServer: true, dataDir: chromaDir.dir, port: await freePort() });
    if (!chroma) return t.skip(CHROMA_MISSING);
    defer(() => chroma!.stop());
    const ns = `t${process.pid}x${Date.now()}`;
    const { a, b } = await handOff(t, ['--redis-url', redis.url, '--chroma-url', chroma.url, '--namespace', ns]);
    const collection = `vmem-${ns}-pages`;
    const pageIds = async () => [...(await allPages(b.client)).keys()];
    assert.deepEqual(
      (await getRecords(chroma.url, collection)).ids.filter(isPageId).sort(),
      (await pageIds()).sort(),
      "A's pages are in Chroma",
    );

    const logs: string[] = [];
    b.client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logs.push(String(n.params.data)));
    await b.client.setLoggingLevel('info');
    await chroma.stop();
    await call(b.client, 'evict', { all: true });
    const during = await waitFor(() => faultFinds(b, 'Osprey', 2011), 'a fault answered while Chroma is down');
    assert.ok(['L2', 'L4'].includes(during.pages[0]!.level));
    await waitFor(
      async () => (logs.some((l) => /L3 \(chroma\) is unreachable/.test(l)) ? true : undefined),
      'the outage notice',
    );
    // A ingests while Chroma is down: the pages are findable at once, and reach Chroma when it is back.
    await call(a.client, 'ingest', { text: chapters(2), source: 'chapters.md' });
    await call(b.client, 'page_fault', ask('Merlin', 1995));
    assert.equal(logs.filter((l) => /unreachable/.test(l)).length, 1, 'the host is told once');

    chroma = await startChroma({ ownServer: true, dataDir: chromaDir.dir, port: chroma.port });
    assert.ok(chroma);
    await waitFor(
      async () => (logs.some((l) => /L3 \(chroma\) is reachable again/.test(l)) ? true : undefined),
      'the recovery notice',
    );
    const all = (await pageIds()).sort();
    assert.ok(all.length > 0);
    await waitFor(async () => {
      const ids = (await getRecords(chroma!.url, collection)).ids.filter(isPageId).sort();
      return JSON.stringify(ids) === JSON.stringify(all) ? true : undefined;
    }, 'every page, including those ingested during the outage, in Chroma');
  });
});

describe('a backend down at start', () => {
  test('Chroma unreachable when vmem starts: it serves from the lexical index, tells the host once, and uses Chroma once it appears', async (t) => {
    const defer = deferrals(t);
    const { dir, cleanup } = tempDir();
    defer(cleanup);
    const chromaDir = tempDir('vmem-chroma-late-');
    defer(chromaDir.cleanup);
    const port = await freePort();
    const ns = `late${process.pid}x${Date.now()}`;
    const logs: string[] = [];
    const s = await spawnServer(
      dir,
      [...FLAGS, '--chroma-url', `http://127.0.0.1:${port}`, '--namespace', ns],
      (client) =>
        client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logs.push(String(n.params.data))),
    );
    defer(() => s.close());
    await waitFor(
      async () => (logs.some((l) => /L3 \(chroma\) is unreachable/.test(l)) ? true : undefined),
      'the outage notice at initialization',
    );

    await call(s.client, 'ingest', { text: demoDoc(), source: 'manual.md' });
    const found = await faultFinds(s, 'Kestrel', 2003);
    assert.ok(found, 'page_fault finds the page with Chroma down');

    const chroma = await startChroma({ ownServer: true, dataDir: chromaDir.dir, port });
    if (!chroma) return t.skip(CHROMA_MISSING);
    defer(() => chroma.stop());
    await waitFor(
      async () => (logs.some((l) => /L3 \(chroma\) is reachable again/.test(l)) ? true : undefined),
      'the recovery notice',
    );
    const want = JSON.stringify([...(await allPages(s.client)).keys()].sort());
    await waitFor(
      async () =>
        JSON.stringify((await getRecords(chroma.url, `vmem-${ns}-pages`)).ids.filter(isPageId).sort()) === want
          ? true
          : undefined,
      'the pages ingested while Chroma was down, in Chroma',
    );
    assert.equal(logs.filter((l) => /unreachable/.test(l)).length, 1, 'the host is told once');
    assert.equal(s.errors.length, 0);
  });
});
