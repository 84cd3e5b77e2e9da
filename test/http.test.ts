/**
 * vmem over Streamable HTTP, driven by the SDK's StreamableHTTPClientTransport over real loopback
 * sockets: isolated sessions, hand-off between them and with a stdio process on the same store,
 * bearer-token auth, Host/Origin checks, health, and session teardown.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import { describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  LoggingMessageNotificationSchema,
  ResourceListChangedNotificationSchema,
  ResourceUpdatedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { type HttpServer, serveHttp } from '../src/http.ts';
import { bodyLimit } from '../src/http-body.ts';
import { PAGE_TABLE_URI } from '../src/mcp/resources.ts';
import type { Pager, PagerParts } from '../src/pager.ts';
import { MemoryL2 } from '../src/tiers/l2/memory.ts';
import { Status } from '../src/tiers/status.ts';
import { call, callErr, deferrals, demoDoc, factRe, l1Ids, openPager, readText, tempDir } from './helpers.ts';
import { freePort } from './support/redis.ts';
import { CLI, ENV, spawnServer } from './support/spawn.ts';
import { waitFor } from './support/wait.ts';

const FLAGS = { '--page-tokens': '500', '--l1-tokens': '4000' };
const TOKEN = 'test-token-0123456789';

async function httpClient(
  url: string,
  token?: string,
  fetch?: typeof globalThis.fetch,
): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    ...(token ? { requestInit: { headers: { authorization: `Bearer ${token}` } } } : {}),
    ...(fetch ? { fetch } : {}),
  });
  const client = new Client({ name: 'http-test', version: '1' });
  await client.connect(transport);
  return { client, transport };
}

/** A raw request, to send what a well-behaved client never would (other Host, no token, …). */
function raw(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: unknown },
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: opts.method ?? 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...opts.headers },
      },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(opts.body === undefined ? undefined : JSON.stringify(opts.body));
  });
}

const INIT = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
};

/**
 * A pager and an HTTP server on a temp store. `defer` registers cleanups that run last-first after the
 * test, so clients and processes close before the server, the pager and the data dir go.
 */
async function started(
  t: import('node:test').TestContext,
  opts: { token?: string; idleMs?: number; flags?: Record<string, string>; parts?: PagerParts } = {},
): Promise<{ dir: string; pager: Pager; server: HttpServer; defer: (fn: () => unknown) => void }> {
  const defer = deferrals(t);
  const { dir, cleanup } = tempDir();
  defer(cleanup);
  const pager = await openPager(dir, { ...FLAGS, ...opts.flags }, opts.parts);
  defer(() => pager.close());
  const server = await serveHttp(pager, {
    host: '127.0.0.1',
    port: 0,
    authToken: opts.token,
    idleMs: opts.idleMs ?? 60_000,
  });
  defer(() => server.close());
  return { dir, pager, server, defer };
}

