import { type ChainableCommander, Redis } from 'ioredis';
import { type BackoffPolicy, delayOf, Retries, type Timers } from '../../backoff.js';
import { waitAtMost } from '../../deadline.js';
import { Status, type StatusListener } from '../status.js';
import type { L2Store } from './store.js';

/**
 * L2 on Redis, shared by every vmem process that points at the same server and prefix.
 *
 * This is the only module that imports `ioredis`; the pager loads it with a dynamic `import()` only
 * when a Redis URL is configured, so the embedded setup never pays for the client.
 *
 * Keys are `${prefix}page:${id}` (prefix `vmem:` by default), values are the page text as a UTF-8
 * string, each with a millisecond TTL (`SET … PX`). Several stores can share one server (or one
 * db index) by using different prefixes.
 *
 * Server configuration: run Redis with `maxmemory <bytes>` and `maxmemory-policy allkeys-lru`.
 * Every value here is a cache entry whose durable copy lives in L4, so when memory runs out Redis
 * should evict the least recently used page (what the embedded MemoryL2 does at its size bound)
 * rather than refuse writes. `noeviction` (the default policy) turns a full cache into failed
 * `SET`s (`OOM command not allowed`), which this store swallows, so L2 silently stops filling;
 * the `volatile-*` policies work only as long as every key has a TTL (ours do, but other tenants
 * of a shared server may not), so `allkeys-lru` is the one that cannot wedge. (`allkeys-lfu` is a
 * fine alternative when a few pages are hot for a long time.) Persistence (RDB/AOF) is optional:
 * a restarted, empty L2 only costs L4 reads.
 *
 * Fault tolerance: Redis being down or slow never throws out of this store and never crashes the
 * process. A failed read is a miss, a failed write is dropped, `hasMany` answers false. The
 * client reconnects by itself forever, with exponential backoff capped at `maxReconnectDelayMs`;
 * while it is disconnected commands fail at once (no offline queue) instead of piling up.
 * `available()` tells the current state and `onStatus` reports each transition once.
 */

export type RedisL2Op = 'getMany' | 'setMany' | 'hasMany' | 'deleteMany';

export interface RedisL2Options {
  /** Key namespace, so several stores can share one Redis; keys are `${prefix}page:${id}`. Default `vmem:`. */
  prefix?: string;
  /** A command not answered within this many ms fails (read: miss; write: dropped). Default 1000. */
  commandTimeoutMs?: number;
  /** Give up on one connection attempt after this many ms (then retry). Default 2000. */
  connectTimeoutMs?: number;
  /** Upper bound of the reconnect backoff. Default 2000. */
  maxReconnectDelayMs?: number;
  /** When a restart after ioredis gave up runs: the system's timers unless a test brings its own clock. */
  timers?: Timers;
  /** Registered before the first connection attempt, so the initial outcome is reported too. */
  onStatus?: StatusListener;
  /** Errors of individual commands that were swallowed (timeouts, OOM, …); connection loss goes to `onStatus`. */
  onCommandError?: (op: RedisL2Op, err: Error) => void;
}

export const DEFAULT_REDIS_PREFIX = 'vmem:';

export class RedisL2 implements L2Store {
  readonly name = 'redis';
  readonly prefix: string;
  private readonly client: Redis;
  private readonly status = new Status();
  private readonly onCommandError: RedisL2Options['onCommandError'];
  private lastError: Error | undefined;
  private closed = false;
  /** Restarts after ioredis stopped reconnecting by itself. */
  private readonly restarts: Retries<'redis'>;
  private readonly firstOutcome: Promise<void>;
  private settleFirst!: () => void;

  /**
   * Starts connecting in the background and returns at once; the store answers misses until the
   * connection is ready. Use `RedisL2.open` to wait for the first attempt. `url` is anything ioredis
   * accepts: `redis://[[user]:password@]host[:port][/db]`, `rediss://…` for TLS.
   */
  constructor(url: string, options: RedisL2Options = {}) {
    this.prefix = options.prefix ?? DEFAULT_REDIS_PREFIX;
    this.onCommandError = options.onCommandError;
    if (options.onStatus) this.status.on(options.onStatus);
    // ioredis reconnects by itself, at the delays of vmem's backoff: 50 ms, 100 ms, 200 ms, … capped.
    const backoff: BackoffPolicy = { initialMs: 50, maxMs: options.maxReconnectDelayMs ?? 2000 };
    this.restarts = new Retries({ initialMs: backoff.maxMs, maxMs: backoff.maxMs }, options.timers);
    this.firstOutcome = new Promise((resolve) => (this.settleFirst = resolve));

    this.client = new Redis(url, {
      // Listeners are attached before the first attempt; connect() is called below.
      lazyConnect: true,
      // Fail fast while disconnected: a cache miss is cheaper than a queued request.
      enableOfflineQueue: false,
      // A command in flight when the connection drops fails instead of being resent later.
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      commandTimeout: options.commandTimeoutMs ?? 1000,
      connectTimeout: options.connectTimeoutMs ?? 2000,
      // Never give up.
      retryStrategy: (times) => delayOf(backoff, times),
    });

    this.client.on('ready', () => {
      this.lastError = undefined;
      this.report(true);
    });
    // 'error' must have a listener or ioredis prints every failed attempt; keep the last one for the report.
    this.client.on('error', (err: Error) => {
      this.lastError = err;
    });
    this.client.on('close', () => this.report(false, this.lastError));
    // 'end' means ioredis stopped reconnecting (only on close() or a connector failure): keep trying.
    this.client.on('end', () => {
      this.report(false, this.lastError);
      if (!this.closed)
        this.restarts.failed('redis', () => {
          if (!this.closed && this.client.status === 'end') this.client.connect().catch(() => {});
        });
    });
    this.client.connect().catch(() => {});
  }

