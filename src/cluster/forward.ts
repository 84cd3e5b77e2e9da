import http from 'node:http';
import https from 'node:https';

/** Set on a request one server passes on to another: the receiver serves it or refuses it, never passes it on again. */
export const FORWARDED_HEADER = 'x-vmem-forwarded-by';

/** Headers about one connection, not the message (RFC 9110 §7.6.1): never passed on, either way. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/**
 * Request headers this hop sets itself: Host names the target; the body was read whole here (after this hop's own
 * `100 Continue`) and goes on with its length.
 */
const REQUEST_OWN = ['host', 'expect', 'content-length'];

/** `headers` without hop-by-hop ones, including those the Connection header names, and without `own`. */
function endToEnd(headers: http.IncomingHttpHeaders, own: string[] = []): http.OutgoingHttpHeaders {
  const named = String(headers.connection ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter(Boolean);
  const out: http.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name) && !named.includes(name) && !own.includes(name)) out[name] = value;
  }
  return out;
}

/** The target could not be connected to (refused, no route, no such host): its node is gone. */
export class TargetUnreachable extends Error {
  override name = 'TargetUnreachable';
}

/** The target answered nothing usable after the connection was made (reset, broken response): a 502, not a 404. */
export class TargetFailed extends Error {
  override name = 'TargetFailed';
}

const CONNECT_ERRORS = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT']);

// Kept-alive connections between servers: a forwarded call costs one hop, not a TCP handshake as well. https:
// for a server advertised behind a TLS terminator of its own.
const agents = { 'http:': new http.Agent({ keepAlive: true }), 'https:': new https.Agent({ keepAlive: true }) };

/**
 * Passes `req` on to the server at `origin` as it came (method, path, end-to-end headers, `body` as read by the
 * first hop, which bounds it) and streams its answer back (status, headers, body: an SSE stream flows event by
 * event). Before anything was sent back, rejects with TargetUnreachable when the target could not be connected
 * to, TargetFailed when it broke off; a failure after that ends the response.
 */
export async function forward(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  origin: string,
  nodeId: string,
  body: Buffer | undefined,
): Promise<void> {
  try {
    await attempt(req, res, origin, nodeId, body, true);
  } catch (err) {
    // A kept-alive connection the target closed as it was reused: the request never reached it. Once more, on a
    // new connection, which tells a target gone (refused) from one that is there.
    if (!(err instanceof Reused)) throw err;
    await attempt(req, res, origin, nodeId, body, false);
  }
}

class Reused extends Error {}

function attempt(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  origin: string,
  nodeId: string,
  body: Buffer | undefined,
  pooled: boolean,
): Promise<void> {
  const target = new URL(req.url ?? '/', origin);
  const secure = target.protocol === 'https:';
  const agent = pooled ? agents[secure ? 'https:' : 'http:'] : false;
  const headers: http.OutgoingHttpHeaders = {
    ...endToEnd(req.headers, REQUEST_OWN),
    host: target.host,
    [FORWARDED_HEADER]: nodeId,
  };
  if (body) headers['content-length'] = body.length;
  return new Promise((resolve, reject) => {
    const upstream = (secure ? https : http).request(target, { method: req.method, agent, headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.statusMessage, endToEnd(answer.headers));
      // Event streams must reach the client as they come, not when a buffer fills.
      res.flushHeaders();
      answer.pipe(res);
      answer.on('error', () => res.destroy());
      answer.on('close', () => resolve());
    });
    upstream.on('error', (err) => {
      if (res.headersSent) {
        res.destroy();
        return resolve();
      }
      const code = (err as NodeJS.ErrnoException).code ?? '';
      if (upstream.reusedSocket && code === 'ECONNRESET') return reject(new Reused());
      const Failure = CONNECT_ERRORS.has(code) ? TargetUnreachable : TargetFailed;
      reject(new Failure(`${origin}: ${err.message}`, { cause: err }));
    });
    // The client left (or closed its event stream): so does the hop.
    res.once('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    upstream.end(body);
  });
}
