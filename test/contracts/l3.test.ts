/**
 * One contract for every L3Index backend (EmbeddedIndex on a temp file, ChromaIndex on a real Chroma
 * server with a random collection per test, deleted after), plus Chroma-only checks.
 *
 * Chroma: VMEM_TEST_CHROMA_URL if set, else scripts/chroma-server.sh on a free port; when it cannot start
 * the Chroma tests are skipped with a visible reason (and fail when CI=true). The server is stopped in
 * `after`, and killed on process exit as a backstop.
 */

import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { PageMeta } from '../../src/core/page.ts';
import type { Embedder } from '../../src/embed/embedder.ts';
import { HashingEmbedder } from '../../src/embed/hashing.ts';
import { EmbedderMismatchError } from '../../src/errors.ts';
import { ChromaIndex } from '../../src/tiers/l3/chroma.ts';
import { EmbeddedIndex } from '../../src/tiers/l3/embedded.ts';
import { HybridIndex } from '../../src/tiers/l3/hybrid.ts';
import type { IndexItem, L3Index } from '../../src/tiers/l3/index.ts';
import { CHROMA_MISSING, deleteCollection, getRecords, startChroma, type TestChroma } from '../support/chroma.ts';
import { withHarness } from '../support/contract.ts';
import { freePort } from '../support/redis.ts';
import { waitFor } from '../support/wait.ts';

interface Harness {
  index: L3Index;
  /** A new instance on the same store (the current one is closed first), optionally with another embedder. */
  reopen(embedder?: Embedder): Promise<L3Index>;
  cleanup(): Promise<void>;
}

type Make = () => Promise<Harness>;

const TEXTS = {
  cat: 'The cat sat on the warm mat and purred at the sleepy dog by the fire.',
  revenue: 'Quarterly revenue grew eleven percent on strong cloud subscription sales.',
  volcano: 'The volcano erupted, sending ash and molten lava down the mountain slopes.',
  plants: 'Photosynthesis converts sunlight, water and carbon dioxide into glucose inside plant leaves.',
};

function item(text: string, ordinal = 0): IndexItem {
  const sha256 = createHash('sha256').update(text).digest('hex');
  const meta: PageMeta = {
    id: sha256.slice(0, 16),
    sha256,
    tokens: text.split(/\s+/).length,
    documentId: 'doc-1',
    source: 'test.txt',
    ordinal,
    charStart: 0,
    charEnd: text.length,
    lineStart: 1,
    lineEnd: 1,
  };
  return { meta, text };
}

const ITEMS = Object.fromEntries(Object.entries(TEXTS).map(([k, text], i) => [k, item(text, i)])) as Record<
  keyof typeof TEXTS,
  IndexItem
>;
const ALL = Object.values(ITEMS);

export function l3Contract(name: string, make: Make, skipReason?: () => string | undefined): void {
  describe(`L3 contract: ${name}`, () => {
    const test = (title: string, fn: (h: Harness) => Promise<void>) =>
      it(title, { timeout: 30_000 }, (t) => withHarness(t, make, skipReason, fn));

    test('an empty index finds nothing', async ({ index }) => {
      assert.equal(index.size(), 0);
      assert.equal(index.has(ITEMS.cat.meta.id), false);
      assert.deepEqual(await index.query('volcano lava', 5), []);
    });

    test('a query finds the page whose text matches best, first', async ({ index }) => {
      await index.upsert(ALL);
      await index.flush();
      const cases: [string, IndexItem][] = [
        ['where did the molten lava and ash go after the volcano erupted', ITEMS.volcano],
        ['cloud subscription revenue growth', ITEMS.revenue],
        ['sleepy cat on a warm mat', ITEMS.cat],
        ['how do plant leaves make glucose from sunlight', ITEMS.plants],
      ];
      for (const [q, want] of cases) {
        const hits = await index.query(q, 3);
        assert.ok(hits.length >= 1, `no hits for ${q}`);
        assert.equal(hits[0]!.pageId, want.meta.id, `best hit for ${JSON.stringify(q)}`);
        for (let i = 1; i < hits.length; i++) assert.ok(hits[i - 1]!.score >= hits[i]!.score, 'hits are best first');
      }
    });

    test('upsert is idempotent; has and size track the pages', async ({ index }) => {
      await index.upsert([ITEMS.cat, ITEMS.revenue]);
      assert.equal(index.size(), 2);
      assert.equal(index.has(ITEMS.cat.meta.id), true);
      assert.equal(index.has(ITEMS.volcano.meta.id), false);
      await index.upsert([ITEMS.cat, ITEMS.revenue, ITEMS.cat]);
      assert.equal(index.size(), 2, 'a repeated upsert adds nothing');
      await index.upsert(ALL);
      assert.equal(index.size(), 4);
      await index.flush();
      const hits = await index.query('cat mat', 10);
      assert.equal(new Set(hits.map((h) => h.pageId)).size, hits.length, 'no duplicate hits');
    });

    test('a removed page is found no more, and found again once upserted again', async ({ index }) => {
      await index.upsert(ALL);
      await index.flush();
      const q = 'sleepy cat on a warm mat';
      assert.equal((await index.query(q, 1))[0]!.pageId, ITEMS.cat.meta.id);
      await index.remove([ITEMS.cat.meta.id, 'p00000000000000000000']);
      await index.flush();
      assert.equal(index.has(ITEMS.cat.meta.id), false);
      const hits = await index.query(q, 4);
      assert.equal(
        hits.some((h) => h.pageId === ITEMS.cat.meta.id),
        false,
      );
      await index.upsert([ITEMS.cat]);
      await index.flush();
      assert.equal((await index.query(q, 1))[0]!.pageId, ITEMS.cat.meta.id);
    });

    test('k bounds the result count', async ({ index }) => {
      await index.upsert(ALL);
      await index.flush();
      const q = 'cat revenue volcano photosynthesis';
      assert.equal((await index.query(q, 2)).length, 2);
      assert.equal((await index.query(q, 1)).length, 1);
      assert.deepEqual(await index.query(q, 0), []);
      assert.ok((await index.query(q, 10)).length <= 4);
    });

    test('a new instance on the same store sees the same pages', async (h) => {
      await h.index.upsert(ALL);
      await h.index.flush();
      const again = await h.reopen();
      assert.equal(again.size(), 4);
      for (const it of ALL) assert.equal(again.has(it.meta.id), true);
      const hits = await again.query('volcano ash and lava', 2);
      assert.equal(hits[0]?.pageId, ITEMS.volcano.meta.id);
      await again.upsert(ALL);
      assert.equal(again.size(), 4);
    });
  });
}