describe('Streamable HTTP', () => {
  test('two sessions have isolated L1s, and one hands its working set to the other by snapshot', async (t) => {
    const { server, defer } = await started(t);
    const a = await httpClient(server.url);
    const b = await httpClient(server.url);
    defer(() => Promise.all([a.client.close(), b.client.close()]));
    assert.equal(server.sessions(), 2);
    assert.notEqual(a.transport.sessionId, b.transport.sessionId);

    await call(a.client, 'ingest', { text: demoDoc(), source: 'manual.md' });
    const fault = await call<{ pages: { text: string }[] }>(a.client, 'page_fault', {
      query: 'maintenance code for pump station Kestrel in 2003',
      max_pages: 1,
    });
    assert.match(fault.s.pages[0]!.text, factRe('Kestrel', 2003));
    await call(a.client, 'page_fault', { query: 'maintenance code for pump station Osprey in 2011', max_pages: 1 });
    assert.equal(l1Ids(await readText(a.client, 'vmem://l1')).length, 2);
    assert.equal(await readText(b.client, 'vmem://l1'), '(L1 is empty)', "B does not see A's L1");

    const snap = await call<{ snapshot_id: string }>(a.client, 'serialize_context', { note: 'over http' });
    await call(b.client, 'restore_context', { snapshot_id: snap.s.snapshot_id });
    assert.deepEqual(l1Ids(await readText(b.client, 'vmem://l1')), l1Ids(await readText(a.client, 'vmem://l1')));
  });

  test('a stdio process and an HTTP session on one store hand off in both directions', async (t) => {
    const { dir, server, defer } = await started(t);
    const h = await httpClient(server.url);
    defer(() => h.client.close());
    const s = await spawnServer(dir, ['--page-tokens', '500', '--l1-tokens', '4000']);
    defer(() => s.close());

    await call(s.client, 'ingest', { text: demoDoc(), source: 'manual.md' });
    await call(s.client, 'page_fault', { query: 'maintenance code for pump station Merlin in 1995', max_pages: 1 });
    const fromStdio = await call<{ snapshot_id: string }>(s.client, 'serialize_context', {});
    // The HTTP server's process learns of the stdio process's pages through the shared catalog.
    const restored = await waitFor(
      async () => {
        const r = await h.client.callTool({
          name: 'restore_context',
          arguments: { snapshot_id: fromStdio.s.snapshot_id },
        });
        return r.isError ? undefined : r;
      },
      'the HTTP session to restore the stdio snapshot',
      { timeoutMs: 5000, intervalMs: 100 },
    );
    assert.ok(restored, 'the HTTP session restored the stdio snapshot');
    assert.deepEqual(l1Ids(await readText(h.client, 'vmem://l1')), l1Ids(await readText(s.client, 'vmem://l1')));

    await call(h.client, 'page_fault', { query: 'maintenance code for pump station Heron in 2017', max_pages: 1 });
    const fromHttp = await call<{ snapshot_id: string }>(h.client, 'serialize_context', {});
    await call(s.client, 'restore_context', { snapshot_id: fromHttp.s.snapshot_id });
    assert.deepEqual(l1Ids(await readText(s.client, 'vmem://l1')), l1Ids(await readText(h.client, 'vmem://l1')));
  });

  test('with a token: 401 and WWW-Authenticate without it or with a wrong one; the right one connects', async (t) => {
    const { server, defer } = await started(t, { token: TOKEN });
    const none = await raw(server.url, { body: INIT });
    assert.equal(none.status, 401);
    assert.equal(none.headers['www-authenticate'], 'Bearer realm="vmem"');
    const wrong = await raw(server.url, { body: INIT, headers: { authorization: 'Bearer nope' } });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.headers['www-authenticate'], 'Bearer realm="vmem", error="invalid_token"');
    // Shorter, as long as, and longer than the token, and the token with one byte changed: all refused alike.
    for (const bad of ['x', TOKEN.slice(0, -1), `${TOKEN.slice(0, -1)}X`, `${TOKEN}0`, TOKEN.repeat(40)]) {
      const r = await raw(server.url, { body: INIT, headers: { authorization: `Bearer ${bad}` } });
      assert.equal(r.status, 401, `a ${bad.length}-character token`);
      assert.equal(r.headers['www-authenticate'], 'Bearer realm="vmem", error="invalid_token"');
    }
    assert.doesNotMatch(wrong.body + none.body, new RegExp(TOKEN));
    await assert.rejects(httpClient(server.url, 'nope'));
    const ok = await httpClient(server.url, TOKEN);
    defer(() => ok.client.close());
    assert.ok((await ok.client.listTools()).tools.some((x) => x.name === 'page_fault'));
  });

  test('a foreign Host or Origin is refused (DNS rebinding); health answers without a session', async (t) => {
    const { server } = await started(t);
    const host = await raw(server.url, { body: INIT, headers: { host: 'evil.example:80' } });
    assert.equal(host.status, 403);
    assert.match(host.body, /Host evil\.example:80 is not allowed/);
    const origin = await raw(server.url, { body: INIT, headers: { origin: 'http://evil.example' } });
    assert.equal(origin.status, 403);
    const local = await raw(server.url, { body: INIT, headers: { origin: 'http://localhost:3000' } });
    assert.equal(local.status, 200, 'a loopback origin is fine');
    const health = await raw(server.url.replace(/\/mcp$/, '/healthz'), { method: 'GET' });
    assert.equal(health.status, 200);
    assert.equal(JSON.parse(health.body).status, 'ok');
  });

  test('sessions end on DELETE and after the idle timeout, releasing their L1', async (t) => {
    const { server, defer } = await started(t, { idleMs: 300 });
    const a = await httpClient(server.url);
    await call(a.client, 'ingest', { text: 'A short note about pump stations.', source: 'note.md' });
    const id = a.transport.sessionId!;
    await a.transport.terminateSession();
    assert.equal(server.sessions(), 0);
    const gone = await raw(server.url, {
      body: { jsonrpc: '2.0', id: 2, method: 'tools/list' },
      headers: { 'mcp-session-id': id },
    });
    assert.equal(gone.status, 404);
    await a.client.close();

    const b = await httpClient(server.url);
    defer(() => b.client.close());
    assert.equal(server.sessions(), 1);
    await waitFor(() => server.sessions() === 0, 'the idle session to be closed', { timeoutMs: 2000 });
  });

  test('arguments as hosts send them over HTTP: null is not given, a non-object is -32602; a re-fault names its load_page', async (t) => {
    const { server, defer } = await started(t);
    const a = await httpClient(server.url);
    defer(() => a.client.close());
    await call(a.client, 'ingest', { text: demoDoc(), source: 'manual.md', path: null });
    const ask = {
      query: 'maintenance code for pump station Kestrel in 2003',
      max_pages: 1,
      max_tokens: null,
      resolution: null,
      resend: null,
    };
    const first = await call(a.client, 'page_fault', ask);
    assert.match(first.s.pages[0]!.text!, factRe('Kestrel', 2003));
    const again = await call(a.client, 'page_fault', ask);
    assert.equal(again.s.pages[0]!.text, undefined);
    assert.ok(again.text.includes(`if you do not see it: load_page {"page_ids":["${first.s.pages[0]!.page_id}"]}`));
    const resent = await call(a.client, 'page_fault', { ...ask, resend: true });
    assert.equal(resent.s.pages[0]!.text, first.s.pages[0]!.text);

    const bad = await raw(server.url, {
      headers: { 'mcp-session-id': a.transport.sessionId!, 'mcp-protocol-version': '2025-06-18' },
      body: { jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'page_fault', arguments: 'Kestrel' } },
    });
    assert.equal(bad.status, 200);
    const reply = JSON.parse(/^data: (.*)$/m.exec(bad.body)?.[1] ?? bad.body) as {
      id: number;
      error?: { code: number; message: string };
    };
    assert.equal(reply.id, 9);
    assert.equal(reply.error?.code, -32602);
    assert.match(reply.error!.message, /"arguments" must be an object.*got a string/);
  });

  test('the built binary: serve --http refuses a non-loopback address without a token, and serves with one', async (t) => {
    const defer = deferrals(t);
    const { dir, cleanup } = tempDir();
    defer(cleanup);
    const refused = spawn(
      process.execPath,
      [CLI, 'serve', '--http', '--host', '0.0.0.0', '--port', '0', '--data-dir', dir],
      { env: ENV },
    );
    let err = '';
    refused.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const code = await new Promise<number | null>((r) => refused.on('exit', r));
    assert.equal(code, 2);
    assert.match(err, /needs a bearer token: set VMEM_AUTH_TOKEN/);

    const port = await freePort();
    const child = spawn(process.execPath, [CLI, 'serve', '--http', '--port', String(port), '--data-dir', dir], {
      env: { ...ENV, VMEM_AUTH_TOKEN: TOKEN },
    });
    defer(() => {
      child.kill('SIGTERM');
      return new Promise((r) => child.once('exit', r));
    });
    let out = '';
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    await waitFor(() => /serving MCP at/.test(out), 'the server to start', { timeoutMs: 5000 }).catch(() => {});
    assert.match(out, new RegExp(`serving MCP at http://127\\.0\\.0\\.1:${port}/mcp \\(bearer token required\\)`));
    assert.doesNotMatch(out, new RegExp(TOKEN), 'the token is never printed');
    const c = await httpClient(`http://127.0.0.1:${port}/mcp`, TOKEN);
    defer(() => c.client.close());
    assert.ok((await c.client.listTools()).tools.length >= 6);
  });
});

