/**
 * Several `vmem serve --http` behind one address, sharing a Redis for the node directory (and, until the page
 * table is shared over Redis, one data dir): a session's requests reach whichever server, and the one that holds
 * the session serves them, its L1 and its event stream included. Real servers over real loopback sockets, the
 * SDK's real client, a real Redis; one test spawns the built binary twice behind a round-robin proxy.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ResourceUpdatedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { FORWARDED_HEADER, forward, TargetUnreachable } from '../src/cluster/forward.ts';
import { type NodeDirectory, openNodeDirectory } from '../src/cluster/nodes.ts';
import { type HttpServer, serveHttp } from '../src/http.ts';
import { L1_URI, PAGE_TABLE_URI } from '../src/mcp/resources.ts';
import type { Pager, PagerParts } from '../src/pager.ts';
import { RedisL2 } from '../src/tiers/l2/redis.ts';
import { S3L4 } from '../src/tiers/l4/s3.ts';
import { call, deferrals, demoDoc, factRe, l1Ids, openPager, readText, tempDir } from './helpers.ts';
import { freePort, REDIS_MISSING, startRedis, type TestRedis } from './support/redis.ts';
import { roundRobin } from './support/round-robin.ts';
import { S3RVER_CREDENTIALS } from './support/s3.ts';
import { CLI, ENV } from './support/spawn.ts';
import { waitFor } from './support/wait.ts';

const FLAGS = { '--page-tokens': '500', '--l1-tokens': '4000' };

let redis: TestRedis | undefined;
before(async () => {
  redis = await startRedis({ durable: true });
});
after(() => redis?.stop());

type Ctx = import('node:test').TestContext;
/** A test that needs Redis: skipped with one line without it (startRedis fails loudly under CI=true). */
const test = (title: string, fn: (redis: TestRedis, t: Ctx) => Promise<void>) =>
  it(title, { timeout: 60_000 }, async (t) => (redis ? fn(redis, t) : t.skip(REDIS_MISSING)));

interface Node {
  pager: Pager;
  server: HttpServer;
  directory: NodeDirectory;
  origin: string;
}

/** `n` servers on one data dir, in this process, each with its own pager and its own place in the directory. */
async function cluster(
  t: Ctx,
  catalogUrl: string,
  opts: { n?: number; parts?: (i: number) => Promise<PagerParts>; nodeIds?: string[] } = {},
): Promise<{ nodes: Node[]; defer: (fn: () => unknown) => void }> {
  const defer = deferrals(t);
  const { dir, cleanup } = tempDir();
  defer(cleanup);
  // A namespace of its own: the directory's keys never meet another test's.
  const namespace = `c${randomUUID().slice(0, 8)}`;
  const nodes: Node[] = [];
  for (let i = 0; i < (opts.n ?? 2); i++) {
    const pager = await openPager(dir, { ...FLAGS, '--namespace': namespace }, await opts.parts?.(i));
    defer(() => pager.close());
    const directory = (await openNodeDirectory({ catalogUrl, namespace, nodeId: opts.nodeIds?.[i] }))!;
    const server = await serveHttp(pager, { host: '127.0.0.1', port: 0, idleMs: 60_000, directory });
    defer(() => server.close());
    nodes.push({ pager, server, directory, origin: new URL(server.url).origin });
  }
  return { nodes, defer };
}

/**
 * A fetch that sends each request to the origin `pick` names (by the request's number, from 0), whatever the URL
 * the transport was given: a load balancer the test steers.
 */
function steered(origins: string[], pick: (n: number) => number) {
  let n = 0;
  const sent = origins.map(() => 0);
  const fetch: typeof globalThis.fetch = (input, init) => {
    const i = pick(n++);
    sent[i]!++;
    const url = new URL(input instanceof Request ? input.url : String(input));
    const to = new URL(origins[i]!);
    url.host = to.host;
    return globalThis.fetch(url, init);
  };
  return { fetch, sent };
}

async function connect(
  url: string,
  fetch: typeof globalThis.fetch,
  client = new Client({ name: 'cluster-test', version: '1' }),
) {
  const transport = new StreamableHTTPClientTransport(new URL(url), { fetch });
  await client.connect(transport);
  return { client, transport };
}