// --- EmbeddedIndex on a temp file -------------------------------------------------------------------

l3Contract('embedded', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vmem-l3-'));
  const file = join(dir, 'embedded.jsonl');
  // The lexical index has no embedder (a semantic one is tested in test/embed-openai.test.ts).
  let current: L3Index = await EmbeddedIndex.open(file);
  const h: Harness = {
    index: current,
    async reopen() {
      await current.close();
      current = await EmbeddedIndex.open(file);
      return current;
    },
    async cleanup() {
      await current.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return h;
});

// --- ChromaIndex on a real server ------------------------------------------------------------------

let chroma: TestChroma | undefined;
let chromaStartMs = 0;

before(async () => {
  const t0 = Date.now();
  chroma = await startChroma();
  chromaStartMs = Date.now() - t0;
  if (chroma && !chroma.external) console.log(`# chroma server up in ${chromaStartMs} ms (pid ${chroma.pid})`);
});
after(async () => {
  await chroma?.stop();
});

const chromaSkip = () => (chroma ? undefined : CHROMA_MISSING);

/** `named` learns the test's collection name. */
function makeChroma(named?: (collection: string) => void): Make {
  return async () => {
    const url = chroma!.url;
    const collection = `vmem-test-${randomUUID()}`;
    named?.(collection);
    let current: L3Index = await ChromaIndex.open({ url, collection, embedder: new HashingEmbedder() });
    return {
      index: current,
      async reopen(embedder = new HashingEmbedder()) {
        await current.close();
        current = await ChromaIndex.open({ url, collection, embedder });
        return current;
      },
      async cleanup() {
        await current.close();
        await deleteCollection(url, collection);
      },
    };
  };
}

l3Contract('chroma', makeChroma(), chromaSkip);

describe('L3 chroma only', () => {
  it(
    'reopening with another embedder throws EmbedderMismatchError naming both and vmem reindex',
    { timeout: 30_000 },
    (t) =>
      withHarness(t, makeChroma(), chromaSkip, async (h) => {
        await h.index.upsert([ITEMS.cat]);
        const other = new HashingEmbedder(512);
        await assert.rejects(h.reopen(other), (err: Error) => {
          assert.ok(err instanceof EmbedderMismatchError, `got ${err.name}: ${err.message}`);
          assert.match(err.message, /vmem reindex/);
          assert.ok(err.message.includes(new HashingEmbedder().name), err.message);
          assert.ok(err.message.includes(other.name), err.message);
          return true;
        });
        // The collection is untouched: the right embedder still opens it.
        const again = await h.reopen();
        assert.equal(again.size(), 1);
      }),
  );

  it('stores the page text and metadata, and scores are cosine similarities', { timeout: 30_000 }, (t) => {
    let collection = '';
    return withHarness(
      t,
      makeChroma((c) => (collection = c)),
      chromaSkip,
      async ({ index }) => {
        await index.upsert(ALL);
        const stored = await getRecords(chroma!.url, collection);
        assert.equal(stored.ids.length, 4);
        const at = stored.ids.indexOf(ITEMS.revenue.meta.id);
        assert.equal(stored.documents[at], TEXTS.revenue);
        const { documentId, source, ordinal, tokens } = ITEMS.revenue.meta;
        assert.deepEqual(stored.metadatas[at], { documentId, source, ordinal, tokens });
        const [hit] = await index.query(TEXTS.plants, 1);
        assert.equal(hit?.pageId, ITEMS.plants.meta.id);
        assert.ok(Math.abs(hit!.score - 1) < 1e-3, `an identical text scores ~1, got ${hit!.score}`);
      },
    );
  });
});

// --- HybridIndex: embedded lexical + Chroma vectors --------------------------------------------------

/** Page texts by id, as L4 would give them. */
const byId = new Map(ALL.map((it) => [it.meta.id, it]));
const texts = async (items: { pageId: string }[]) => items.map((it) => byId.get(it.pageId)!).filter(Boolean);

interface HybridHarness extends Harness {
  collection: string;
  /** Every reachability change the index reported, in order. */
  statuses: boolean[];
}

/** A HybridIndex on a temp lexical file and a random collection of the server at `url()`. */
function makeHybrid(
  url: () => string,
  opts: { retryMs?: number; timeoutMs?: number } = {},
): () => Promise<HybridHarness> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vmem-l3h-'));
    const collection = `vmem-test-${randomUUID()}`;
    const statuses: boolean[] = [];
    const open = async (embedder: Embedder) =>
      HybridIndex.open(
        {
          lexical: await EmbeddedIndex.open(join(dir, 'embedded.jsonl')),
          connect: () => ChromaIndex.open({ url: url(), collection, embedder }),
          texts,
          ...opts,
        },
        (up) => statuses.push(up),
      );
    let current: HybridIndex = await open(new HashingEmbedder());
    return {
      index: current,
      collection,
      statuses,
      async reopen(embedder = new HashingEmbedder()) {
        await current.close();
        current = await open(embedder);
        return current;
      },
      async cleanup() {
        await current.close();
        await deleteCollection(url(), collection).catch(() => {});
        rmSync(dir, { recursive: true, force: true });
      },
    };
  };
}

