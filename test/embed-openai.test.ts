/**
 * The OpenAI-compatible embedder and the embedded index's passage vectors, against a fake embeddings
 * server on loopback: what is sent, batching, Retry-After, timeouts, malformed replies, the endpoint
 * down at ingest, and a page found through the meaning of a query whose words it does not share.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { loadConfig } from '../src/config.ts';
import { tokenizer } from '../src/core/tokenizer.ts';
import { OpenAIEmbedder } from '../src/embed/openai.ts';
import { passagesOf } from '../src/embed/passages.ts';
import { ConfigError, EmbedderMismatchError, EmbeddingError } from '../src/errors.ts';
import { EmbeddedIndex } from '../src/tiers/l3/embedded.ts';
import type { IndexItem, ItemKind } from '../src/tiers/l3/index.ts';
import { VectorStore } from '../src/tiers/l3/vector-store.ts';
import { semanticEmbedderFor } from '../src/wiring.ts';
import { call, connectedStore, tempDir } from './helpers.ts';
import { FAKE_DIM, fakeEmbeddings, topicVector } from './support/fake-embeddings.ts';
import { waitFor } from './support/wait.ts';

const KEY = 'sk-test-secret-key';
const tok = tokenizer('o200k_base');

async function server(t: import('node:test').TestContext) {
  const fake = await fakeEmbeddings();
  t.after(() => fake.close());
  return fake;
}

const embedderOf = (baseURL: string, extra: Partial<ConstructorParameters<typeof OpenAIEmbedder>[0]> = {}) =>
  new OpenAIEmbedder({ baseURL, model: 'fake-embed', apiKey: KEY, maxRetries: 0, timeoutMs: 2000, ...extra });

test('a request is POST /embeddings with the model, an array of inputs and float encoding; vectors come back unit length', async (t) => {
  const fake = await server(t);
  const embedder = embedderOf(fake.baseURL);
  const [v] = await embedder.embed(['the sea and the ocean']);
  assert.equal(fake.requests.length, 1);
  const r = fake.requests[0]!;
  assert.equal(r.method, 'POST');
  assert.equal(r.url, '/v1/embeddings');
  assert.equal(r.authorization, `Bearer ${KEY}`);
  assert.deepEqual(r.body.input, ['the sea and the ocean']);
  assert.equal(r.body.model, 'fake-embed');
  assert.equal(r.body.encoding_format, 'float');
  assert.equal(v!.length, FAKE_DIM);
  assert.ok(Math.abs(Math.hypot(...v!) - 1) < 1e-6, 'unit length');
  const raw = topicVector('the sea and the ocean');
  assert.ok(Math.abs(v![0]! - raw[0]! / Math.hypot(...raw)) < 1e-6, 'the direction the server gave');
  assert.equal(embedder.dim, FAKE_DIM);
});

test('many inputs go in several bounded requests, and come back in input order', async (t) => {
  const fake = await server(t);
  const texts = Array.from({ length: 150 }, (_, i) => (i % 2 ? `gold coin ${i}` : `waves ${i}`));
  const vectors = await embedderOf(fake.baseURL).embed(texts);
  assert.deepEqual(
    fake.requests.map((r) => r.body.input!.length),
    [64, 64, 22],
  );
  assert.equal(vectors.length, 150);
  assert.ok(vectors.every((v, i) => (i % 2 ? v[1]! > 0.9 : v[0]! > 0.9)));
});

test('a 429 with Retry-After is retried after the delay it asks for, then succeeds', async (t) => {
  const fake = await server(t);
  let calls = 0;
  fake.set(() =>
    calls++ === 0
      ? { status: 429, headers: { 'retry-after': '1' }, body: { error: { message: 'slow down' } } }
      : undefined,
  );
  const started = Date.now();
  const [v] = await embedderOf(fake.baseURL, { maxRetries: 2 }).embed(['tide']);
  assert.equal(fake.requests.length, 2);
  assert.ok(Date.now() - started >= 900, `waited ${Date.now() - started} ms for Retry-After: 1`);
  assert.ok(v![0]! > 0.9);
});

test('an endpoint that does not answer fails after the timeout, with a message that names it and not the key', async (t) => {
  const fake = await server(t);
  fake.set(() => 'hang');
  const err = await embedderOf(fake.baseURL, { timeoutMs: 300 })
    .embed(['tide'])
    .then(
      () => assert.fail('no timeout'),
      (e: unknown) => e as Error,
    );
  assert.ok(err instanceof EmbeddingError, String(err));
  assert.match(err.message, /timed out/i);
  assert.ok(err.message.includes(fake.baseURL));
  assert.ok(!err.message.includes(KEY));
});

test('malformed replies are errors that say what was wrong; a dimension change names vmem reindex', async (t) => {
  const fake = await server(t);
  const embedder = embedderOf(fake.baseURL);
  fake.set(() => ({ status: 200, body: { data: [{ index: 0, embedding: [1, 0] }] } }));
  await assert.rejects(
    embedder.embed(['a', 'b']),
    (e: Error) => e instanceof EmbeddingError && /returned 1 embeddings for 2 inputs/.test(e.message),
  );
  fake.set(() => ({ status: 200, body: { data: [{ index: 0, embedding: [1, 'x', 0] }] } }));
  await assert.rejects(
    embedder.embed(['a']),
    (e: Error) => e instanceof EmbeddingError && /not a list of numbers/.test(e.message),
  );
  fake.set(() => ({ status: 200, body: { data: [{ index: 0, embedding: [1, 0, 0] }] } }));
  await embedder.embed(['a']);
  fake.set(() => ({ status: 200, body: { data: [{ index: 0, embedding: [1, 0, 0, 0] }] } }));
  await assert.rejects(
    embedder.embed(['a']),
    (e: Error) =>
      e instanceof EmbedderMismatchError && /dimension 4 after 3/.test(e.message) && /vmem reindex/.test(e.message),
  );
});

test('a passage holds whole sentences within its token bound; an overlong sentence is cut between words', () => {
  const sentences = Array.from({ length: 40 }, (_, i) => `Sentence number ${i} talks about the sea and the tide.`);
  const passages = passagesOf(sentences.join(' '), tok, 50);
  assert.ok(passages.length > 5);
  for (const p of passages) assert.ok(tok.count(p) <= 50, p);
  assert.equal(passages.join(' '), sentences.join(' '));
  const long = Array.from({ length: 300 }, () => 'word').join(' ');
  assert.ok(passagesOf(long, tok, 50).every((p) => tok.count(p) <= 50));
});

const PAGES: Record<string, string> = {
  pA: 'The crew watched the waves all night. The tide turned before dawn and the ocean went quiet.',
  pB: 'The captain nailed a gold doubloon to the mast. Every man wanted the coin for his wages.',
  pC: 'An albatross followed the ship for days. Its wings never seemed to move.',
};
const itemsOf = (ids: string[]): IndexItem[] =>
  ids.map((id) => ({ meta: { id } as IndexItem['meta'], text: PAGES[id]! }));

/** An embedded index with the fake endpoint as its semantic embedder; texts come from PAGES, as from L4. */
async function semanticIndex(file: string, baseURL: string, statuses: boolean[] = []) {
  const texts = async (items: { pageId: string; kind: ItemKind }[]) => itemsOf(items.map((i) => i.pageId));
  const index = await EmbeddedIndex.open(file, {
    semantic: {
      embedder: embedderOf(baseURL),
      texts,
      tokenizer: tok,
      describe: `the fake endpoint ${baseURL}`,
      retryMs: 20,
      maxRetryMs: 40,
    },
  });
  index.onStatus((up) => statuses.push(up));
  return index;
}