/** A raw JSON-RPC POST, to send what the SDK client would not (a marker header, a session of a stopped node). */
function raw(
  url: string,
  headers: Record<string, string>,
  body: unknown = { jsonrpc: '2.0', id: 9, method: 'tools/list' },
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

async function healthz(origin: string): Promise<{ status: number; body: Health }> {
  const res = await globalThis.fetch(`${origin}/healthz`);
  return { status: res.status, body: (await res.json()) as Health };
}

interface Health {
  status: string;
  node?: string;
  sessions: number;
  down: string[];
  levels: { level: string; backend: string; up: boolean; since: string; required: boolean; sessions?: number }[];
}

describe('several HTTP servers behind one address', () => {
  test('a session initialized on A keeps its L1 whichever server its requests reach', async (r, t) => {
    const { nodes, defer } = await cluster(t, r.url);
    const [a, b] = nodes as [Node, Node];
    // Initialize on A, then alternate: B, A, B, …
    const lb = steered([a.origin, b.origin], (n) => n % 2);
    const c = await connect(a.server.url, lb.fetch);
    defer(() => c.client.close());
    assert.equal(a.server.sessions(), 1);
    assert.equal(b.server.sessions(), 0);
    assert.ok(c.transport.sessionId!.startsWith(`${a.directory.nodeId}.`), 'the session id names its server');

    await call(c.client, 'ingest', { text: demoDoc(), source: 'manual.md' });
    const fault = await call<{ pages: { page_id: string; text: string }[]; candidates: { page_id: string }[] }>(
      c.client,
      'page_fault',
      { query: 'maintenance code for pump station Kestrel in 2003', max_pages: 1 },
    );
    assert.match(fault.s.pages[0]!.text, factRe('Kestrel', 2003));
    const other = fault.s.candidates[0]!.page_id;
    await call(c.client, 'load_page', { page_ids: [other] });
    // Several reads, so that both servers answer some: the same L1 every time.
    const seen = new Set<string>();
    for (let i = 0; i < 4; i++)
      seen.add(
        l1Ids(await readText(c.client, L1_URI))
          .sort()
          .join(','),
      );
    assert.equal(seen.size, 1);
    assert.deepEqual([...seen][0]!.split(',').sort(), [fault.s.pages[0]!.page_id, other].sort());
    assert.ok(lb.sent[0]! >= 3 && lb.sent[1]! >= 3, `both servers got requests (${lb.sent.join('/')})`);
    assert.equal(b.server.sessions(), 0, 'B never opened a session of its own');
  });

  test('notifications of a session reach its client through the other server, on the event stream passed on', async (r, t) => {
    const { nodes, defer } = await cluster(t, r.url);
    const [a, b] = nodes as [Node, Node];
    // Initialize on A; everything after it, the GET event stream included, goes through B.
    const lb = steered([a.origin, b.origin], (n) => (n === 0 ? 0 : 1));
    let streamOpened!: () => void;
    const opened = new Promise<void>((resolve) => (streamOpened = resolve));
    const watching: typeof globalThis.fetch = async (input, init) => {
      const res = await lb.fetch(input, init);
      if ((init?.method ?? 'GET') === 'GET' && res.headers.get('content-type')?.startsWith('text/event-stream'))
        streamOpened();
      return res;
    };
    const c = await connect(a.server.url, watching);
    defer(() => c.client.close());
    let updated!: () => void;
    const arrived = new Promise<void>((resolve) => (updated = resolve));
    c.client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
      if (n.params.uri === PAGE_TABLE_URI) updated();
    });
    await c.client.subscribeResource({ uri: PAGE_TABLE_URI });
    await opened;

    // Another client, straight on A, changes the page table: A notifies the first session on its stream.
    const other = await connect(a.server.url, globalThis.fetch);
    defer(() => other.client.close());
    await call(other.client, 'ingest', { text: demoDoc(), source: 'manual.md' });
    await arrived;
    assert.equal(b.server.sessions(), 0);
    assert.ok(lb.sent[1]! >= 2, 'the subscription and the stream went through B');
  });

  test('a stopped server: requests of its sessions get 404 from the others, so clients start new sessions', async (r, t) => {
    const { nodes, defer } = await cluster(t, r.url);
    const [a, b] = nodes as [Node, Node];
    const c = await connect(a.server.url, globalThis.fetch);
    defer(() => c.client.close());
    const session = { 'mcp-session-id': c.transport.sessionId! };
    assert.equal((await raw(b.server.url, session)).status, 200, 'B passes it on while A runs');
    await a.server.close();
    const gone = await raw(b.server.url, session);
    assert.equal(gone.status, 404);
    assert.match(gone.body, /Session not found.*initialize a new one/);
    // A new session is served by B itself.
    const again = await connect(b.server.url, globalThis.fetch);
    defer(() => again.client.close());
    assert.ok(again.transport.sessionId!.startsWith(`${b.directory.nodeId}.`));
  });

  test('VMEM_NODE_ID names a server in its session ids, for proxies that route on it; one live server per id', async (r, t) => {
    const { nodes, defer } = await cluster(t, r.url, { nodeIds: ['vmem-a', 'vmem-b'] });
    const [a, b] = nodes as [Node, Node];
    const onA = await connect(a.server.url, globalThis.fetch);
    const onB = await connect(b.server.url, globalThis.fetch);
    defer(() => Promise.all([onA.client.close(), onB.client.close()]));
    assert.match(onA.transport.sessionId!, /^vmem-a\.[0-9a-f-]{36}$/);
    assert.match(onB.transport.sessionId!, /^vmem-b\.[0-9a-f-]{36}$/);
    assert.equal((await raw(b.server.url, { 'mcp-session-id': onA.transport.sessionId! })).status, 200);

    // A third server given A's id while A runs: refused, naming the setting, and it leaves nothing listening.
    const taken = (await openNodeDirectory({
      catalogUrl: r.url,
      namespace: a.pager.config.namespace,
      nodeId: 'vmem-a',
    }))!;
    await assert.rejects(
      serveHttp(a.pager, { host: '127.0.0.1', port: 0, idleMs: 60_000, directory: taken }),
      /VMEM_NODE_ID \/ --node-id is vmem-a, which the live server at http:\/\/127\.0\.0\.1:\d+ has: give each server its own/,
    );
    await taken.close();
    assert.equal(await a.directory.lookup('vmem-a'), a.origin, 'A keeps its place');
  });

  test('a request already passed on is never passed on again; an unknown node or session is 404', async (r, t) => {
    const { nodes, defer } = await cluster(t, r.url);
    const [a, b] = nodes as [Node, Node];
    const c = await connect(a.server.url, globalThis.fetch);
    defer(() => c.client.close());
    const id = c.transport.sessionId!;
    const looped = await raw(b.server.url, { 'mcp-session-id': id, [FORWARDED_HEADER]: b.directory.nodeId });
    assert.equal(looped.status, 404, 'B holds no such session and does not pass a passed-on request on');
    // The marker does not stop the owner from serving its own session.
    assert.equal((await raw(a.server.url, { 'mcp-session-id': id, [FORWARDED_HEADER]: 'x' })).status, 200);
    assert.equal((await raw(b.server.url, { 'mcp-session-id': `nosuchnode.${randomUUID()}` })).status, 404);
    assert.equal((await raw(b.server.url, { 'mcp-session-id': `${b.directory.nodeId}.${randomUUID()}` })).status, 404);
    assert.equal((await raw(b.server.url, { 'mcp-session-id': randomUUID() })).status, 404);
  });

  test('/healthz reports every level; 200 ok, 200 degraded without L2, 503 without L4 or the catalog', async (r, t) => {
    // One server with a healthy store, one with L2 on a Redis that is not there, one with L4 on object storage
    // that is not there: nothing listens at either address.
    const dead = `127.0.0.1:${await freePort()}`;
    const { nodes, defer } = await cluster(t, r.url, {
      n: 3,
      parts: async (i) =>
        i === 1
          ? { l2: await RedisL2.open(`redis://${dead}`, { waitMs: 2000 }) }
          : i === 2
            ? {
                l4: await S3L4.open({
                  bucket: 'vmem-test',
                  prefix: 'healthz',
                  endpoint: `http://${dead}`,
                  credentials: S3RVER_CREDENTIALS,
                  timeoutMs: 2000,
                }),
              }
            : {},
    });
    const [ok, noL2, noL4] = nodes as [Node, Node, Node];
    const c = await connect(ok.server.url, globalThis.fetch);
    defer(() => c.client.close());

    const healthy = await healthz(ok.origin);
    assert.equal(healthy.status, 200);
    assert.equal(healthy.body.status, 'ok');
    assert.equal(healthy.body.node, ok.directory.nodeId);
    assert.equal(healthy.body.sessions, 1);
    assert.deepEqual(healthy.body.down, []);
    const levels = Object.fromEntries(healthy.body.levels.map((l) => [`${l.level} ${l.backend}`, l]));
    assert.deepEqual(Object.keys(levels).sort(), ['L1 process', 'L2 memory', 'L3 embedded', 'L4 fs', 'catalog redis']);
    assert.equal(levels['L1 process']!.sessions, 1);
    assert.ok(healthy.body.levels.every((l) => l.up && !Number.isNaN(Date.parse(l.since))));
    assert.deepEqual(
      healthy.body.levels.filter((l) => l.required).map((l) => l.level),
      ['L1', 'L4', 'catalog'],
    );

    const degraded = await healthz(noL2.origin);
    assert.equal(degraded.status, 200, 'a server without L2 still serves');
    assert.equal(degraded.body.status, 'degraded');
    assert.deepEqual(degraded.body.down, ['L2']);

    const unavailable = await healthz(noL4.origin);
    assert.equal(unavailable.status, 503, 'a server without L4 is taken out by the load balancer');
    assert.equal(unavailable.body.status, 'unavailable');
    assert.deepEqual(unavailable.body.down, ['L4']);
    assert.equal(unavailable.body.levels.find((l) => l.level === 'L4')!.backend, 's3');
  });

  it('/healthz: the catalog Redis lost is a 503, and the server is back once it is', { timeout: 60_000 }, async (t) => {
    const own = await startRedis({ ownServer: true });
    if (!own) return t.skip(REDIS_MISSING);
    t.after(() => own.stop());
    const { nodes, defer } = await cluster(t, own.url);
    const [a, b] = nodes as [Node, Node];
    const c = await connect(b.server.url, globalThis.fetch);
    defer(() => c.client.close());
    assert.equal((await healthz(a.origin)).status, 200);
    await own.stop();
    const lost = await waitFor(async () => {
      const h = await healthz(a.origin);
      return h.status === 503 ? h : undefined;
    }, 'healthz to say 503');
    assert.deepEqual(lost.body.down, ['catalog']);
    // Where B's session lives cannot be asked meanwhile: a 503 to retry, not a 404 that would end the session.
    const unknown = await raw(a.server.url, { 'mcp-session-id': c.transport.sessionId! });
    assert.equal(unknown.status, 503);
    assert.match(unknown.body, /cannot be looked up now; retry/);
    const back = await startRedis({ ownServer: true, port: own.port });
    t.after(() => back?.stop());
    await waitFor(async () => (await healthz(a.origin)).status === 200, 'healthz to say 200 again');
    // The announcement is renewed once Redis is back: the node can be looked up again.
    await waitFor(async () => (await a.directory.lookup(a.directory.nodeId)) !== undefined, 'the node to be listed');
  });
});