l3Contract(
  'chroma + embedded lexical (hybrid)',
  makeHybrid(() => chroma!.url),
  chromaSkip,
);

describe('L3 hybrid only', () => {
  it('a collection built by another embedder is refused at open, naming vmem reindex', { timeout: 30_000 }, (t) =>
    withHarness(
      t,
      makeHybrid(() => chroma!.url),
      chromaSkip,
      async (h) => {
        await h.index.upsert([ITEMS.cat]);
        await assert.rejects(
          h.reopen(new HashingEmbedder(512)),
          (err: Error) => err instanceof EmbedderMismatchError && /vmem reindex/.test(err.message),
        );
        assert.equal((await h.reopen()).size(), 1);
      },
    ),
  );

  it('Chroma stopped mid-run: queries and upserts keep working on the lexical side; after a restart the missed pages reach Chroma', {
    timeout: 60_000,
  }, async (t) => {
    if (chromaSkip()) return t.skip(chromaSkip());
    const dataDir = mkdtempSync(join(tmpdir(), 'vmem-chroma-own-'));
    t.after(() => rmSync(dataDir, { recursive: true, force: true }));
    let server = (await startChroma({ ownServer: true, dataDir, port: await freePort() }))!;
    t.after(() => server.stop());
    await withHarness(
      t,
      makeHybrid(() => server.url, { retryMs: 200, timeoutMs: 2000 }),
      undefined,
      async (h) => {
        const hybrid = h.index as HybridIndex;
        await hybrid.upsert([ITEMS.cat, ITEMS.revenue]);
        assert.deepEqual(h.statuses, [true]);

        await server.stop();
        // The first query after the loss notices it, and still answers from the lexical side.
        const during = await hybrid.query('molten lava volcano', 2);
        await hybrid.upsert([ITEMS.volcano, ITEMS.plants]);
        const hits = await hybrid.query('volcano erupted lava', 1);
        assert.equal(hits[0]?.pageId, ITEMS.volcano.meta.id, 'a page indexed while Chroma is down is found');
        assert.ok(during.length <= 2);
        assert.equal(hybrid.available(), false);
        assert.deepEqual(h.statuses, [true, false], 'the outage is reported once');

        server = (await startChroma({ ownServer: true, dataDir, port: server.port }))!;
        await waitFor(() => hybrid.available(), 'the hybrid index to reconnect by itself');
        await hybrid.caughtUp();
        assert.deepEqual(h.statuses, [true, false, true], 'the recovery is reported once');
        const stored = await getRecords(server.url, h.collection);
        assert.deepEqual(
          stored.ids.sort(),
          ALL.map((it) => it.meta.id).sort(),
          'Chroma holds every page, including those indexed while it was down',
        );
      },
    );
  });
});
