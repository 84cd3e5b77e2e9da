/**
 * Two `vmem serve --http` processes on separate data dirs, sharing only the services a deployment on several
 * machines shares: a durable Redis (the page table's log, locks, and L2), s3rver (L4) and Chroma (L3 vectors).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, type TestContext, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { call, callErr, readText, tempDir, textOf } from './helpers.ts';
import { CHROMA_MISSING, startChroma, type TestChroma } from './support/chroma.ts';
import { captureOutput } from './support/process.ts';
import { freePort, REDIS_MISSING, startRedis, type TestRedis } from './support/redis.ts';
import { roundRobin } from './support/round-robin.ts';
import { S3_MISSING, S3RVER_CREDENTIALS, startS3, type TestS3 } from './support/s3.ts';
import { CLI, ENV } from './support/spawn.ts';
import { waitFor } from './support/wait.ts';

let redis: TestRedis | undefined;
let s3: TestS3 | undefined;
let chroma: TestChroma | undefined;
let missing: string | undefined;
const work = tempDir('vmem-cluster-');

before(async () => {
  redis = await startRedis({ durable: true });
  s3 = await startS3();
  chroma = await startChroma();
  missing = !redis ? REDIS_MISSING : !s3 ? S3_MISSING : !chroma ? CHROMA_MISSING : undefined;
  if (missing) console.log(`# skipping the two-server tests: ${missing}`);
});
after(async () => {
  await Promise.all([redis?.stop(), s3?.cleanup(), chroma?.stop()]);
  work.cleanup();
});

interface Server {
  url: string;
  child: ChildProcess;
  output: () => string;
  stop: (signal?: NodeJS.Signals) => Promise<void>;
}

let prefix = 0;
/** The settings every server of one test shares: the same namespace, bucket prefix and services. */
function sharedEnv(): Record<string, string> {
  const ns = `c${++prefix}${Date.now().toString(36)}`;
  return {
    ...ENV,
    VMEM_CATALOG_URL: redis!.url,
    VMEM_REDIS_URL: redis!.url,
    VMEM_L4_URL: `s3://${s3!.bucket}/${ns}`,
    VMEM_S3_ENDPOINT: s3!.endpoint,
    VMEM_CHROMA_URL: chroma!.url,
    VMEM_NAMESPACE: ns,
    AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
    AWS_REGION: 'us-east-1',
  };
}