describe('passing a request on', () => {
  /** A server on a free loopback port answering with `handler`; closed after the test. */
  async function listening(t: Ctx, handler: http.RequestListener): Promise<string> {
    const server = http.createServer(handler);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(() => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    });
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  it('sends method, path, end-to-end headers and body, with Host rewritten and the marker; answers as the target did', async (t) => {
    let seen: { method?: string; url?: string; headers: http.IncomingHttpHeaders; body: string } | undefined;
    const target = await listening(t, (req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        seen = { method: req.method, url: req.url, headers: req.headers, body };
        res.writeHead(202, { 'mcp-session-id': 'n.1', 'x-answer': 'yes', connection: 'x-private', 'x-private': '1' });
        res.end('{"ok":true}');
      });
    });
    const front = await listening(t, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => void forward(req, res, target, 'front-node', Buffer.concat(chunks)));
    });
    const res = await new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>(
      (resolve, reject) => {
        const req = http.request(
          `${front}/mcp?x=1`,
          {
            method: 'POST',
            headers: {
              authorization: 'Bearer t',
              'mcp-session-id': 'n.1',
              'content-type': 'application/json',
              connection: 'keep-alive, x-hop',
              'x-hop': 'dropped',
              'proxy-authorization': 'dropped',
              te: 'trailers',
            },
          },
          (r) => {
            let body = '';
            r.on('data', (c: Buffer) => (body += c.toString()));
            r.on('end', () => resolve({ status: r.statusCode!, headers: r.headers, body }));
          },
        );
        req.on('error', reject);
        req.end('{"jsonrpc":"2.0"}');
      },
    );
    assert.equal(res.status, 202);
    assert.equal(res.body, '{"ok":true}');
    assert.equal(res.headers['mcp-session-id'], 'n.1');
    assert.equal(res.headers['x-answer'], 'yes');
    assert.equal(res.headers['x-private'], undefined, 'a header the target named in Connection stays with it');
    assert.ok(seen);
    assert.equal(seen.method, 'POST');
    assert.equal(seen.url, '/mcp?x=1');
    assert.equal(seen.body, '{"jsonrpc":"2.0"}');
    assert.equal(seen.headers.host, new URL(target).host);
    assert.equal(seen.headers.authorization, 'Bearer t');
    assert.equal(seen.headers['mcp-session-id'], 'n.1');
    assert.equal(seen.headers[FORWARDED_HEADER], 'front-node');
    assert.equal(seen.headers['content-length'], '17');
    for (const hop of ['x-hop', 'proxy-authorization', 'te']) assert.equal(seen.headers[hop], undefined, hop);
  });

  it('a target nobody listens at is unreachable', async () => {
    const port = await freePort();
    const res = { headersSent: false, once: () => {} } as unknown as http.ServerResponse;
    const req = { url: '/mcp', method: 'GET', headers: {} } as http.IncomingMessage;
    await assert.rejects(forward(req, res, `http://127.0.0.1:${port}`, 'n', undefined), TargetUnreachable);
  });
});

