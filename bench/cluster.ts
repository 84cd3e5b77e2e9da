/**
 * `npm run bench:cluster`: several `vmem serve --http` behind one address. Throughput (calls/s) of load_page and
 * page_fault from N concurrent MCP clients against one server, against the same server behind a round-robin
 * proxy, and against two servers behind it, where a request reaches the server holding its session half the
 * time and is passed on by the other otherwise; and the cost of one call passed on against the same call sent
 * straight to its server. Every server is the built binary in its own process, sharing a Redis (the node
 * directory) and one data dir; the proxy is the tests' (test/support/round-robin.ts). Prints the section and
 * writes it into BENCHMARKS.md (replacing its previous run, keeping the rest).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { demoDocument } from '../src/demo.js';
import { freePort, REDIS_MISSING, startRedis } from '../test/support/redis.js';
import { roundRobin } from '../test/support/round-robin.js';
import { fmt, percentile, table } from './stats.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(ROOT, 'dist', 'cli.js');
const FLAGS = ['--page-tokens', '500', '--l1-tokens', '8000'];
const CONCURRENCY = [1, 16];
/** Calls per run, shared among the clients. */
const CALLS = 320;
/** Measured rounds per setup; the median is reported. */
const ROUNDS = 3;
/** Sequential calls per way of the forwarded-against-direct comparison. */
const PAIRS = 300;
const STATIONS = ['Kestrel', 'Heron', 'Osprey', 'Plover', 'Curlew', 'Merlin', 'Dunlin', 'Avocet', 'Godwit'];
type Tool = 'page_fault' | 'load_page';

export const CLUSTER_TITLE =
  'Several servers behind one address (two `vmem serve --http` sharing a durable Redis (the page table’s log and the node directory) and a data dir, each in its own process; loopback; alone: `npm run bench:cluster`)';

async function call(client: Client, name: string, args: Record<string, unknown>): Promise<CallToolResult> {
  const r = (await client.callTool({ name, arguments: args })) as CallToolResult;
  if (r.isError) throw new Error(`${name} failed: ${JSON.stringify(r.content).slice(0, 300)}`);
  return r;
}

async function connect(url: string, fetch?: typeof globalThis.fetch): Promise<Client> {
  const client = new Client({ name: 'vmem-bench', version: '1' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), fetch ? { fetch } : {}));
  return client;
}

/** The built binary serving HTTP on a free port; resolves once it listens. */
async function serve(dataDir: string, env: Record<string, string>): Promise<{ origin: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [CLI, 'serve', '--http', '--port', String(port), '--data-dir', dataDir, ...FLAGS],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, ...env },
    },
  );
  let err = '';
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  for (let i = 0; i < 200 && !/serving MCP at/.test(err); i++) await new Promise((r) => setTimeout(r, 50));
  if (!/serving MCP at/.test(err)) throw new Error(`vmem serve --http did not start:\n${err}`);
  return { origin: `http://127.0.0.1:${port}`, child };
}

const question = (i: number) =>
  `maintenance code for pump station ${STATIONS[i % STATIONS.length]} in ${1950 + ((i * 7) % 80)}`;

interface Run {
  calls: number;
  callsPerSecond: number;
  p50: number;
  p99: number;
}

/** `clients` sessions at `url`, making `CALLS` calls of `tool` among them, all at once. */
async function throughput(url: string, clients: number, tool: Tool, pageIds: string[]): Promise<Run> {
  const sessions = await Promise.all(Array.from({ length: clients }, () => connect(url)));
  try {
    const each = Math.ceil(CALLS / clients);
    const ms: number[] = [];
    const args = (s: number, i: number) =>
      tool === 'page_fault'
        ? { query: question(s * each + i), max_pages: 1 }
        : { page_ids: [pageIds[(s * each + i) % pageIds.length]!] };
    // One call each first, so that no run pays for a session's first use.
    await Promise.all(sessions.map((c, s) => call(c, tool, args(s, 0))));
    const t0 = performance.now();
    await Promise.all(
      sessions.map(async (c, s) => {
        for (let i = 1; i <= each; i++) {
          const t = performance.now();
          await call(c, tool, args(s, i));
          ms.push(performance.now() - t);
        }
      }),
    );
    const wall = performance.now() - t0;
    return {
      calls: ms.length,
      callsPerSecond: ms.length / (wall / 1000),
      p50: percentile(ms, 50),
      p99: percentile(ms, 99),
    };
  } finally {
    await Promise.all(sessions.map((c) => c.close()));
  }
}

