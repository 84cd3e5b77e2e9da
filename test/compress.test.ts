/**
 * Compression of evicted pages: each compressor on its own (the extractive one on real text, the
 * OpenAI one against an OpenAI-compatible server on loopback, sampling through a real SDK client),
 * then the background summarizer and multi-resolution paging end to end.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { type CallToolResult, CreateMessageRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import type { Compressor } from '../src/compress/compressor.ts';
import { ExtractiveCompressor } from '../src/compress/extractive.ts';
import { openCompressors } from '../src/compress/index.ts';
import { OpenAICompressor } from '../src/compress/openai.ts';
import { SamplingCompressor } from '../src/compress/sampling.ts';
import { chunkText } from '../src/core/chunker.ts';
import { splitSentences } from '../src/core/sentences.ts';
import { tokenizer } from '../src/core/tokenizer.ts';
import { CompressionError } from '../src/errors.ts';
import type { Pager } from '../src/pager.ts';
import {
  allPages,
  call,
  chapters,
  connect,
  deadPid,
  deferrals,
  demoDoc,
  factRe,
  manualTimers,
  openPager,
  tablePages,
  tempDir,
  testConfig,
  textOf,
} from './helpers.ts';
import { completion, type FakeOpenAI, startFakeOpenAI } from './support/openai.ts';
import { waitFor } from './support/wait.ts';

const enc = tokenizer('o200k_base');
const FLAGS = { '--page-tokens': '500', '--l1-tokens': '1500' };
const flat = (s: string) => s.replace(/\s+/g, ' ').trim();

describe('extractive compressor', () => {
  const pages = chunkText(chapters(8), 2000, enc).filter((c) => c.tokens > 1000);

  test("meets the target ratio within tolerance on real prose, using only the page's own sentences", async () => {
    const x = new ExtractiveCompressor(enc);
    assert.ok(pages.length >= 5, `${pages.length} pages`);
    for (const p of pages) {
      const target = Math.round(p.tokens / 10);
      const summary = await x.compress(p.text, target);
      const tokens = enc.count(summary);
      assert.ok(tokens <= target, `summary of ${tokens} tokens exceeds the target ${target}`);
      assert.ok(tokens >= 0.7 * target, `summary of ${tokens} tokens is far under the target ${target}`);
      // The summary is whole sentences of the page, in the page's order, joined by spaces.
      const own = splitSentences(p.text).map(flat).filter(Boolean);
      let at = 0;
      let from = 0;
      const rest = flat(summary);
      while (at < rest.length) {
        const i = own.findIndex((s, j) => j >= from && rest.startsWith(s, at));
        assert.ok(i >= 0, `not a sentence of the page (in order): ${rest.slice(at, at + 80)}`);
        at += own[i]!.length + 1;
        from = i + 1;
      }
      assert.equal(await x.compress(p.text, target), summary, 'deterministic');
    }
  });

  test('keeps the sentences that carry facts over filler', async () => {
    const x = new ExtractiveCompressor(enc);
    // The demo manual's pages are filler prose with a few fact sentences (station, year, code).
    const withFacts = chunkText(demoDoc(), 2000, enc)
      .filter((c) => /maintenance code for pump station/.test(c.text))
      .slice(0, 10);
    let facts = 0;
    let kept = 0;
    for (const p of withFacts) {
      const summary = await x.compress(p.text, Math.round(p.tokens / 10));
      for (const m of p.text.matchAll(/In (\d{4}) the maintenance code for pump station (\w+) was \d+/g)) {
        facts++;
        if (factRe(m[2]!, Number(m[1])).test(summary)) kept++;
      }
    }
    assert.ok(facts >= 10, `${facts} facts`);
    assert.ok(kept / facts >= 0.8, `kept ${kept} of ${facts} fact sentences`);
  });

  test('a page of one long sentence is cut to the target, never returned whole', async () => {
    const text = `${'word '.repeat(3000)}end.`;
    const summary = await new ExtractiveCompressor(enc).compress(text, 50);
    assert.ok(enc.count(summary) <= 50, `${enc.count(summary)} tokens`);
    assert.ok(summary.endsWith('…'));
  });
});

describe('openai compressor against an OpenAI-compatible server on loopback', () => {
  const page = chunkText(chapters(1), 2000, enc)[0]!.text;
  const withServer = async (t: import('node:test').TestContext, fn: (s: FakeOpenAI) => Promise<void>) => {
    const s = await startFakeOpenAI();
    t.after(() => s.close());
    await fn(s);
  };
  const make = (s: FakeOpenAI, opts: { timeoutMs?: number; maxRetries?: number } = {}) =>
    new OpenAICompressor({
      baseURL: s.url,
      model: 'test-model',
      apiKey: 'sk-secret-never-logged',
      tokenizer: enc,
      ...opts,
    });

  test('sends one chat completion with the model, the prompt, the page and the token budget', (t) =>
    withServer(t, async (s) => {
      s.answer(() => completion('The essay says three things.'));
      assert.equal(await make(s).compress(page, 120), 'The essay says three things.');
      assert.equal(s.requests.length, 1);
      const [r] = s.requests;
      assert.equal(r!.method, 'POST');
      assert.equal(r!.path, '/v1/chat/completions');
      assert.equal(r!.headers.authorization, 'Bearer sk-secret-never-logged');
      assert.equal(r!.body.model, 'test-model');
      assert.equal(r!.body.temperature, 0);
      assert.equal(r!.body.max_tokens, 180);
      assert.equal(r!.body.messages[0].role, 'system');
      assert.match(r!.body.messages[0].content, /about 120 tokens/);
      assert.match(r!.body.messages[0].content, /Invent nothing/);
      assert.deepEqual(r!.body.messages[1], { role: 'user', content: page });
    }));

  test("a 429 is retried after the server's Retry-After, then succeeds", (t) =>
    withServer(t, async (s) => {
      s.answer((_, n) =>
        n === 0
          ? { status: 429, headers: { 'retry-after': '0' }, body: { error: { message: 'slow down' } } }
          : completion('Summary after a retry.'),
      );
      assert.equal(await make(s).compress(page, 100), 'Summary after a retry.');
      assert.equal(s.requests.length, 2);
    }));

  test('a persistent 500, a timeout and malformed replies are retryable CompressionErrors that never show the key', (t) =>
    withServer(t, async (s) => {
      const fails = async (c: Compressor, pattern: RegExp) =>
        assert.rejects(c.compress(page, 100), (err: Error) => {
          assert.ok(err instanceof CompressionError, `${err.name}: ${err.message}`);
          assert.equal(err.retryable, true);
          assert.match(err.message, pattern);
          assert.doesNotMatch(err.message, /sk-secret/);
          return true;
        });
      s.answer(() => ({ status: 500, body: { error: { message: 'boom' } } }));
      await fails(make(s, { maxRetries: 1 }), /HTTP 500/);
      assert.equal(s.requests.length, 2, 'one retry');
      s.answer(() => ({ hang: true }));
      await fails(make(s, { timeoutMs: 300, maxRetries: 0 }), /timed out/i);
      s.answer(() => ({ body: 'this is not json' }));
      await fails(make(s, { maxRetries: 0 }), /./);
      s.answer(() => completion(null));
      await fails(make(s, { maxRetries: 0 }), /no summary text/);
      s.answer(() => ({ body: { choices: [] } }));
      await fails(make(s, { maxRetries: 0 }), /no summary text/);
      s.answer(() => completion(`${page} ${page}`));
      await fails(make(s, { maxRetries: 0 }), /as long as the page/);
    }));

  test('configuration: OpenAI itself needs OPENAI_API_KEY; a local server does not', async () => {
    const { dir, cleanup } = tempDir();
    try {
      await assert.rejects(openCompressors(testConfig(dir, { '--compressor': 'openai' }), enc, {}), /OPENAI_API_KEY/);
      const local = await openCompressors(
        testConfig(dir, {
          '--compressor': 'openai',
          '--openai-base-url': 'http://127.0.0.1:11434/v1',
          '--openai-model': 'llama3.2',
        }),
        enc,
        {},
      );
      assert.equal(local.compressor.name, 'openai:llama3.2');
    } finally {
      cleanup();
    }
  });
});

/** Ingests the demo manual and fills a session's L1 until pages are evicted; returns their ids. */
async function evictSome(pager: Pager, session = pager.newSession()): Promise<string[]> {
  await pager.ingest([{ source: 'manual.md', text: demoDoc() }]);
  const ids = tablePages(pager.table)
    .slice(0, 4)
    .map((p) => p.id);
  const evicted: string[] = [];
  for (const id of ids) evicted.push(...(await pager.load(session, [id])).evicted.map((h) => h.pageId));
  assert.ok(evicted.length >= 1, 'loading four 500-token pages into 1500 tokens evicts');
  return evicted;
}