function allHaveVectors(file: string): boolean {
  const v = VectorStore.open(file);
  try {
    return v.itemsAfter(0, 1000).every((i) => i.done);
  } finally {
    v.close();
  }
}

test('a page whose passage means what the query asks wins through the vector signal, with no word in common', async (t) => {
  const fake = await server(t);
  const tmp = tempDir('vmem-embed-');
  t.after(() => tmp.cleanup());
  const file = join(tmp.dir, 'l3.db');
  const lexicalOnly = await EmbeddedIndex.open(join(tmp.dir, 'lexical.db'));
  t.after(() => lexicalOnly.close());
  await lexicalOnly.upsert(itemsOf(['pA', 'pB', 'pC']));
  assert.deepEqual(await lexicalOnly.query('saltwater expanse', 3), [], 'no page shares a word with the query');

  const index = await semanticIndex(file, fake.baseURL);
  t.after(() => index.close());
  await index.upsert(itemsOf(['pA', 'pB', 'pC']));
  await index.vectorsIdle();
  assert.ok(allHaveVectors(file));
  const hits = await index.query('saltwater expanse', 3);
  assert.equal(hits[0]?.pageId, 'pA');
  // The same for a query with words: the lexical and the semantic rankings agree on the winner.
  assert.equal((await index.query('albatross feathers', 1))[0]?.pageId, 'pC');
});