/**
 * One session on `owner`, its calls sent alternately straight to it and through `other` (passed on): the same
 * session, the same calls, interleaved so that both ways see the same state of the machine.
 */
async function forwardedAgainstDirect(
  owner: string,
  other: string,
  tool: Tool,
  pageIds: string[],
): Promise<{ direct: number[]; forwarded: number[] }> {
  let via = owner;
  const fetch: typeof globalThis.fetch = (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    url.host = new URL(via).host;
    return globalThis.fetch(url, init);
  };
  const client = await connect(`${owner}/mcp`, fetch);
  try {
    const direct: number[] = [];
    const forwarded: number[] = [];
    for (let i = 0; i < PAIRS * 2 + 20; i++) {
      via = i % 2 ? other : owner;
      const args =
        tool === 'page_fault' ? { query: question(i), max_pages: 1 } : { page_ids: [pageIds[i % pageIds.length]!] };
      const t = performance.now();
      await call(client, tool, args);
      const ms = performance.now() - t;
      // The first calls warm both ways up.
      if (i >= 20) (i % 2 ? forwarded : direct).push(ms);
    }
    return { direct, forwarded };
  } finally {
    via = owner;
    await client.close();
  }
}

interface ClusterBench {
  rows: { setup: string; tool: Tool; clients: number; run: Run }[];
  pairs: { tool: Tool; direct: number[]; forwarded: number[] }[];
}

