import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { SharedLog } from '../src/catalog/shared-log.ts';
import { Catalog } from '../src/catalog.ts';
import type { DocumentEntry, PageEntry } from '../src/core/page-table.ts';
import { ConfigError, PageTableUnavailableError } from '../src/errors.ts';
import { Pager } from '../src/pager.ts';
import { reindex } from '../src/reindex.ts';
import { FsL4 } from '../src/tiers/l4/fs.ts';
import { testConfig } from './helpers.ts';
import { REDIS_MISSING, startRedis, type TestRedis } from './support/redis.ts';
import { waitFor } from './support/wait.ts';

/** A page table shared over a Redis Stream: each "node" has a data dir of its own and follows the log. */

let redis: TestRedis | undefined;
const dirs: string[] = [];
const open: Catalog[] = [];

before(async () => {
  redis = await startRedis({ durable: true });
  if (!redis) console.log(`# skipping the shared page table tests: ${REDIS_MISSING}`);
});
after(async () => {
  for (const c of open) await c.close().catch(() => {});
  await redis?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const newDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'vmem-shared-catalog-'));
  dirs.push(d);
  return d;
};

function connections(url: string) {
  const client = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 0, lazyConnect: false });
  const blocking = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 0 });
  client.on('error', () => {});
  blocking.on('error', () => {});
  return { client, blocking, url };
}

const ready = ({ client, blocking }: { client: Redis; blocking: Redis }) =>
  Promise.all([client, blocking].map((c) => c.status === 'ready' || new Promise((r) => c.once('ready', r))));

async function node(namespace: string, dir = newDir(), opts: { fresh?: boolean } = {}) {
  const conn = connections(redis!.url);
  await ready(conn);
  const log = (await SharedLog.open(conn, namespace, { create: true, ...opts }))!;
  const catalog = await Catalog.open(dir, { shared: log });
  open.push(catalog);
  return { catalog, dir, log };
}

let n = 0;
function doc(source: string, texts: string[]): { doc: DocumentEntry; pages: PageEntry[] } {
  const id = `d${(++n).toString(16).padStart(16, '0')}`;
  const pages = texts.map(
    (t, i): PageEntry => ({
      id: `p${t.padStart(63, '0')}`,
      documentId: id,
      source,
      ordinal: i,
      tokens: 10,
      charStart: 0,
      charEnd: 10,
      lineStart: 1,
      lineEnd: 1,
      sha256: t.padStart(64, '0'),
      gist: t,
      stored: true,
      indexed: true,
      accessCount: 0,
      faultCount: 0,
      lastAccess: 0,
    }),
  );
  return {
    doc: { id, source, tokens: 10 * texts.length, bytes: 40, pageIds: pages.map((p) => p.id), ingestedAt: n },
    pages,
  };
}

