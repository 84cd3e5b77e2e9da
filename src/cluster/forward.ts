import http from 'node:http';

/** Set on a request one server passes on to another: the receiver serves it or refuses it, never passes it on again. */
export const FORWARDED_HEADER = 'x-vmem-forwarded-by';

/** Headers about one connection, not the request (RFC 9110 §7.6.1), plus the ones this hop sets itself. */
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
  'host',
  // The client was already answered `100 Continue` here (or sends the body anyway); the next hop need not.
  'expect',
]);

/** `headers` without hop-by-hop ones, including those the Connection header names. */
function endToEnd(headers: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const named = String(headers.connection ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter(Boolean);
  const out: http.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name) && !named.includes(name)) out[name] = value;
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

// Kept-alive connections between servers: a forwarded call costs one hop, not a TCP handshake as well.
const agent = new http.Agent({ keepAlive: true });

/**
 * Passes `req` on to the server at `origin` as it came (method, path, headers, body streamed) and streams its
 * answer back (status, headers, body: an SSE stream flows event by event). Before anything was sent back, rejects
 * with TargetUnreachable when the target could not be connected to, TargetFailed when it broke off; a failure
 * after that ends the response.
 */
export function forward(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  origin: string,
  nodeId: string,
): Promise<void> {
  const target = new URL(req.url ?? '/', origin);
  if (req.headers.expect?.toLowerCase() === '100-continue') res.writeContinue();
  return new Promise((resolve, reject) => {
    const upstream = http.request(
      target,
      {
        method: req.method,
        agent,
        headers: { ...endToEnd(req.headers), host: target.host, [FORWARDED_HEADER]: nodeId },
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.statusMessage, endToEnd(answer.headers));
        // Event streams must reach the client as they come, not when a buffer fills.
        res.flushHeaders();
        answer.pipe(res);
        answer.on('error', () => res.destroy());
        answer.on('end', () => resolve());
        answer.on('close', () => resolve());
      },
    );
    upstream.on('error', (err) => {
      if (!res.headersSent) {
        const Failure = CONNECT_ERRORS.has((err as NodeJS.ErrnoException).code ?? '')
          ? TargetUnreachable
          : TargetFailed;
        reject(new Failure(`${origin}: ${err.message}`, { cause: err }));
      } else {
        res.destroy();
        resolve();
      }
    });
    // The client left (or closed its event stream): so does the hop.
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  });
}
