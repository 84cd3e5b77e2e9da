import type http from 'node:http';

/** Room above twice the ingest limit for the JSON-RPC envelope and the largest other argument (a restore_context snapshot of 10,000 pages is about 1.5 MB). */
const SLACK_BYTES = 4 * 1024 * 1024;

/**
 * The largest request body `serve --http` reads: twice VMEM_MAX_INGEST_BYTES, plus 4 MiB.
 * Twice, because JSON escapes a newline, tab, quote or backslash to two bytes and a client that
 * escapes non-ASCII writes a 3-byte character as a 6-byte `\uXXXX`: a text of such characters at the
 * ingest limit still fits. Only control characters (six bytes for one) and \u-escaped accents could
 * go further, and a document dense in them is rare enough to split. The body limit bounds memory;
 * the ingest limit itself is still checked exactly on the decoded text, with a tool error that says so.
 */
export const bodyLimit = (maxIngestBytes: number): number => 2 * maxIngestBytes + SLACK_BYTES;

/** A request body over the limit: answered 413 before (or while) it is read, never buffered whole. */
export class BodyTooLarge extends Error {
  constructor(readonly limit: number) {
    super(
      `Request body over the ${limit}-byte limit (twice VMEM_MAX_INGEST_BYTES plus 4 MiB); split the document into several ingest calls`,
    );
    this.name = 'BodyTooLarge';
  }
}

/** The client went away before its body ended: nobody is left to answer. */
export class ClientGone extends Error {
  constructor() {
    super('the client closed the request before its body ended');
    this.name = 'ClientGone';
  }
}

/** Reads a JSON request body of at most `limit` bytes, as `readBody` does; undefined when empty. */
export async function readJsonBody(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  limit: number,
): Promise<unknown> {
  const body = await readBody(req, res, limit);
  return body.length ? JSON.parse(body.toString('utf8')) : undefined;
}

/**
 * Reads a request body of at most `limit` bytes. A Content-Length over the limit is refused
 * before anything is read (and before `100 Continue`, so a client that waits for it never sends the
 * body); a chunked body is counted as it streams and refused the moment it passes the limit: reading
 * stops there (the socket's flow control holds the sender) and what was read is dropped.
 */
export async function readBody(req: http.IncomingMessage, res: http.ServerResponse, limit: number): Promise<Buffer> {
  if (Number(req.headers['content-length']) > limit) throw new BodyTooLarge(limit);
  if (req.headers.expect?.toLowerCase() === '100-continue') res.writeContinue();
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (err?: Error) => {
      req.off('data', onData).off('end', onEnd).off('error', done).off('close', onClose);
      if (err) reject(err);
      else resolve(Buffer.concat(chunks, size));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) return void chunks.push(chunk);
      req.pause();
      chunks.length = 0;
      done(new BodyTooLarge(limit));
    };
    const onEnd = () => done();
    const onClose = () => done(new ClientGone());
    req.on('data', onData).on('end', onEnd).on('error', done).on('close', onClose);
  });
}