describe('a page table shared over Redis', () => {
  test('a document recorded on one node is seen on another within a second, queued for its L3 only', async (t) => {
    if (!redis) return t.skip(REDIS_MISSING);
    const a = await node('ns1');
    const b = await node('ns1');
    let changed = 0;
    b.catalog.on('changed', () => changed++);
    const d = doc('a.md', ['a1', 'a2']);
    await a.catalog.addDocuments([d]);
    assert.ok(a.catalog.table.document(d.doc.id), 'the writer sees its own change when the call returns');
    await waitFor(() => b.catalog.table.document(d.doc.id) !== undefined, 'node b sees the document', {
      timeoutMs: 1000,
    });
    assert.deepEqual(b.catalog.table.document(d.doc.id)?.pageIds, d.doc.pageIds);
    assert.equal(b.catalog.table.totals().pages, 2);
    assert.ok(changed >= 1, "node b announced the other node's change");
    assert.deepEqual(
      b.catalog
        .indexQueue(10)
        .map((i) => i.pageId)
        .sort(),
      [...d.doc.pageIds].sort(),
      "node b's L3 must index the pages node a brought",
    );
    assert.deepEqual(a.catalog.indexQueue(10), [], 'node a indexed its pages itself');
  });

  test('a node joining later gets the whole page table, and forgets reach every node', async (t) => {
    if (!redis) return t.skip(REDIS_MISSING);
    const a = await node('ns2');
    const d1 = doc('one.md', ['o1', 'shared']);
    const d2 = doc('two.md', ['t1', 'shared']);
    await a.catalog.addDocuments([d1, d2]);
    const b = await node('ns2');
    assert.equal(b.catalog.table.totals().documents, 2, 'a new node catches up before it opens');
    const dropped: string[][] = [];
    b.catalog.on('dropped', (ids: string[]) => dropped.push(ids));
    const gone = await a.catalog.removeDocuments([d1.doc.id], 'forgotten');
    assert.deepEqual(gone, [d1.pages[0]!.id], 'the shared page stays, held by two.md');
    await waitFor(() => dropped.length > 0, 'node b announces the dropped page');
    assert.deepEqual(dropped.flat(), gone);
    assert.equal(b.catalog.table.document(d1.doc.id), undefined);
    assert.ok(b.catalog.table.has(d1.pages[1]!.id));
    assert.equal(b.catalog.table.dropped(gone[0]!)?.reason, 'forgotten');
  });

  test('supersede and revive come out the same on every node, and the writer gets the outcome even when another process of its node applied it', async (t) => {
    if (!redis) return t.skip(REDIS_MISSING);
    const a = await node('ns3');
    const sibling = await node('ns3', a.dir); // a second process on node a's data dir
    const b = await node('ns3');
    const v1 = doc('notes.md', ['v1']);
    const v2 = doc('notes.md', ['v2']);
    await a.catalog.addDocuments([v1]);
    await sibling.catalog.addDocuments([v2]);
    await a.catalog.removeDocuments([v2.doc.id], 'forgotten');
    // Ingested again: its page had left the store, so the writer must store it again.
    const { revived } = await a.catalog.addDocuments([v2]);
    assert.deepEqual(revived, [v2.pages[0]!.id]);
    await waitFor(() => b.catalog.table.currentOf('notes.md')?.id === v2.doc.id, 'node b sees v2 current');
    for (const c of [a.catalog, sibling.catalog, b.catalog]) {
      assert.equal(c.table.currentOf('notes.md')?.id, v2.doc.id);
      assert.equal(c.table.document(v1.doc.id)?.supersededBy, v2.doc.id);
      assert.equal(c.table.isCurrent(v1.pages[0]!.id), false);
    }
  });

  test('access statistics of every node add up', async (t) => {
    if (!redis) return t.skip(REDIS_MISSING);
    const a = await node('ns4');
    const b = await node('ns4');
    const d = doc('s.md', ['s1']);
    await a.catalog.addDocuments([d]);
    await waitFor(() => b.catalog.table.has(d.pages[0]!.id), 'node b has the page');
    a.catalog.recordAccess(d.pages[0]!.id, 5, true);
    b.catalog.recordAccess(d.pages[0]!.id, 7, false);
    await Promise.all([a.catalog.flush(), b.catalog.flush()]);
    await waitFor(() => a.catalog.table.get(d.pages[0]!.id)?.accessCount === 2, 'two accesses');
    const e = a.catalog.table.get(d.pages[0]!.id)!;
    assert.deepEqual([e.accessCount, e.faultCount, e.lastAccess], [2, 1, 7]);
  });

  test('with Redis down, reads go on and writes fail as an operator problem; once back, the node catches up', async (t) => {
    if (!redis) return t.skip(REDIS_MISSING);
    const aof = newDir();
    const own = await startRedis({ durable: true, dir: aof });
    const c1 = connections(own!.url);
    const c2 = connections(own!.url);
    await ready(c1);
    await ready(c2);
    const a = await Catalog.open(newDir(), { shared: (await SharedLog.open(c1, 'ns5', { create: true }))! });
    const b = await Catalog.open(newDir(), { shared: (await SharedLog.open(c2, 'ns5', { create: true }))! });
    open.push(a, b);
    const d1 = doc('x.md', ['x1']);
    await a.addDocuments([d1]);
    const port = own!.port;
    await own!.stop();
    await assert.rejects(a.addDocuments([doc('y.md', ['y1'])]), PageTableUnavailableError);
    assert.ok(a.table.document(d1.doc.id), 'what the node knows is still read');
    const back = await startRedis({ durable: true, dir: aof, port });
    t.after(() => back?.stop());
    const d3 = doc('z.md', ['z1']);
    await waitFor(
      async () => {
        try {
          await a.addDocuments([d3]);
          return true;
        } catch {
          return false;
        }
      },
      'writes work again once Redis is back',
      { timeoutMs: 10_000 },
    );
    await waitFor(() => b.table.document(d3.doc.id) !== undefined, 'node b follows again');
    assert.ok(b.table.document(d1.doc.id), 'the AOF kept what was written before the restart');
  });

  test('a new generation (reindex) makes every node start its copy over from it', async (t) => {
    if (!redis) return t.skip(REDIS_MISSING);
    const a = await node('ns6');
    const old = doc('old.md', ['old']);
    await a.catalog.addDocuments([old]);
    const fresh = await node('ns6', newDir(), { fresh: true });
    const rebuilt = doc('new.md', ['new']);
    await fresh.catalog.addDocuments([rebuilt]);
    assert.ok(a.catalog.table.document(old.doc.id), 'an unpublished generation changes nothing');
    await fresh.log.publish();
    await waitFor(() => a.catalog.table.document(rebuilt.doc.id) !== undefined, 'node a follows the new log');
    assert.equal(a.catalog.table.document(old.doc.id), undefined);
    assert.equal(a.catalog.table.totals().documents, 1);
  });

  test('a node indexes what another ingested, and drops what another forgot, in its own L3', async (t) => {
    if (!redis) return t.skip(REDIS_MISSING);
    // L4 every node reaches: one directory stands in for the bucket; each node has a data dir of its own.
    const l4dir = newDir();
    const flags = { '--catalog-url': redis.url, '--namespace': 'ns7', '--page-tokens': '200' };
    const a = await Pager.open(testConfig(newDir(), flags), { l4: await FsL4.open(l4dir) });
    t.after(() => a.close());
    const b = await Pager.open(testConfig(newDir(), flags), { l4: await FsL4.open(l4dir) });
    t.after(() => b.close());
    const text = `# Harbour\n\nThe breakwater at Peterhead was finished in 1956 by convict labour.\n\n${'Tide tables and weather. '.repeat(200)}`;
    const [doc] = await a.ingest([{ source: 'peterhead.md', text }]);
    const session = b.newSession();
    const found = await waitFor(async () => {
      const r = await b.fault(session, 'When was the Peterhead breakwater finished?', { maxPages: 1 });
      return r.pages.find((p) => p.source === doc!.source && p.text?.includes('1956'));
    }, "node b's L3 to index node a's pages");
    assert.equal(b.l3.has(found.pageId), true, 'indexed in node b’s own index');
    await a.forget('peterhead.md');
    await waitFor(() => !b.l3.has(found.pageId), "the forgotten page to leave node b's L3");
    assert.equal(b.table.has(found.pageId), false);
  });

  test('a shared page table lost with its Redis is refused, naming vmem reindex, which rebuilds it from L4', async (t) => {
    if (!redis) return t.skip(REDIS_MISSING);
    const l4dir = newDir();
    const l4 = async () => ({ l4: await FsL4.open(l4dir) });
    const flags = { '--catalog-url': redis.url, '--namespace': 'ns8', '--page-tokens': '200' };
    const a = await Pager.open(testConfig(newDir(), flags), await l4());
    const [doc] = await a.ingest([{ source: 'wick.md', text: `# Wick\n\nThe Wick herring boom peaked in 1862.\n` }]);
    await a.close();
    // The Redis loses the page table (flushed, replaced, or an evicting instance that was not refused).
    const raw = new Redis(redis.url);
    t.after(() => raw.disconnect());
    const keys = await raw.keys('ns8:catalog:*');
    await raw.del(...keys);
    const config = testConfig(newDir(), flags);
    await assert.rejects(Pager.open(config, await l4()), (err: Error) => {
      assert.ok(err instanceof ConfigError, String(err));
      assert.match(err.message, /shared page table .* is empty, but L4 holds documents: run `vmem reindex`/);
      return true;
    });
    const r = await reindex(config, undefined, await l4());
    assert.equal(r.documents, 1);
    assert.match(String(await raw.get('ns8:catalog:generation')), /^g/, 'the rebuilt log is the current one');
    // Any node now finds the document again, through the rebuilt log.
    const b = await Pager.open(testConfig(newDir(), flags), await l4());
    t.after(() => b.close());
    assert.equal(b.table.document(doc!.documentId)?.source, 'wick.md');
  });
});