  /** Creates the store and waits (at most `waitMs`, default the connect timeout) for the first connection attempt to settle. Never rejects. */
  static async open(url: string, options: RedisL2Options & { waitMs?: number } = {}): Promise<RedisL2> {
    const store = new RedisL2(url, options);
    await store.whenSettled(options.waitMs ?? options.connectTimeoutMs ?? 2000);
    return store;
  }

  /** Resolves true once connected, false when the first attempt failed or `timeoutMs` passed. */
  async whenSettled(timeoutMs: number): Promise<boolean> {
    await waitAtMost(this.firstOutcome, timeoutMs);
    return this.available();
  }

  /** True while the connection is up and commands are being sent. */
  available(): boolean {
    return !this.closed && this.client.status === 'ready';
  }

  /** Subscribes to up/down transitions (each reported once, not per retry); returns the unsubscribe function. */
  onStatus(cb: StatusListener): () => void {
    return this.status.on(cb);
  }

  key(id: string): string {
    return `${this.prefix}page:${id}`;
  }

  async getMany(ids: string[], ttlSeconds?: number): Promise<(string | undefined)[]> {
    const misses = (): undefined[] => ids.map(() => undefined);
    if (ids.length === 0 || !this.available()) return misses();
    try {
      if (ttlSeconds === undefined) {
        const values = await this.client.mget(ids.map((id) => this.key(id)));
        return ids.map((_, i) => values[i] ?? undefined);
      }
      // GETEX reads and resets the TTL in one command; a pipeline of them is one round trip. A separate
      // PEXPIRE after the read would cost a second write to the socket on every hit.
      const ttlMs = toMillis(ttlSeconds);
      if (ids.length === 1 && ttlMs !== undefined && ttlMs > 0) {
        // The common case (one page), without a pipeline's bookkeeping.
        return [(await this.client.getex(this.key(ids[0]!), 'PX', ttlMs)) ?? undefined];
      }
      const pipeline = this.client.pipeline();
      for (const id of ids) {
        const key = this.key(id);
        if (ttlMs === undefined) pipeline.getex(key, 'PERSIST');
        else if (ttlMs <= 0)
          pipeline.getdel(key); // already expired, as in MemoryL2
        else pipeline.getex(key, 'PX', ttlMs);
      }
      const results = (await pipeline.exec()) ?? [];
      const failed = results.find(([err]) => err);
      if (failed?.[0]) this.commandFailed('getMany', failed[0]);
      return ids.map((_, i) =>
        results[i] && !results[i][0] && typeof results[i][1] === 'string' ? results[i][1] : undefined,
      );
    } catch (err) {
      this.commandFailed('getMany', err);
      return misses();
    }
  }

  async setMany(entries: { id: string; value: string }[], ttlSeconds: number): Promise<void> {
    if (entries.length === 0 || !this.available()) return;
    const ttlMs = toMillis(ttlSeconds);
    const pipeline = this.client.pipeline();
    for (const { id, value } of entries) {
      const key = this.key(id);
      if (ttlMs === undefined) pipeline.set(key, value);
      else if (ttlMs <= 0)
        pipeline.del(key); // already expired, as in MemoryL2
      else pipeline.set(key, value, 'PX', ttlMs);
    }
    await this.runPipeline('setMany', pipeline);
  }

  async hasMany(ids: string[]): Promise<boolean[]> {
    const none = (): boolean[] => ids.map(() => false);
    if (ids.length === 0 || !this.available()) return none();
    // EXISTS with several keys only counts them: one EXISTS per key, all in one pipeline.
    const pipeline = this.client.pipeline();
    for (const id of ids) pipeline.exists(this.key(id));
    try {
      const results = (await pipeline.exec()) ?? [];
      const failed = results.find(([err]) => err);
      if (failed?.[0]) this.commandFailed('hasMany', failed[0]);
      return ids.map((_, i) => !results[i]?.[0] && results[i]?.[1] === 1);
    } catch (err) {
      this.commandFailed('hasMany', err);
      return none();
    }
  }

  async deleteMany(ids: string[]): Promise<void> {
    if (ids.length === 0 || !this.available()) return;
    const pipeline = this.client.pipeline();
    for (const id of ids) pipeline.del(this.key(id));
    await this.runPipeline('deleteMany', pipeline);
  }

  /** Closes the connection and stops reconnecting; idempotent. The keys stay in Redis. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.restarts.cancel();
    this.status.clear();
    if (this.client.status === 'ready') {
      await waitAtMost(this.client.quit(), 1000);
    }
    this.client.disconnect();
    this.settleFirst();
  }

  private async runPipeline(op: RedisL2Op, pipeline: ChainableCommander): Promise<void> {
    try {
      const results = await pipeline.exec();
      const failed = results?.find(([err]) => err);
      if (failed?.[0]) this.commandFailed(op, failed[0]);
    } catch (err) {
      this.commandFailed(op, err);
    }
  }

  private commandFailed(op: RedisL2Op, err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err));
    try {
      this.onCommandError?.(op, error);
    } catch {
      // a throwing callback must not turn a miss into an exception
    }
  }

  private report(up: boolean, err?: Error): void {
    this.settleFirst();
    if (!this.closed) this.status.set(up, err);
  }
}

/** TTL in whole milliseconds: undefined for no expiry (Infinity), 0 for already expired (≤ 0, NaN). */
function toMillis(ttlSeconds: number): number | undefined {
  if (ttlSeconds === Infinity) return undefined;
  if (!(ttlSeconds > 0)) return 0;
  return Math.ceil(ttlSeconds * 1000);
}
