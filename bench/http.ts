/**
 * vmem as a shared server: tool-call latency and throughput over Streamable HTTP with 1, 8 and 32
 * concurrent sessions (the server in its own process, on loopback), and the snapshot hand-off: its
 * size in tokens against the tokens of the pages it points at, and restore latency.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { tokenizer } from '../src/core/tokenizer.js';
import { freePort } from '../test/support/redis.js';
import { percentile } from './stats.js';

export interface ConcurrencyRow {
  sessions: number;
  calls: number;
  p50: number;
  p99: number;
  callsPerSecond: number;
}

export interface HandOff {
  pages: number;
  pageTokens: number;
  snapshotTokens: number;
  snapshotBytes: number;
  restoreP50: number;
  restoreP99: number;
}

export async function connect(url: string): Promise<Client> {
  const client = new Client({ name: 'vmem-bench', version: '1' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return client;
}

async function call(client: Client, name: string, args: Record<string, unknown>): Promise<CallToolResult> {
  const r = (await client.callTool({ name, arguments: args })) as CallToolResult;
  if (r.isError) throw new Error(`${name} failed: ${JSON.stringify(r.content).slice(0, 300)}`);
  return r;
}

/**
 * Runs `fn` with `vmem serve --http` on a free port over `dataDir`, in its own process (its pid is
 * passed on, to read its memory); `args` adds flags.
 */
export async function withHttpServer<T>(
  root: string,
  dataDir: string,
  fn: (url: string, pid: number) => Promise<T>,
  args: string[] = [],
): Promise<T> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [join(root, 'dist', 'cli.js'), 'serve', '--http', '--port', String(port), '--data-dir', dataDir, ...args],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let err = '';
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  try {
    for (let i = 0; i < 200 && !/serving MCP at/.test(err); i++) await new Promise((r) => setTimeout(r, 50));
    if (!/serving MCP at/.test(err)) throw new Error(`vmem serve --http did not start:\n${err}`);
    return await fn(`http://127.0.0.1:${port}/mcp`, child.pid!);
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}

/** The baseline: an MCP ping round trip over the same transport, one session. */
export async function pingLatency(url: string, n = 200): Promise<{ p50: number; p99: number }> {
  const client = await connect(url);
  try {
    const ms: number[] = [];
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      await client.ping();
      ms.push(performance.now() - t);
    }
    return { p50: percentile(ms, 50), p99: percentile(ms, 99) };
  } finally {
    await client.close();
  }
}

/** Each of `sessions` clients makes `callsEach` page_fault calls back to back; all run at once. */
export async function concurrency(
  url: string,
  sessions: number,
  callsEach: number,
  questions: string[],
): Promise<ConcurrencyRow> {
  const clients = await Promise.all(Array.from({ length: sessions }, () => connect(url)));
  try {
    const ms: number[] = [];
    const t0 = performance.now();
    await Promise.all(
      clients.map(async (c, s) => {
        for (let i = 0; i < callsEach; i++) {
          const q = questions[(s * callsEach + i) % questions.length]!;
          const t = performance.now();
          await call(c, 'page_fault', { query: q, max_pages: 1 });
          ms.push(performance.now() - t);
        }
      }),
    );
    const wall = performance.now() - t0;
    return {
      sessions,
      calls: ms.length,
      p50: percentile(ms, 50),
      p99: percentile(ms, 99),
      callsPerSecond: ms.length / (wall / 1000),
    };
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
}

/** Session A faults questions until it holds `pages` pages, and serializes; session B restores it `rounds` times. */
export async function handOff(url: string, questions: string[], pages = 8, rounds = 20): Promise<HandOff> {
  const [a, b] = await Promise.all([connect(url), connect(url)]);
  try {
    for (const q of questions) {
      const r = (await call(a, 'page_fault', { query: q, max_pages: 1 })).structuredContent as {
        l1: { pages: number };
      };
      if (r.l1.pages >= pages) break;
    }
    const snap = (await call(a, 'serialize_context', { note: 'bench' })).structuredContent as {
      snapshot_id: string;
      snapshot: unknown;
      snapshot_bytes: number;
      page_tokens: number;
    };
    const json = JSON.stringify(snap.snapshot);
    const ms: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const t = performance.now();
      await call(b, 'restore_context', { snapshot_id: snap.snapshot_id });
      ms.push(performance.now() - t);
    }
    const restored = ((await call(b, 'evict', { all: true })).structuredContent as { evicted: unknown[] }).evicted
      .length;
    return {
      pages: restored,
      pageTokens: snap.page_tokens,
      snapshotTokens: tokenizer('o200k_base').count(json),
      snapshotBytes: snap.snapshot_bytes,
      restoreP50: percentile(ms, 50),
      restoreP99: percentile(ms, 99),
    };
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
}