async function benchCluster(): Promise<ClusterBench> {
  const redis = await startRedis({ durable: true });
  if (!redis) throw new Error(`bench:cluster needs Redis: ${REDIS_MISSING}`);
  const dir = mkdtempSync(join(tmpdir(), 'vmem-bench-cluster-'));
  const children: ChildProcess[] = [];
  try {
    const doc = join(dir, 'operations-manual.md');
    writeFileSync(doc, demoDocument());
    const env = { VMEM_CATALOG_URL: redis.url, VMEM_NAMESPACE: `bench${randomUUID().slice(0, 8)}` };
    execFileSync(process.execPath, [CLI, 'ingest', doc, '--data-dir', join(dir, 'store'), ...FLAGS], {
      stdio: 'ignore',
      env: { ...process.env, ...env },
    });
    const a = await serve(join(dir, 'store'), env);
    const b = await serve(join(dir, 'store'), env);
    children.push(a.child, b.child);

    // Page ids to load: those the questions bring in.
    const probe = await connect(`${a.origin}/mcp`);
    const pageIds: string[] = [];
    for (let i = 0; i < 40; i++) {
      const r = await call(probe, 'page_fault', { query: question(i), max_pages: 1 });
      const id = (r.structuredContent as { pages: { page_id: string }[] }).pages[0]?.page_id;
      if (id && !pageIds.includes(id)) pageIds.push(id);
    }
    await probe.close();

    const rows: ClusterBench['rows'] = [];
    const one = await roundRobin([a.origin]);
    const two = await roundRobin([a.origin, b.origin]);
    const setups = [
      { setup: 'one server', url: `${a.origin}/mcp` },
      { setup: 'one server behind the proxy', url: `${one.origin}/mcp` },
      { setup: 'two servers behind the proxy', url: `${two.origin}/mcp` },
    ];
    try {
      for (const tool of ['page_fault', 'load_page'] as const)
        for (const clients of CONCURRENCY) {
          // A pass unmeasured (JIT, file cache, the summaries of the first evictions), then rounds in a rotating
          // order, so that no setup always runs first or last; the median round is kept.
          for (const { url } of setups) await throughput(url, clients, tool, pageIds);
          const runs: Run[][] = setups.map(() => []);
          for (let round = 0; round < ROUNDS; round++)
            for (let k = 0; k < setups.length; k++) {
              const i = (k + round) % setups.length;
              runs[i]!.push(await throughput(setups[i]!.url, clients, tool, pageIds));
            }
          setups.forEach(({ setup }, i) => {
            const sorted = runs[i]!.sort((x, y) => x.callsPerSecond - y.callsPerSecond);
            rows.push({ setup, tool, clients, run: sorted[Math.floor(sorted.length / 2)]! });
          });
        }
    } finally {
      await one.close();
      await two.close();
    }
    const pairs = [];
    for (const tool of ['page_fault', 'load_page'] as const)
      pairs.push({ tool, ...(await forwardedAgainstDirect(a.origin, b.origin, tool, pageIds)) });
    return { rows, pairs };
  } finally {
    for (const c of children) {
      c.kill('SIGTERM');
      await new Promise((r) => (c.exitCode === null ? c.once('exit', r) : r(undefined)));
    }
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function clusterSection(b: ClusterBench): string {
  const base = (tool: Tool, clients: number) =>
    b.rows.find((r) => r.setup === 'one server' && r.tool === tool && r.clients === clients)!.run.callsPerSecond;
  const throughputTable = table(
    ['tool', 'concurrent clients', 'setup', 'calls', 'calls/s', 'ratio to one server', 'p50 (ms)', 'p99 (ms)'],
    b.rows.map((r) => [
      r.tool,
      r.clients,
      r.setup,
      r.run.calls,
      fmt(r.run.callsPerSecond, 0),
      fmt(r.run.callsPerSecond / base(r.tool, r.clients)),
      fmt(r.run.p50),
      fmt(r.run.p99),
    ]),
  );
  const hopTable = table(
    ['tool', 'calls each way', 'direct p50 (ms)', 'passed on p50 (ms)', 'ratio p50', 'direct p99', 'passed on p99'],
    b.pairs.map((p) => [
      p.tool,
      p.direct.length,
      fmt(percentile(p.direct, 50)),
      fmt(percentile(p.forwarded, 50)),
      fmt(percentile(p.forwarded, 50) / percentile(p.direct, 50)),
      fmt(percentile(p.direct, 99)),
      fmt(percentile(p.forwarded, 99)),
    ]),
  );
  const machine = `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'cpu'}`;
  return `## ${CLUSTER_TITLE}

Run on ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, on a machine of **${cpus().length} cores** (${machine}): the two servers, the proxy, the clients and Redis share them, so two servers cannot show more throughput than one here; the figures say what forwarding costs, not what a second machine adds. ${CALLS} calls per run among the clients (after one warm-up call each), the median of ${ROUNDS} runs per row after an unmeasured one, in a rotating order; demo manual (about 220k tokens) in 500-token pages, L1 8000 tokens.

${throughputTable}

The proxy sends each request to the next server in turn, whatever its session, so behind it with two servers about half the calls reach the server that holds their session through the other one.

One session, its calls sent alternately straight to the server holding it and through the other server (same session, same calls, interleaved):

${hopTable}

Passing a call on adds ${b.pairs.map((p) => `${fmt(percentile(p.forwarded, 50) - percentile(p.direct, 50))} ms to ${p.tool}`).join(' and ')} at the median: one more HTTP hop on loopback and the other server's work to relay it, on the same two cores. A proxy that routes on the session id's node prefix (README: Several servers behind one address) avoids the hop.
`;
}

/** Puts `section` in BENCHMARKS.md in place of its previous run, or before the targets; keeps everything else. */
function store(section: string): void {
  const file = join(ROOT, 'BENCHMARKS.md');
  const text = readFileSync(file, 'utf8');
  const heading = `## ${CLUSTER_TITLE}`;
  const at = text.indexOf(heading);
  let out: string;
  if (at >= 0) {
    const next = text.indexOf('\n## ', at + heading.length);
    out = `${text.slice(0, at)}${section}${next >= 0 ? text.slice(next + 1) : ''}`;
  } else {
    const targets = text.indexOf('\n## Targets');
    out =
      targets >= 0
        ? `${text.slice(0, targets + 1)}${section}\n${text.slice(targets + 1)}`
        : `${text.trimEnd()}\n\n${section}`;
  }
  writeFileSync(file, out);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const section = clusterSection(await benchCluster());
  console.log(section);
  store(section);
  console.log('wrote the section into BENCHMARKS.md');
}
