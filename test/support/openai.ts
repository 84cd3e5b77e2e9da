/**
 * A small OpenAI-compatible chat completions server on loopback, for testing the openai compressor
 * without a network: each request is recorded and answered by the test's script (status, body, delay).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  // biome-ignore lint/suspicious/noExplicitAny: tests read whatever JSON the client sent, field by field
  body: any;
}

export interface Reply {
  status?: number;
  headers?: Record<string, string>;
  /** An object is sent as JSON; a string as it is (to send malformed replies). */
  body?: unknown;
  /** Never answer (to test timeouts). */
  hang?: boolean;
}

export interface FakeOpenAI {
  /** Base URL, ending in /v1, as the openai client and vmem's config take it. */
  url: string;
  requests: RecordedRequest[];
  /** Replaces how requests are answered; `n` is the request's index from 0. */
  answer(fn: (req: RecordedRequest, n: number) => Reply): void;
  close(): Promise<void>;
}

/** A chat completion reply whose message is `content`. */
export function completion(content: string | null, model = 'gpt-4o-mini'): Reply {
  return {
    body: {
      id: 'chatcmpl-test',
      object: 'chat.completion',
      created: 1,
      model,
      choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
    },
  };
}

export async function startFakeOpenAI(): Promise<FakeOpenAI> {
  const requests: RecordedRequest[] = [];
  let answer: (req: RecordedRequest, n: number) => Reply = () => completion('A summary.');
  const hanging = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      let body: unknown = raw;
      try {
        body = JSON.parse(raw);
      } catch {
        // kept as text
      }
      const rec: RecordedRequest = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body };
      requests.push(rec);
      const reply = answer(rec, requests.length - 1);
      if (reply.hang) {
        hanging.add(res);
        return;
      }
      const text = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body ?? {});
      res.writeHead(reply.status ?? 200, { 'content-type': 'application/json', ...reply.headers });
      res.end(text);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    answer: (fn) => void (answer = fn),
    close: async () => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