async function serve(env: Record<string, string>, name: string, extra: string[] = []): Promise<Server> {
  const dataDir = join(work.dir, `${name}-${prefix}`);
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [CLI, 'serve', '--http', '--port', String(port), '--data-dir', dataDir, ...extra],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const { output, exited } = captureOutput(child);
  await waitFor(
    () => {
      if (child.exitCode !== null) throw new Error(`vmem ${name} exited: ${output()}`);
      return /serving MCP at/.test(output());
    },
    `server ${name} to start`,
    { timeoutMs: 30_000 },
  );
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    child,
    output,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

/** Two servers of one store, each with an MCP client, stopped after the test. */
async function twoServers(t: TestContext) {
  const env = sharedEnv();
  const a = await serve(env, 'a');
  t.after(() => a.stop());
  const b = await serve(env, 'b');
  t.after(() => b.stop());
  const ca = await client(a.url);
  const cb = await client(b.url);
  t.after(() => Promise.all([ca.close(), cb.close()]));
  return { env, a, b, ca, cb };
}

async function client(url: string): Promise<Client> {
  const c = new Client({ name: 'cluster-test', version: '1' });
  await c.connect(new StreamableHTTPClientTransport(new URL(url)));
  return c;
}

const FACTS = [
  'The lighthouse at Skerryvore was first lit in 1844 and stands on a reef west of Tiree.',
  'Basalt columns at Staffa formed as lava cooled slowly and cracked into hexagonal prisms.',
  'The herring fleet of Stornoway landed its largest catch in the autumn of 1912.',
];

const docOf = (fact: string, filler: number) =>
  `# Notes\n\n${fact}\n\n${Array.from({ length: filler }, (_, i) => `Line ${i} of unrelated filler about tides and weather.`).join('\n')}\n`;

describe('two vmem servers sharing Redis, S3 and Chroma', () => {
  test('ingest through one, fault through the other within a second; hand-off between them', async (t) => {
    if (missing) return t.skip(missing);
    const { env, a, b, ca, cb } = await twoServers(t);

    await call(ca, 'ingest', { text: docOf(FACTS[0]!, 40), source: 'skerryvore.md' });
    const ingested = Date.now();
    const found = await waitFor(
      async () => {
        const r = await call(cb, 'page_fault', { query: 'When was the Skerryvore lighthouse first lit?' });
        return r.s.pages.find((p) => p.source === 'skerryvore.md' && p.text?.includes('1844'));
      },
      'server b to find the page server a ingested',
      { timeoutMs: 1000, intervalMs: 25 },
    );
    assert.ok(found, `found on b ${Date.now() - ingested} ms after a's ingest returned`);

    // Hand-off: a's session serializes its context, b's restores it.
    await call(ca, 'page_fault', { query: 'Skerryvore lighthouse lit' });
    const snap = await call<{ snapshot_id: string }>(ca, 'serialize_context', { note: 'over to b' });
    const restored = await call(cb, 'restore_context', { snapshot_id: snap.s.snapshot_id });
    assert.ok(restored.text.includes('1844') || (await readText(cb, 'vmem://l1')).includes('1844'));

    // One session behind a round-robin balancer: its requests alternate between the servers, and its L1 holds.
    const rr = await roundRobin([new URL(a.url).origin, new URL(b.url).origin]);
    t.after(() => rr.close());
    const cr = await client(`${rr.origin}/mcp`);
    t.after(() => cr.close());
    const fault = await call(cr, 'page_fault', { query: 'Skerryvore lighthouse reef Tiree', max_pages: 1 });
    const id = fault.s.pages[0]!.page_id;
    for (let i = 0; i < 4; i++) assert.ok((await readText(cr, 'vmem://l1')).includes(id), `L1 holds ${id} (read ${i})`);
    await call(cr, 'evict', { page_ids: [id] });
    assert.ok(!(await readText(cr, 'vmem://l1')).includes(id));
    assert.ok(
      rr.counts.every((n) => n >= 2),
      `both servers took requests of the session: ${rr.counts}`,
    );

    // A third server joins with an empty data dir: it catches up with the page table and indexes from L4.
    const c = await serve(env, 'c');
    t.after(() => c.stop());
    const cc = await client(c.url);
    t.after(() => cc.close());
    await waitFor(
      async () =>
        (await call(cc, 'page_fault', { query: 'When was the Skerryvore lighthouse first lit?' })).s.pages.some((p) =>
          p.text?.includes('1844'),
        ),
      'the server that joined to find the page',
    );
  });

  test('a server killed (-9) mid-ingest leaves no half-visible document on the other', async (t) => {
    if (missing) return t.skip(missing);
    const env = sharedEnv();
    const docs = join(work.dir, `docs-${prefix}`);
    mkdirSync(docs, { recursive: true });
    for (let i = 0; i < 120; i++) writeFileSync(join(docs, `d${i}.md`), docOf(`Fact ${i}: ${FACTS[i % 3]}`, 600 + i));
    const a = await serve(env, 'a', ['--ingest-roots', docs]);
    t.after(() => a.stop('SIGKILL'));
    const b = await serve(env, 'b');
    t.after(() => b.stop());
    const ca = await client(a.url);
    const cb = await client(b.url);
    t.after(() => cb.close());
    const ingesting = ca.callTool({ name: 'ingest', arguments: { path: docs } }).catch(() => undefined);
    // Killed once part of the directory is visible on b, while the rest is being written.
    await waitFor(async () => (await sourcesOn(cb)).length > 0, 'the first documents on b', { timeoutMs: 60_000 });
    await a.stop('SIGKILL');
    await ingesting;
    const sources = await sourcesOn(cb);
    assert.ok(sources.length < 120, `killed mid-ingest (${sources.length} of 120 documents visible)`);
    // Every document b sees is whole: each of its pages loads from the shared levels.
    for (const s of sources) {
      const listed = JSON.parse(await readText(cb, `vmem://documents/${s.current.id}`)) as {
        total_pages: number;
        pages: { id: string }[];
      };
      assert.equal(listed.total_pages, s.current.pages, `${s.source}: every page listed`);
      const ids = listed.pages.map((p) => p.id);
      const loaded = await call(cb, 'load_page', { page_ids: ids.slice(0, 8) });
      assert.equal(loaded.s.pages.length, Math.min(8, ids.length), `${s.source}: its pages load`);
    }
  });

  test('S3 stopped mid-run: L2-cached pages still load, the rest and ingest name L4, and all resumes once it is back', async (t) => {
    if (missing) return t.skip(missing);
    const { ca, cb } = await twoServers(t);
    type Ingested = { documents: { document_id: string }[] };
    const one = await call<Ingested>(ca, 'ingest', { text: docOf(FACTS[1]!, 30), source: 'staffa.md' });
    const two = await call<Ingested>(ca, 'ingest', { text: docOf(FACTS[2]!, 30), source: 'herring.md' });
    const pageOf = async (c: Client, ingested: Ingested) => {
      const id = ingested.documents[0]!.document_id;
      await waitFor(async () => (await sourcesOn(c)).some((s) => s.current.id === id), 'the document on b');
      return (JSON.parse(await readText(c, `vmem://documents/${id}`)) as { pages: { id: string }[] }).pages[0]!.id;
    };
    const cached = await pageOf(cb, one.s);
    const cold = await pageOf(cb, two.s);
    await call(cb, 'load_page', { page_ids: [cached] }); // now in L2 (Redis)
    await call(cb, 'evict', { page_ids: [cached] });
    await s3!.stop();
    try {
      const warm = await call(cb, 'load_page', { page_ids: [cached] });
      assert.equal(warm.s.pages[0]?.page_id, cached);
      assert.match(await callErr(cb, 'load_page', { page_ids: [cold] }), /L4/);
      const refused = (await ca.callTool({
        name: 'ingest',
        arguments: { text: docOf('Tobermory harbour was built in 1788.', 10), source: 'tobermory.md' },
      })) as CallToolResult;
      assert.equal(refused.isError, true);
      assert.match(textOf(refused), /L4/);
    } finally {
      await s3!.restart();
    }
    await waitFor(
      async () =>
        !((await cb.callTool({ name: 'load_page', arguments: { page_ids: [cold] } })) as CallToolResult).isError,
      'L4 reads to resume on b',
    );
    await call(ca, 'ingest', { text: docOf('Tobermory harbour was built in 1788.', 10), source: 'tobermory.md' });
    await waitFor(
      async () =>
        (await call(cb, 'page_fault', { query: 'When was Tobermory harbour built?' })).s.pages.some((p) =>
          p.text?.includes('1788'),
        ),
      'the new document found on b',
    );
  });
});

interface SourceJson {
  source: string;
  current: { id: string; pages: number };
}

async function sourcesOn(c: Client): Promise<SourceJson[]> {
  const out: SourceJson[] = [];
  let uri: string | undefined = 'vmem://sources';
  while (uri) {
    const page = JSON.parse(await readText(c, uri)) as { sources: SourceJson[]; next?: string };
    out.push(...page.sources.filter((s) => s.current));
    uri = page.next;
  }
  return out;
}
