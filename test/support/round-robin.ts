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
  const server = http.createServer((req, res) => {
    const i = next++ % backends.length;
    counts[i]!++;
    const target = new URL(req.url ?? '/', backends[i]);
    const upstream = http.request(
      target,
      { method: req.method, agent, headers: { ...req.headers, host: target.host } },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        res.flushHeaders();
        answer.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502).end();
      else res.destroy();
    });
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
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