test('a removed page leaves the vectors and the queue: its vectors are dropped, nothing embeds it again, no query finds it', async (t) => {
  const fake = await server(t);
  const tmp = tempDir('vmem-embed-');
  t.after(() => tmp.cleanup());
  const file = join(tmp.dir, 'l3.db');
  const index = await semanticIndex(file, fake.baseURL);
  t.after(() => index.close());
  await index.upsert(itemsOf(['pA', 'pB', 'pC']));
  await index.vectorsIdle();
  await index.remove(['pA']);
  assert.ok(allHaveVectors(file), 'the removed item is not queued: it has no vectors to get');
  const requests = fake.requests.length;
  await index.upsert(itemsOf(['pB'])); // a kick of the catch-up: it finds nothing to embed
  await index.vectorsIdle();
  assert.equal(fake.requests.length, requests, 'the removed page is not embedded again');
  const v = VectorStore.open(file);
  t.after(() => v.close());
  assert.equal(new Set([...v.scan()].map((r) => r.item)).size, 2, 'its vectors are gone');
  assert.ok((await index.query('saltwater expanse', 3)).every((h) => h.pageId !== 'pA'));
});

test('the endpoint down at ingest: pages are found by their words at once, their vectors follow once it is back, and each change is reported once', async (t) => {
  const fake = await server(t);
  const tmp = tempDir('vmem-embed-');
  t.after(() => tmp.cleanup());
  const file = join(tmp.dir, 'l3.db');
  let down = true;
  fake.set(() => (down ? { status: 503, body: { error: { message: 'loading model' } } } : undefined));
  const statuses: boolean[] = [];
  const index = await semanticIndex(file, fake.baseURL, statuses);
  t.after(() => index.close());
  await index.upsert(itemsOf(['pA', 'pB', 'pC']));
  assert.equal((await index.query('doubloon', 1))[0]?.pageId, 'pB', 'found by its words before any vector');
  await waitFor(() => statuses.length === 1, 'the outage report');
  assert.deepEqual(statuses, [false]);
  assert.equal(index.available(), false);
  assert.ok(!allHaveVectors(file));
  down = false;
  await waitFor(() => statuses.length === 2, 'the recovery report');
  await index.vectorsIdle();
  assert.deepEqual(statuses, [false, true], 'one report each way, however many retries');
  assert.ok(allHaveVectors(file));
  assert.equal((await index.query('saltwater expanse', 1))[0]?.pageId, 'pA');
});

test('a store left without vectors (its process gone mid catch-up) is filled in at the next open; a second writer adds nothing twice', async (t) => {
  const fake = await server(t);
  const tmp = tempDir('vmem-embed-');
  t.after(() => tmp.cleanup());
  const file = join(tmp.dir, 'l3.db');
  fake.set(() => ({ status: 503, body: { error: { message: 'down' } } }));
  const first = await semanticIndex(file, fake.baseURL);
  await first.upsert(itemsOf(['pA', 'pB', 'pC']));
  await first.close();
  assert.ok(!allHaveVectors(file));
  fake.set(() => undefined);
  const [a, b] = [await semanticIndex(file, fake.baseURL), await semanticIndex(file, fake.baseURL)];
  t.after(async () => {
    await a.close();
    await b.close();
  });
  await Promise.all([a.vectorsIdle(), b.vectorsIdle()]);
  assert.ok(allHaveVectors(file));
  const v = VectorStore.open(file);
  t.after(() => v.close());
  const rows = [...v.scan()];
  assert.equal(new Set(rows.map((r) => r.item)).size, 3);
  assert.equal(rows.length, 3, 'one passage per short page, each once');
  assert.equal((await b.query('saltwater expanse', 1))[0]?.pageId, 'pA');
});

