/**
 * The simplest load balancer: each HTTP request goes to the next backend in turn, whatever its Mcp-Session-Id,
 * so most requests of a session land on a server that does not hold it. What forwarding between vmem servers
 * must cope with; used by the cluster tests and the cluster bench.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RoundRobin {
  /** The proxy's origin, e.g. http://127.0.0.1:40123. */
  origin: string;
  /** Requests sent to each backend so far, in the order of `backends`. */
  counts: number[];
  close(): Promise<void>;
}

/** A round-robin HTTP proxy on a free loopback port in front of `backends` (origins). */
export async function roundRobin(backends: string[]): Promise<RoundRobin> {
  const counts = backends.map(() => 0);
  const agent = new http.Agent({ keepAlive: true });
  let next = 0;
  const send = (req: http.IncomingMessage, res: http.ServerResponse, target: URL, body: Buffer, pooled: boolean) => {
    const upstream = http.request(
      target,
      { method: req.method, agent: pooled ? agent : false, headers: { ...req.headers, host: target.host } },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        res.flushHeaders();
        answer.pipe(res);
      },
    );
    upstream.on('error', (err: NodeJS.ErrnoException) => {
      // A kept-alive connection the backend closed as it was reused: the request never reached it; once more.
      if (pooled && upstream.reusedSocket && err.code === 'ECONNRESET' && !res.headersSent)
        return send(req, res, target, body, false);
      if (!res.headersSent) res.writeHead(502).end(`round-robin proxy: ${err.message}`);
      else res.destroy();
    });
    res.once('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    upstream.end(body);
  };
  const server = http.createServer((req, res) => {
    const i = next++ % backends.length;
    counts[i]!++;
    const target = new URL(req.url ?? '/', backends[i]);
    // Read whole, as load balancers that retry do, so that a request can be sent again.
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => send(req, res, target, Buffer.concat(chunks), true));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    counts,
    close: async () => {
      server.closeAllConnections();
      agent.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
