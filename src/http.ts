import { randomUUID, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { FORWARDED_HEADER, forward, TargetUnreachable } from './cluster/forward.js';
import { advertisedOrigin, type NodeDirectory, nodeOfSession, sessionIdOn } from './cluster/nodes.js';
import { sha256 } from './core/hash.js';
import { ConfigError } from './errors.js';
import { BodyTooLarge, bodyLimit, ClientGone, readBody, readJsonBody } from './http-body.js';
import { PagerEvents } from './mcp/pager-events.js';
import { createServer, VERSION } from './mcp/server.js';
import type { Pager } from './pager.js';
import { LevelWatch, type Watched } from './readiness.js';

export interface HttpOptions {
  host: string;
  port: number;
  /** Bearer token every MCP request must carry; required when `host` is not loopback. */
  authToken?: string;
  /** Host names (without port) accepted in Host and Origin headers besides loopback and `host`. */
  allowedHosts?: string[];
  /** A session with no request for this long is closed and its L1 released. */
  idleMs: number;
  /**
   * With several servers behind one address: the directory this server joins once it listens, at
   * `advertiseUrl` (default `http://host:port`). Session ids then name this node, and a request of another
   * node's session is passed on to it. The server leaves and closes the directory on close.
   */
  directory?: NodeDirectory;
  advertiseUrl?: string;
}

export interface HttpServer {
  url: string;
  /** Open MCP sessions. */
  sessions(): number;
  close(): Promise<void>;
}

const LOOPBACK = ['localhost', '127.0.0.1', '::1', '[::1]'];
export const isLoopback = (host: string) => LOOPBACK.includes(host);

/** Refuses to serve beyond loopback without a bearer token: the CLI checks it before opening the store, `serveHttp` again. */
export function checkExposure(host: string, authToken: string | undefined): void {
  if (!isLoopback(host) && !authToken)
    throw new ConfigError(
      `listening on ${host} needs a bearer token: set VMEM_AUTH_TOKEN or VMEM_AUTH_TOKEN_FILE (or use --host 127.0.0.1)`,
    );
}

interface Open {
  transport: StreamableHTTPServerTransport;
  close: () => Promise<void>;
  lastSeen: number;
}

/** The hostname of a Host header or an Origin URL, lowercase, without port (IPv6 keeps its brackets). */
function hostnameOf(value: string | undefined, isOrigin: boolean): string | undefined {
  if (!value) return undefined;
  try {
    return new URL(isOrigin ? value : `http://${value}`).hostname.toLowerCase();
  } catch {
    return undefined;
  }
}

const digest = (s: string) => Buffer.from(sha256(s), 'hex');

/**
 * Compares SHA-256 digests, not the strings: both are 32 bytes whatever the token, so neither an
 * early length check nor the comparison's time says anything about the expected token's length.
 */
const sameSecret = (given: string, expectedDigest: Buffer) => timingSafeEqual(digest(given), expectedDigest);

function send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  // A refused client that was told to wait for `100 Continue` never sends its body: this connection
  // cannot carry another request.
  const unread = status >= 400 && res.req.headers.expect !== undefined;
  res.writeHead(status, { 'content-type': 'application/json', ...(unread ? { connection: 'close' } : {}), ...headers });
  res.end(JSON.stringify(body));
}

/** A JSON-RPC error body, as MCP clients expect one even from HTTP-level refusals. */
const rpcError = (code: number, message: string) => ({ jsonrpc: '2.0', error: { code, message }, id: null });

/**
 * vmem over Streamable HTTP at `/mcp`: one MCP session per client (its own L1 and LRU order), all
 * sharing the pager's L2–L4. Sessions end on DELETE, when their transport closes, after `idleMs`
 * without a request, or, when a new client arrives with VMEM_MAX_SESSIONS open, the longest idle
 * first (clients that never send DELETE would otherwise hold theirs for the whole idle timeout).
 * Every request is checked before it reaches MCP: the Host header (and Origin, when sent) must name
 * this server, against DNS rebinding; with a token configured, a bearer token must match (401 with
 * `WWW-Authenticate` otherwise); a body over `bodyLimit` gets 413. `GET /healthz` answers orchestrators.
 */