test('an index built by one embedding model refuses another, naming vmem reindex; so does a lexical-only one', async (t) => {
  const fake = await server(t);
  const tmp = tempDir('vmem-embed-');
  t.after(() => tmp.cleanup());
  const file = join(tmp.dir, 'l3.db');
  const lexical = await EmbeddedIndex.open(file);
  await lexical.close();
  await assert.rejects(
    semanticIndex(file, fake.baseURL),
    (e: Error) =>
      e instanceof EmbedderMismatchError &&
      /built by embedder lexical, but openai:fake-embed/.test(e.message) &&
      /vmem reindex/.test(e.message),
  );
});

test('through the MCP server: VMEM_EMBEDDER=openai pages are found by their words while the endpoint is down, by their meaning once it is back, and the host hears of both', async (t) => {
  const fake = await server(t);
  let down = true;
  fake.set(() => (down ? { status: 503, body: { error: { message: 'loading model' } } } : undefined));
  const { client } = await connectedStore(t, {
    '--embedder': 'openai',
    '--embed-base-url': fake.baseURL,
    '--embed-model': 'fake-embed',
  });
  const logs: string[] = [];
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logs.push(String(n.params.data)));
  await client.setLoggingLevel('info');
  for (const [id, text] of Object.entries(PAGES)) await call(client, 'ingest', { text, source: `${id}.md` });
  const byWords = await call(client, 'page_fault', { query: 'albatross wings', max_pages: 1 });
  assert.equal(byWords.s.pages[0]?.source, 'pC.md', 'found by its words at once');
  await waitFor(() => logs.some((l) => /L3 \(embedded\) is unreachable/.test(l)), 'the outage notice');
  assert.ok(!logs.some((l) => l.includes(KEY)));
  down = false;
  await waitFor(() => logs.some((l) => /reachable again/.test(l)), 'the recovery notice', { timeoutMs: 15_000 });
  const byMeaning = await waitFor(async () => {
    await call(client, 'evict', { all: true });
    const r = await call(client, 'page_fault', { query: 'saltwater expanse', max_pages: 1 });
    return r.s.pages[0]?.source === 'pA.md' ? r : undefined;
  }, 'a fault found by meaning');
  assert.equal(byMeaning.s.pages.length, 1);
  assert.equal(logs.filter((l) => /unreachable/.test(l)).length, 1, 'one notice of the outage');
  assert.equal(logs.filter((l) => /reachable again/.test(l)).length, 1, 'one notice of the recovery');
  const embeddingsCalls = fake.requests.filter((r) => r.url === '/v1/embeddings');
  assert.ok(embeddingsCalls.every((r) => r.body.model === 'fake-embed'));
});

test('VMEM_EMBEDDER=openai against api.openai.com without OPENAI_API_KEY stops at start, naming the key and the local alternative', async () => {
  const config = loadConfig({ '--embedder': 'openai' }, {});
  await assert.rejects(
    semanticEmbedderFor(config, {}),
    (e: Error) => e instanceof ConfigError && /OPENAI_API_KEY/.test(e.message) && /VMEM_EMBED_BASE_URL/.test(e.message),
  );
  assert.equal(await semanticEmbedderFor(loadConfig({}, {}), {}), undefined, 'the default is lexical, offline');
  const local = await semanticEmbedderFor(
    loadConfig(
      { '--embedder': 'openai', '--embed-base-url': 'http://localhost:11434/v1', '--embed-model': 'nomic-embed-text' },
      {},
    ),
    {},
  );
  assert.equal(local?.embedder.name, 'openai:nomic-embed-text');
});