interface Upload {
  status: number;
  body: string;
  /** Body bytes written when the response arrived. */
  sent: number;
  /** Whether the server said `100 Continue`. */
  continued: boolean;
}

/**
 * POSTs an initialize request padded to `total` bytes, written in 64 KiB pieces as fast as the
 * connection takes them, until the server answers; chunked unless `contentLength`. With `expect`,
 * it sends `Expect: 100-continue` and writes the body only once told to continue.
 */
function upload(url: string, total: number, opts: { contentLength?: boolean; expect?: boolean } = {}): Promise<Upload> {
  const head = Buffer.from(JSON.stringify(INIT).replace(/}}$/, ',"pad":"'));
  const tail = Buffer.from('"}}');
  const pad = Buffer.alloc(64 * 1024, 'x');
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
    };
    if (opts.contentLength) headers['content-length'] = String(total);
    if (opts.expect) headers.expect = '100-continue';
    const req = http.request(url, { method: 'POST', headers, agent: false });
    let sent = 0;
    let answer: Upload | undefined;
    let continued = false;
    const pump = () => {
      while (!answer && sent < total) {
        const left = total - sent;
        const piece =
          sent === 0 ? head : left === tail.length ? tail : pad.subarray(0, Math.min(pad.length, left - tail.length));
        sent += piece.length;
        if (!req.write(piece)) return void req.once('drain', pump);
      }
      if (!answer) req.end();
    };
    req.on('continue', () => {
      continued = true;
      pump();
    });
    req.on('response', (res) => {
      answer = { status: res.statusCode ?? 0, body: '', sent, continued };
      const done = () => resolve(answer!);
      res.on('data', (c: Buffer) => (answer!.body += c.toString()));
      res.on('end', done).on('error', done).on('close', done);
    });
    // The server closes the connection after refusing: later writes fail, which is expected.
    req.on('error', (err) => (answer ? undefined : reject(err)));
    if (opts.expect) req.flushHeaders();
    else pump();
  });
}