describe('summaries in the background', () => {
  test('an evicted page gets its summary without delaying the eviction; a failure leaves it uncompressed and it is retried', async (t) => {
    const defer = deferrals(t);
    const { dir, cleanup } = tempDir();
    defer(cleanup);
    const s = await startFakeOpenAI();
    defer(() => s.close());
    let healthy = false;
    // The summary's words appear nowhere in the manual, so a fault can only find the page through it.
    const words = 'Zanzibar quokka telemetry ledger for the pump stations.';
    s.answer(() => (healthy ? completion(words) : { status: 500, body: { error: { message: 'down' } } }));
    const compressor = new OpenAICompressor({ baseURL: s.url, model: 'm', apiKey: 'k', tokenizer: enc, maxRetries: 0 });
    // Retries run on a clock the test advances, not after a real delay.
    const timers = manualTimers();
    const compressors = { compressor, retryMs: 60_000, timers };
    const pager = await openPager(dir, FLAGS, { compressors });
    defer(() => pager.close());
    const [id] = await evictSome(pager);
    await waitFor(() => s.requests.length >= 1, 'the first attempt');
    await pager.summarizer.idle();
    assert.equal(pager.table.get(id!)!.summary, undefined, 'no summary while the server fails');
    assert.equal(
      (await pager.load(pager.newSession(), [id!])).pages[0]!.resolution,
      'full',
      'the page itself is intact',
    );
    assert.ok(timers.pending().includes(60_000), 'the failed page waits for its retry');
    healthy = true;
    timers.advance(60_000);
    await waitFor(() => !!pager.table.get(id!)!.summary, 'the retried summary');
    const summary = pager.table.get(id!)!.summary!;
    assert.equal(summary.text, words);
    assert.equal(summary.by, 'openai:m');
    assert.equal(summary.tokens, enc.count(summary.text));
    const found = await pager.fault(pager.newSession(), 'zanzibar quokka ledger', { maxPages: 1 });
    assert.equal(found.pages[0]?.pageId, id, 'a fault matches the page through its abstractive summary');
  });

  test('a page claimed by a process that is gone is compressed at once; one claimed by a live process is left to it', async (t) => {
    const defer = deferrals(t);
    const { dir, cleanup } = tempDir();
    defer(cleanup);
    const pager = await openPager(dir, FLAGS);
    defer(() => pager.close());
    await pager.ingest([{ source: 'manual.md', text: demoDoc() }]);
    const [orphaned, held] = tablePages(pager.table)
      .slice(0, 2)
      .map((p) => p.id);
    // Claims as a compressing process leaves them: a lock file naming its holder, taken a moment ago.
    const claim = (pid: number) => JSON.stringify({ pid, host: hostname(), nonce: 'c1a1c1a1c1a1c1a1', at: Date.now() });
    fs.mkdirSync(join(dir, 'claims'));
    fs.writeFileSync(join(dir, 'claims', orphaned!), claim(deadPid()));
    fs.writeFileSync(join(dir, 'claims', held!), claim(process.pid));
    pager.summarizer.enqueue([orphaned!, held!]);
    await pager.summarizer.idle();
    assert.ok(pager.table.get(orphaned!)!.summary, 'the claim of a process that died mid-compression blocks its page');
    assert.equal(pager.table.get(held!)!.summary, undefined, 'a live claim was taken over');
    assert.deepEqual(fs.readdirSync(join(dir, 'claims')), [held], 'the taken-over claim is released');
  });

  test('two stores on one data dir (as two processes) compress a page once', async (t) => {
    const defer = deferrals(t);
    const { dir, cleanup } = tempDir();
    defer(cleanup);
    let calls = 0;
    const slow: Compressor = {
      name: 'counting',
      async compress(text) {
        calls++;
        await new Promise((r) => setTimeout(r, 200));
        return text.split(' ').slice(0, 5).join(' ');
      },
    };
    const a = await openPager(dir, FLAGS, { compressors: { compressor: slow } });
    defer(() => a.close());
    await evictSome(a, a.newSession());
    const b = await openPager(dir, FLAGS, { compressors: { compressor: slow } });
    defer(() => b.close());
    // B evicts the same four pages (three of them being compressed by A right now), and the fourth.
    const four = tablePages(a.table)
      .slice(0, 4)
      .map((p) => p.id);
    const sb = b.newSession();
    for (const id of four) await b.load(sb, [id]);
    b.evict(sb, 'all');
    await Promise.all([a.summarizer.idle(), b.summarizer.idle()]);
    await waitFor(
      () => four.every((id) => !!a.table.get(id)?.summary && !!b.table.get(id)?.summary),
      'every summary in both page tables',
    );
    assert.equal(calls, 4, 'one compression per page, across both stores');
    for (const id of four) assert.deepEqual(a.table.get(id)!.summary, b.table.get(id)!.summary);
  });
});