describe('the built binary, twice, behind a round-robin proxy', () => {
  /** Spawns `vmem serve --http` and resolves once it listens, with what it wrote on stderr so far. */
  async function serve(
    args: string[],
    env: Record<string, string>,
  ): Promise<{ child: ChildProcess; err: () => string }> {
    const child = spawn(process.execPath, [CLI, 'serve', '--http', ...args], { env: { ...ENV, ...env } });
    let err = '';
    child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    await waitFor(() => /serving MCP at/.test(err) || child.exitCode !== null, 'the server to start');
    assert.match(err, /serving MCP at .* node \S+ of the servers sharing VMEM_CATALOG_URL/);
    return { child, err: () => err };
  }

  const stopped = (child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM') => {
    if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    return exited;
  };

  test('a session keeps its L1 through a proxy that alternates servers; a killed server is a 404 at the other', async (r, t) => {
    const defer = deferrals(t);
    const { dir, cleanup } = tempDir();
    defer(cleanup);
    const env = { VMEM_CATALOG_URL: r.url, VMEM_NAMESPACE: `c${randomUUID().slice(0, 8)}` };
    const args = (port: number) => [
      '--port',
      String(port),
      '--data-dir',
      dir,
      '--page-tokens',
      '500',
      '--l1-tokens',
      '4000',
    ];
    const ports = [await freePort(), await freePort()];
    const servers = [];
    for (const port of ports) {
      const s = await serve(args(port), env);
      defer(() => stopped(s.child));
      servers.push(s);
    }
    const origins = ports.map((p) => `http://127.0.0.1:${p}`);
    const proxy = await roundRobin(origins);
    defer(() => proxy.close());

    const c = await connect(`${proxy.origin}/mcp`, globalThis.fetch);
    defer(() => c.client.close());
    await call(c.client, 'ingest', { text: demoDoc(), source: 'manual.md' });
    const loaded: string[] = [];
    for (const [station, year] of [
      ['Kestrel', 2003],
      ['Osprey', 2011],
      ['Heron', 2017],
    ] as const) {
      const f = await call<{ pages: { page_id: string; text: string }[] }>(c.client, 'page_fault', {
        query: `maintenance code for pump station ${station} in ${year}`,
        max_pages: 1,
      });
      assert.match(f.s.pages[0]!.text, factRe(station, year));
      loaded.push(f.s.pages[0]!.page_id);
      assert.deepEqual(l1Ids(await readText(c.client, L1_URI)).sort(), [...loaded].sort());
    }
    assert.ok(
      proxy.counts.every((n) => n >= 4),
      `both servers got requests (${proxy.counts.join('/')})`,
    );
    const owner = (await Promise.all(origins.map(healthz))).findIndex((h) => h.body.sessions === 1);
    assert.ok(owner >= 0, 'one server holds the session');
    assert.equal((await healthz(origins[1 - owner]!)).body.sessions, 0);

    // Killed, it cannot leave the directory: the other finds it unreachable and answers 404 all the same.
    await stopped(servers[owner]!.child, 'SIGKILL');
    const gone = await raw(`${origins[1 - owner]}/mcp`, { 'mcp-session-id': c.transport.sessionId! });
    assert.equal(gone.status, 404);
  });

  it('refuses a wildcard address without VMEM_ADVERTISE_URL when VMEM_CATALOG_URL is set', async (t) => {
    const { dir, cleanup } = tempDir();
    t.after(cleanup);
    const child = spawn(
      process.execPath,
      [CLI, 'serve', '--http', '--host', '0.0.0.0', '--port', '0', '--data-dir', dir],
      { env: { ...ENV, VMEM_AUTH_TOKEN: 'test-token-0123456789', VMEM_CATALOG_URL: 'redis://127.0.0.1:9' } },
    );
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    assert.equal(code, 2);
    assert.match(err, /VMEM_HTTP_HOST \/ --host is 0\.0\.0\.0.*set VMEM_ADVERTISE_URL \/ --advertise-url/);
  });
});