export async function serveHttp(pager: Pager, opts: HttpOptions): Promise<HttpServer> {
  checkExposure(opts.host, opts.authToken);
  const allowed = new Set([
    ...LOOPBACK,
    opts.host.toLowerCase(),
    ...(opts.allowedHosts ?? []).map((h) => h.toLowerCase()),
  ]);
  const { directory } = opts;
  // Refused before listening: the others must be able to reach this server.
  if (directory) advertisedOrigin(opts.host, opts.port, opts.advertiseUrl);
  // Other servers pass requests on with this server's advertised host in Host.
  if (opts.advertiseUrl) allowed.add(new URL(opts.advertiseUrl).hostname.toLowerCase());
  const tokenDigest = opts.authToken === undefined ? undefined : digest(opts.authToken);
  const maxBody = bodyLimit(pager.config.maxIngestBytes);
  const { maxSessions } = pager.config;
  /** Open sessions, least recently used first: each request moves its session to the end. */
  const sessions = new Map<string, Open>();
  // One subscription to the pager's events for all sessions.
  const events = new PagerEvents(pager);
  const watch = new LevelWatch(levelsOf(pager, directory));
  const started = new Date().toISOString();

  const endSession = async (id: string) => {
    const s = sessions.get(id);
    if (!s) return;
    sessions.delete(id);
    await s.close().catch(() => {});
  };

  /**
   * A request of a session this server does not hold: passed on to the node its id names when that node is live
   * (once: a request already passed on is never passed on again), else 404, on which MCP clients start a new
   * session.
   */
  const elsewhere = async (req: http.IncomingMessage, res: http.ServerResponse, id: string) => {
    const owner = nodeOfSession(id);
    const notFound = () =>
      send(res, 404, rpcError(-32001, 'Session not found: it ended or expired; initialize a new one'));
    if (!directory || !owner || owner === directory.nodeId || req.headers[FORWARDED_HEADER] !== undefined)
      return notFound();
    let origin: string | undefined;
    try {
      origin = await directory.lookup(owner);
    } catch (err) {
      console.error(
        `vmem: cannot look up the server of a session: the catalog Redis is unreachable (${(err as Error).message})`,
      );
      return send(
        res,
        503,
        rpcError(-32000, 'The server holding this session cannot be looked up now; retry shortly'),
        {
          'retry-after': '1',
        },
      );
    }
    if (!origin) return notFound();
    // Read here, within this server's bound, so that a request whose connection broke can be sent again.
    const body = req.method === 'POST' ? await readBody(req, res, maxBody) : undefined;
    try {
      await forward(req, res, origin, directory.nodeId, body);
    } catch (err) {
      if (err instanceof TargetUnreachable) {
        // Its announcement has not lapsed yet, but the node is gone, and its sessions with it.
        directory.unreachable(owner);
        return notFound();
      }
      console.error(`vmem: passing a request on to ${origin} failed: ${(err as Error).message}`);
      return send(res, 502, rpcError(-32603, 'The server holding this session broke off; retry'));
    }
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const host = hostnameOf(req.headers.host, false);
    if (!host || !allowed.has(host))
      return send(res, 403, rpcError(-32000, `Host ${req.headers.host ?? '(none)'} is not allowed`));
    const origin = req.headers.origin;
    if (origin !== undefined && !allowed.has(hostnameOf(origin, true) ?? ''))
      return send(res, 403, rpcError(-32000, `Origin ${origin} is not allowed`));

    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/healthz' && req.method === 'GET') {
      const { status, httpStatus, levels } = watch.report();
      const l1 = { level: 'L1', backend: 'process', up: true, since: started, required: true, sessions: sessions.size };
      return send(res, httpStatus, {
        status,
        version: VERSION,
        ...(directory ? { node: directory.nodeId } : {}),
        sessions: sessions.size,
        down: [...new Set(levels.filter((l) => !l.up).map((l) => l.level))],
        levels: [l1, ...levels],
      });
    }
    if (path !== '/mcp') return send(res, 404, rpcError(-32000, 'Not found: MCP is served at /mcp'));

    if (tokenDigest) {
      const auth = req.headers.authorization;
      const token = auth?.startsWith('Bearer ') ? auth.slice(7).trim() : undefined;
      if (!token || !sameSecret(token, tokenDigest)) {
        const challenge = token ? 'Bearer realm="vmem", error="invalid_token"' : 'Bearer realm="vmem"';
        return send(res, 401, rpcError(-32001, token ? 'Invalid bearer token' : 'Missing bearer token'), {
          'www-authenticate': challenge,
        });
      }
    }

    const sessionId = req.headers['mcp-session-id'];
    const id = Array.isArray(sessionId) ? sessionId[0] : sessionId;
    if (id) {
      const s = sessions.get(id);
      if (!s) return elsewhere(req, res, id);
      sessions.delete(id);
      sessions.set(id, s);
      s.lastSeen = Date.now();
      const body = req.method === 'POST' ? await readJsonBody(req, res, maxBody) : undefined;
      await s.transport.handleRequest(req, res, body);
      return;
    }
    if (req.method !== 'POST')
      return send(res, 400, rpcError(-32000, 'Bad request: no Mcp-Session-Id; start with an initialize request'));
    const body = await readJsonBody(req, res, maxBody);
    if (!isInitializeRequest(body))
      return send(res, 400, rpcError(-32000, 'Bad request: no Mcp-Session-Id; start with an initialize request'));

    // A new agent: its own session (L1), its own MCP server, sharing the pager.
    const { connect, close } = createServer(pager, { events, clientRoots: false });
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => (directory ? sessionIdOn(directory.nodeId) : randomUUID()),
      onsessioninitialized: (sid) => {
        sessions.set(sid, {
          transport,
          lastSeen: Date.now(),
          close: async () => {
            await transport.close();
            await close();
          },
        });
        // The new session is last in the map; the first is the longest idle.
        for (const [oldest, s] of sessions) {
          if (sessions.size <= maxSessions) break;
          console.error(
            `vmem: ended the HTTP session idle longest (${Math.round((Date.now() - s.lastSeen) / 1000)} s) to admit a new client: ${maxSessions} sessions open (VMEM_MAX_SESSIONS)`,
          );
          void endSession(oldest);
        }
      },
    });
    transport.onclose = () => {
      if (transport.sessionId) void endSession(transport.sessionId);
    };
    await connect(transport);
    await transport.handleRequest(req, res, body);
    // A refused initialize leaves no session: its server must not keep listening.
    if (!transport.sessionId) await close();
  };

  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
    handle(req, res).catch((err: unknown) => {
      if (err instanceof ClientGone) return;
      if (err instanceof BodyTooLarge) return send(res, 413, rpcError(-32600, err.message), { connection: 'close' });
      if (err instanceof SyntaxError) return send(res, 400, rpcError(-32700, 'Parse error: the body is not JSON'));
      console.error('vmem: HTTP request failed:', err);
      if (!res.headersSent) send(res, 500, rpcError(-32603, 'Internal error'));
      else res.end();
    });
  };
  const httpServer = http.createServer(onRequest);
  // Handled, Node would send `100 Continue` by itself: a body over the limit is refused before it is sent.
  httpServer.on('checkContinue', onRequest);
  const sweep = setInterval(
    () => {
      const now = Date.now();
      for (const [id, s] of sessions) {
        if (now - s.lastSeen <= opts.idleMs) break;
        void endSession(id);
      }
    },
    Math.min(60_000, Math.max(50, opts.idleMs / 4)),
  );
  sweep.unref();

  try {
    await new Promise<void>((resolve, reject) => {
      httpServer.once('error', reject);
      httpServer.listen(opts.port, opts.host, () => resolve());
    });
  } catch (err) {
    clearInterval(sweep);
    events.close();
    throw err;
  }
  const { port } = httpServer.address() as AddressInfo;
  const shownHost = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  if (directory) {
    const origin = advertisedOrigin(opts.host, port, opts.advertiseUrl);
    allowed.add(new URL(origin).hostname.toLowerCase());
    try {
      await directory.join(origin);
    } catch (err) {
      clearInterval(sweep);
      watch.close();
      events.close();
      await new Promise<void>((resolve) => httpServer.close(() => resolve()));
      throw err;
    }
  }
  return {
    url: `http://${shownHost}:${port}/mcp`,
    sessions: () => sessions.size,
    close: async () => {
      clearInterval(sweep);
      // First, so that other servers stop passing requests on to this one.
      await directory?.close();
      watch.close();
      await Promise.all([...sessions.keys()].map(endSession));
      events.close();
      httpServer.closeAllConnections();
      await new Promise<void>((resolve) => httpServer.close(() => resolve()));
    },
  };
}

/** The backends `/healthz` reports, each with whether this server can serve without it. */
function levelsOf(pager: Pager, directory: NodeDirectory | undefined): Watched[] {
  return [
    ...pager.backends(),
    // Where each server is, on the shared Redis: without it a request of another server's session cannot be passed on.
    ...(directory ? [{ level: 'catalog', store: directory, required: true }] : []),
  ];
}