describe('sampling compressor through a real MCP client', () => {
  const samplingClient = (reply: (text: string) => string | Error) => {
    const client = new Client({ name: 'sampler', version: '1' }, { capabilities: { sampling: {} } });
    const asked: { maxTokens: number; system?: string }[] = [];
    client.setRequestHandler(CreateMessageRequestSchema, async (req) => {
      const content = req.params.messages[0]!.content;
      const text = !Array.isArray(content) && content.type === 'text' ? content.text : '';
      asked.push({ maxTokens: req.params.maxTokens, system: req.params.systemPrompt });
      const r = reply(text);
      if (r instanceof Error) throw r;
      return { role: 'assistant', content: { type: 'text', text: r }, model: 'host-model' };
    });
    return { client, asked };
  };

  const run = async (t: import('node:test').TestContext, client: Client | undefined) => {
    const defer = deferrals(t);
    const { dir, cleanup } = tempDir();
    defer(cleanup);
    const pager = await openPager(dir, { ...FLAGS, '--compressor': 'sampling' });
    defer(() => pager.close());
    const c = await connect(pager, 'host', undefined, client);
    defer(() => c.close());
    const [id] = await evictSome(pager, c.session);
    await waitFor(() => !!pager.table.get(id!)?.summary, 'a summary');
    return pager.table.get(id!)!.summary!;
  };

  test('a client that samples summarizes with the host model', async (t) => {
    const { client, asked } = samplingClient((text) => `Host summary of ${text.length} characters.`);
    const summary = await run(t, client);
    assert.equal(summary.by, 'sampling');
    assert.match(summary.text, /^Host summary of \d+ characters\.$/);
    assert.ok(asked.length >= 1);
    assert.match(asked[0]!.system!, /Invent nothing/);
  });

  test('a client without sampling, or one that refuses, gets the extractive summary instead', async (t) => {
    assert.equal((await run(t, undefined)).by, 'extractive');
    const { client } = samplingClient(() => new Error('user declined'));
    assert.equal((await run(t, client)).by, 'extractive');
  });

  test('the compressor alone: no client is a non-retryable error', async () => {
    await assert.rejects(
      new SamplingCompressor(enc).compress('text', 10),
      (err: Error) => err instanceof CompressionError && !err.retryable,
    );
  });
});

