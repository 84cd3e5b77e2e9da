/**
 * A small OpenAI-compatible embeddings server on loopback, for tests: deterministic vectors by keyword
 * (one dimension per topic), every request recorded, and its behaviour switchable per request.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Topic words → dimension: a text's vector counts its words of each topic (plus a small constant). */
const TOPICS = [
  ['ocean', 'sea', 'saltwater', 'waves', 'expanse', 'tide'],
  ['money', 'coin', 'doubloon', 'gold', 'wages'],
  ['bird', 'albatross', 'wings', 'feathers'],
];
export const FAKE_DIM = TOPICS.length + 1;

export function topicVector(text: string): number[] {
  const words = text.toLowerCase().match(/[a-z]+/g) ?? [];
  return [...TOPICS.map((t) => words.filter((w) => t.includes(w)).length), 0.01];
}

export interface Recorded {
  method: string;
  url: string;
  authorization: string | undefined;
  body: { model?: string; input?: string[]; encoding_format?: string };
}

/** What to answer: the default reply, or a status with headers, or a body of one's own, or no answer at all. */
export type Behaviour = (
  req: Recorded,
) => { status: number; headers?: Record<string, string>; body?: unknown } | 'hang' | undefined;

export async function fakeEmbeddings() {
  const requests: Recorded[] = [];
  let behaviour: Behaviour = () => undefined;
  const hanging = new Set<ServerResponse>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      const rec: Recorded = {
        method: req.method ?? '',
        url: req.url ?? '',
        authorization: req.headers.authorization,
        body: raw ? JSON.parse(raw) : {},
      };
      requests.push(rec);
      const b = behaviour(rec);
      if (b === 'hang') {
        hanging.add(res);
        return;
      }
      const input = rec.body.input ?? [];
      const reply = b?.body ?? {
        object: 'list',
        model: rec.body.model,
        data: input.map((text, index) => ({ object: 'embedding', index, embedding: topicVector(text) })),
        usage: { prompt_tokens: 0, total_tokens: 0 },
      };
      res.writeHead(b?.status ?? 200, { 'content-type': 'application/json', ...b?.headers });
      res.end(JSON.stringify(reply));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    baseURL: `http://127.0.0.1:${port}/v1`,
    requests,
    set(b: Behaviour) {
      behaviour = b;
    },
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