/** A promise and the function that resolves it (Promise.withResolvers is Node 22). */
function signal(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** The JSON-RPC error of a refusal body. */
const rpcErrorOf = (body: string) => (JSON.parse(body) as { error: { code: number; message: string } }).error;

describe('HTTP limits', () => {
  // A small ingest limit keeps the body limit (twice it, plus 4 MiB) small enough to cross quickly.
  const SMALL = { '--max-ingest-bytes': '1000' };
  const LIMIT = bodyLimit(1000);
  const BIG = 64 * 1024 * 1024;

  test('a declared body over the limit gets 413 with a JSON-RPC error, and a client expecting 100 Continue never sends it', async (t) => {
    const { server } = await started(t, { flags: SMALL });
    const r = await upload(server.url, BIG, { contentLength: true, expect: true });
    assert.equal(r.status, 413);
    assert.equal(r.continued, false, 'no 100 Continue: the body was never asked for');
    assert.equal(r.sent, 0);
    const err = rpcErrorOf(r.body);
    assert.equal(err.code, -32600);
    assert.match(err.message, new RegExp(`${LIMIT}-byte limit.*VMEM_MAX_INGEST_BYTES`));
  });

  test('a Content-Length over the limit is refused before the body is read; a chunked body as soon as it passes the limit', async (t) => {
    const { server } = await started(t, { flags: SMALL });
    const declared = await upload(server.url, BIG, { contentLength: true });
    assert.equal(declared.status, 413);
    assert.ok(declared.sent < BIG, 'answered while the body was still being sent');

    const chunked = await upload(server.url, BIG);
    assert.equal(chunked.status, 413);
    assert.equal(rpcErrorOf(chunked.body).code, -32600);
    assert.ok(chunked.sent > LIMIT, 'counted up to the limit');
    assert.ok(chunked.sent < BIG, 'answered, and stopped reading, long before the body ended');

    // Under the limit, the same requests are served.
    const small = await upload(server.url, 10_000, { contentLength: true, expect: true });
    assert.equal(small.status, 200, small.body);
    assert.ok(small.continued);
    assert.equal((await upload(server.url, 10_000)).status, 200);
  });

  test('twice the ingest limit fits: a text of escaped characters just over the ingest limit reaches ingest and gets its own error', async (t) => {
    const ingestLimit = 3 * 1024 * 1024;
    const { server, defer } = await started(t, { flags: { '--max-ingest-bytes': String(ingestLimit) } });
    const c = await httpClient(server.url);
    defer(() => c.client.close());
    // Each quote is one byte of text and two of JSON: the body is about 6 MiB, over the ingest limit's 3.
    const message = await callErr(c.client, 'ingest', { text: '"'.repeat(ingestLimit + 1), source: 'quotes.txt' });
    assert.match(
      message,
      new RegExp(`${ingestLimit + 1} bytes, over the ${ingestLimit}-byte limit \\(VMEM_MAX_INGEST_BYTES\\)`),
    );
  });

  test('40 sessions: one pager listener per event, no MaxListenersExceededWarning, and every session gets its notifications', async (t) => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => void warnings.push(w);
    process.on('warning', onWarning);
    t.after(() => void process.off('warning', onWarning));
    // An L2 whose reachability the test switches, so the pager reports a real outage.
    const status = new Status();
    status.set(true);
    const l2 = Object.assign(new MemoryL2(1000), {
      available: () => status.up,
      onStatus: (l: (up: boolean) => void) => status.on(l),
    });
    const { server, pager, defer } = await started(t, { parts: { l2 } });

    const N = 40;
    const clients = [];
    for (let i = 0; i < N; i++) {
      // The server can only notify a session once its GET stream is open: each client says when.
      const opened = signal();
      const fetchSeeingStream: typeof fetch = async (input, init) => {
        const res = await fetch(input, init);
        if ((init?.method ?? 'GET') === 'GET' && res.headers.get('content-type')?.startsWith('text/event-stream'))
          opened.resolve();
        return res;
      };
      const c = await httpClient(server.url, undefined, fetchSeeingStream);
      defer(() => c.client.close());
      const got = { updated: new Set<string>(), listChanged: 0, logs: [] as string[] };
      const arrived = { updated: signal(), listChanged: signal(), log: signal() };
      c.client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
        got.updated.add(n.params.uri);
        arrived.updated.resolve();
      });
      c.client.setNotificationHandler(ResourceListChangedNotificationSchema, () => {
        got.listChanged++;
        arrived.listChanged.resolve();
      });
      c.client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
        got.logs.push(String(n.params.data));
        arrived.log.resolve();
      });
      await c.client.subscribeResource({ uri: PAGE_TABLE_URI });
      await opened.promise;
      clients.push({ ...c, got, arrived });
    }
    assert.equal(server.sessions(), N);
    for (const event of ['pages', 'snapshots', 'health'] as const)
      assert.equal(pager.events.listenerCount(event), 1, `one '${event}' listener for ${N} sessions`);

    const first = clients[0]!.client;
    await call(first, 'ingest', { text: 'Pump station Kestrel was serviced in spring.', source: 'note.md' });
    await Promise.all(clients.map((c) => c.arrived.updated.promise));
    await call(first, 'serialize_context', {});
    await Promise.all(clients.map((c) => c.arrived.listChanged.promise));
    status.set(false);
    await Promise.all(clients.map((c) => c.arrived.log.promise));
    for (const c of clients) {
      assert.ok(c.got.updated.has(PAGE_TABLE_URI));
      assert.match(c.got.logs.join('\n'), /L2 \(memory\) is unreachable/);
    }
    assert.deepEqual(
      warnings.filter((w) => w.name === 'MaxListenersExceededWarning').map((w) => w.message),
      [],
    );
  });

  test('at VMEM_MAX_SESSIONS a new client ends the longest-idle session, which then gets 404; the others go on', async (t) => {
    const { server, defer } = await started(t, { flags: { '--max-sessions': '3' } });
    const [a, b, c] = [await httpClient(server.url), await httpClient(server.url), await httpClient(server.url)];
    defer(() => Promise.all([a, b, c].map((x) => x.client.close())));
    await a.client.ping(); // now B is the longest idle
    const d = await httpClient(server.url);
    defer(() => d.client.close());
    assert.equal(server.sessions(), 3);
    const gone = await raw(server.url, {
      body: { jsonrpc: '2.0', id: 9, method: 'ping' },
      headers: { 'mcp-session-id': b.transport.sessionId!, 'mcp-protocol-version': '2025-06-18' },
    });
    assert.equal(gone.status, 404);
    assert.match(rpcErrorOf(gone.body).message, /Session not found/);
    for (const x of [a, c, d]) await x.client.ping();
    const health = JSON.parse((await raw(server.url.replace(/\/mcp$/, '/healthz'), { method: 'GET' })).body) as {
      sessions: number;
    };
    assert.equal(health.sessions, 3);
  });
});