describe('multi-resolution pages', () => {
  test('fill L1, evict: the summary reaches the page table and the next handle; a page loads at summary resolution; a tight fault admits summaries', async (t) => {
    const defer = deferrals(t);
    const { dir, cleanup } = tempDir();
    defer(cleanup);
    const pager = await openPager(dir, FLAGS);
    defer(() => pager.close());
    const { client, close } = await connect(pager);
    defer(close);
    await call(client, 'ingest', { text: demoDoc(), source: 'manual.md' });
    const ids = tablePages(pager.table)
      .slice(0, 4)
      .map((p) => p.id);
    for (const id of ids) await call(client, 'load_page', { page_ids: [id] });
    const evicted = await call<{ evicted: { page_id: string }[] }>(client, 'evict', { all: true });
    assert.equal(evicted.s.evicted.length, 3);
    await pager.summarizer.idle();

    const first = (await allPages(client)).get(ids[1]!)!;
    assert.ok(first.summary, 'the page table shows the summary');
    assert.equal(first.summary.by, 'extractive');
    const full = pager.table.get(ids[1]!)!;
    assert.ok(
      first.summary.tokens <= Math.round(full.tokens / 10),
      `${first.summary.tokens} summary tokens for ${full.tokens}`,
    );

    // The next handle of that page carries its summary.
    await call(client, 'load_page', { page_ids: [ids[1]!] });
    const again = await call<{ evicted: { page_id: string; summary?: { text: string; tokens: number } }[] }>(
      client,
      'evict',
      { page_ids: [ids[1]!] },
    );
    assert.deepEqual(again.s.evicted[0]!.summary, { text: full.summary!.text, tokens: full.summary!.tokens });
    assert.match(again.text, /summary \(\d+ tokens\)/);

    const small = await call<{
      pages: { resolution: string; tokens: number; text: string }[];
      l1: { used_tokens: number };
    }>(client, 'load_page', { page_ids: [ids[1]!], resolution: 'summary' });
    assert.equal(small.s.pages[0]!.resolution, 'summary');
    assert.equal(small.s.pages[0]!.tokens, full.summary!.tokens);
    assert.equal(small.s.pages[0]!.text, full.summary!.text);
    assert.equal(small.s.l1.used_tokens, full.summary!.tokens);
    assert.match(small.text, /for the full page/);
    // Asking for the full page replaces the summary in L1.
    const upgraded = await call<{ pages: { resolution: string }[]; l1: { used_tokens: number } }>(client, 'load_page', {
      page_ids: [ids[1]!],
    });
    assert.equal(upgraded.s.pages[0]!.resolution, 'full');
    assert.equal(upgraded.s.l1.used_tokens, full.tokens);

    // A fault whose best page does not fit in full gets its summary, and says how to get the rest.
    await call(client, 'evict', { all: true });
    const fact = /In (\d{4}) the maintenance code for pump station (\w+)/.exec(full.summary!.text);
    assert.ok(fact, `the summary keeps a fact sentence: ${full.summary!.text}`);
    const question = `What was the maintenance code for pump station ${fact[2]} in ${fact[1]}?`;
    const r = (await client.callTool({
      name: 'page_fault',
      arguments: { query: question, max_pages: 1, max_tokens: full.summary!.tokens + 5 },
    })) as CallToolResult;
    assert.ok(!r.isError, JSON.stringify(r.content));
    const faulted = r.structuredContent as { pages: { page_id: string; resolution: string; tokens: number }[] };
    assert.equal(faulted.pages[0]!.page_id, ids[1]);
    assert.equal(faulted.pages[0]!.resolution, 'summary');
    assert.equal(faulted.pages[0]!.tokens, full.summary!.tokens);
    assert.match(textOf(r), /for the full page/);
  });

  test('a snapshot keeps resolutions, and restores them in another session', async (t) => {
    const defer = deferrals(t);
    const { dir, cleanup } = tempDir();
    defer(cleanup);
    const pager = await openPager(dir, FLAGS);
    defer(() => pager.close());
    const a = pager.newSession();
    const [id] = await evictSome(pager, a);
    await pager.summarizer.idle();
    await pager.load(a, [id!], { resolution: 'summary' });
    const { snapshot, snapshotId } = await pager.serialize(a);
    const page = snapshot.pages.find((p) => p.id === id)!;
    assert.equal(page.resolution, 'summary');
    assert.equal(page.tokens, pager.table.get(id!)!.summary!.tokens);
    const b = pager.newSession();
    await pager.restore(b, { snapshotId });
    assert.deepEqual(
      b.l1.list().map((r) => [r.pageId, r.resolution, r.tokens]),
      a.l1.list().map((r) => [r.pageId, r.resolution, r.tokens]),
    );
  });
});
