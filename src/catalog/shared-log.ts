import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { PageTableUnavailableError } from '../errors.js';
import { Status, type StatusListener } from '../tiers/status.js';
import type { Change } from './changes.js';

/** One change in the log: its stream id (the order every node applies it in) and the node that made it. */
export interface LogEntry {
  id: string;
  node: string;
  change: Change;
}

/** Orders two stream ids (`<ms>-<seq>`). */
export function compareIds(a: string, b: string): number {
  const [am = 0n, as = 0n] = a.split('-').map(BigInt);
  const [bm = 0n, bs = 0n] = b.split('-').map(BigInt);
  return am === bm ? Number(as - bs) : am < bm ? -1 : 1;
}

/** Before every entry. */
export const LOG_START = '0-0';

/** Entries read per request: fewer means the log's end was reached. */
export const LOG_PAGE = 500;

const newGeneration = () => `g${Date.now().toString(36)}${randomBytes(4).toString('hex')}`;

/**
 * The page table's changes on a Redis Stream, on a durable Redis every node follows (VMEM_CATALOG_URL): the
 * shared page table is this log; each node's catalog database is its copy, applying the entries in stream order.
 *
 * Keys: `<ns>:catalog:generation` names the current log, `<ns>:catalog:log:<generation>` is that log. `vmem reindex`
 * writes a new generation from L4 and then makes it current; the nodes, checking the name as they follow, start
 * their copies again from the new log. Only `vmem reindex` or the first node of an empty store creates one.
 *
 * Appends go through `client` (no offline queue: with Redis down a write fails at once, as
 * PageTableUnavailableError); following blocks on `blocking`, a connection of its own.
 */
export class SharedLog {
  readonly name = 'redis';
  private readonly status = new Status();

  private constructor(
    private readonly client: Redis,
    private readonly blocking: Redis,
    private readonly prefix: string,
    private current_: string,
    private readonly url: string,
    /** False for a generation reindex is writing: it follows no other until it is published. */
    private published: boolean,
  ) {
    const up = () => this.status.set(true);
    const down = (err?: Error) => this.status.set(false, err);
    client.on('ready', up);
    client.on('close', () => down(new Error(`the connection to ${url} closed`)));
    client.on('error', (err: Error) => {
      if (client.status !== 'ready') down(err);
    });
    if (client.status === 'ready') up();
  }

  /**
   * The current log of namespace `namespace`, or, with `fresh`, a new generation that is not current until
   * `publish()` (reindex). `undefined` when the store has no log yet and `create` is false.
   */
  static async open(
    conn: { client: Redis; blocking: Redis; url: string },
    namespace: string,
    opts: { create?: boolean; fresh?: boolean } = {},
  ): Promise<SharedLog | undefined> {
    const prefix = `${namespace}:catalog:`;
    const key = `${prefix}generation`;
    let generation: string | null | undefined;
    if (opts.fresh) generation = newGeneration();
    else {
      generation = await conn.client.get(key);
      if (!generation && opts.create) {
        // Two nodes starting an empty store at once: the first SET wins, both use its generation.
        await conn.client.set(key, newGeneration(), 'NX');
        generation = await conn.client.get(key);
      }
    }
    if (!generation) return undefined;
    return new SharedLog(conn.client, conn.blocking, prefix, generation, conn.url, !opts.fresh);
  }

  /** The generation this log writes and reads. */
  get generation(): string {
    return this.current_;
  }

  /** Follows another generation from now on (a reindex made it current). */
  follow(generation: string): void {
    this.current_ = generation;
  }

  private get logKey(): string {
    return `${this.prefix}log:${this.generation}`;
  }

  available(): boolean {
    return this.status.up;
  }

  onStatus(listener: StatusListener): () => void {
    return this.status.on(listener);
  }

  /** Appends a change; its id once Redis has it (durably, on an AOF Redis with appendfsync always). */
  async append(node: string, change: Change): Promise<string> {
    const id = await this.call(() => this.client.xadd(this.logKey, '*', 'n', node, 'c', JSON.stringify(change)));
    return id!;
  }

  /** Up to LOG_PAGE entries after `after`, in order. */
  async after(after: string): Promise<LogEntry[]> {
    const raw = await this.call(() => this.client.xrange(this.logKey, `(${after}`, '+', 'COUNT', LOG_PAGE));
    return raw.map(entryOf);
  }

  /** Waits up to `blockMs` for entries after `after` (on the blocking connection); none when the wait ran out. */
  async wait(after: string, blockMs: number): Promise<boolean> {
    const got = await this.call(() =>
      this.blocking.xread('COUNT', 1, 'BLOCK', blockMs, 'STREAMS', this.logKey, after === LOG_START ? '0' : after),
    );
    return !!got?.length;
  }

  /**
   * The generation to follow when it is not this log's (a reindex published another one); undefined otherwise, and
   * always while this log is an unpublished one.
   */
  async replaced(): Promise<string | undefined> {
    if (!this.published) return undefined;
    const current = await this.current();
    return current && current !== this.current_ ? current : undefined;
  }

  private async current(): Promise<string | undefined> {
    return (await this.call(() => this.client.get(`${this.prefix}generation`))) ?? undefined;
  }

  /** Makes this log the current one and deletes the previous (reindex, once the new log is complete). */
  async publish(): Promise<void> {
    const previous = await this.current();
    await this.call(() => this.client.set(`${this.prefix}generation`, this.generation));
    this.published = true;
    if (previous && previous !== this.generation)
      await this.call(() => this.client.del(`${this.prefix}log:${previous}`));
  }

  async close(): Promise<void> {
    this.status.clear();
    this.blocking.disconnect();
    await this.client.quit().catch(() => this.client.disconnect());
  }

  /** A Redis command, its failure an operator's problem naming the setting. */
  private async call<T>(command: () => Promise<T>): Promise<T> {
    try {
      const out = await command();
      this.status.set(true);
      return out;
    } catch (err) {
      if ((err as Error).message?.startsWith('Connection is closed') || this.client.status !== 'ready')
        this.status.set(false, err as Error);
      throw new PageTableUnavailableError(
        `the shared page table at VMEM_CATALOG_URL (${this.url}) did not answer: ${(err as Error).message}; vmem resumes when it is back`,
        { cause: err },
      );
    }
  }
}

function entryOf([id, fields]: [string, string[]]): LogEntry {
  const f = new Map<string, string>();
  for (let i = 0; i + 1 < fields.length; i += 2) f.set(fields[i]!, fields[i + 1]!);
  return { id, node: f.get('n') ?? '', change: JSON.parse(f.get('c') ?? 'null') as Change };
}
