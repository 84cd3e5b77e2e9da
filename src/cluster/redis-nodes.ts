import { Redis } from 'ioredis';
import { type BackoffPolicy, delayOf } from '../backoff.js';
import { waitAtMost } from '../deadline.js';
import { ConfigError } from '../errors.js';
import { Status, type StatusListener } from '../tiers/status.js';
import { type NodeDirectory, newNodeId } from './nodes.js';

export interface RedisNodeDirectoryOptions {
  /** Keys are `${prefix}${nodeId}`, holding the node's origin. */
  prefix: string;
  /** An announcement not renewed within this lapses: a node that died without leaving is gone after it. Default 15000. */
  ttlMs?: number;
  /** How often the announcement is renewed. Default a third of `ttlMs`, so two renewals may fail in a row. */
  heartbeatMs?: number;
  /** How long a looked-up origin is used without asking Redis again. Default 2000. */
  cacheMs?: number;
  /** This node's id when the operator names it (VMEM_NODE_ID); default a random one. */
  nodeId?: string;
  /** The setting that names it, for the message when another live server holds the id. */
  nodeIdSetting?: string;
}

/**
 * The node directory as one key per live node on the catalog Redis, `SET … PX` renewed by a heartbeat and
 * deleted on close. Lookups are cached briefly, so a forwarded request costs no Redis round trip, and a cached
 * origin keeps serving while Redis is briefly away. Like L2, Redis being down never throws out of the
 * heartbeat: the connection retries forever and the announcement is renewed once it is back.
 */
export class RedisNodeDirectory implements NodeDirectory {
  readonly name = 'redis';
  readonly nodeId: string;
  private readonly client: Redis;
  private readonly status = new Status();
  private readonly ttlMs: number;
  private readonly heartbeatMs: number;
  private readonly cacheMs: number;
  private readonly cache = new Map<string, { url: string; at: number }>();
  private heartbeat: NodeJS.Timeout | undefined;
  private url: string | undefined;
  private closed = false;

  private constructor(
    redisUrl: string,
    private readonly options: RedisNodeDirectoryOptions,
  ) {
    this.nodeId = options.nodeId ?? newNodeId();
    this.ttlMs = options.ttlMs ?? 15_000;
    this.heartbeatMs = options.heartbeatMs ?? Math.floor(this.ttlMs / 3);
    this.cacheMs = options.cacheMs ?? 2000;
    const backoff: BackoffPolicy = { initialMs: 50, maxMs: 2000 };
    this.client = new Redis(redisUrl, {
      lazyConnect: true,
      // A lookup while disconnected fails at once: the caller answers from its cache or says so.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: 1000,
      connectTimeout: 2000,
      retryStrategy: (times) => delayOf(backoff, times),
    });
    this.client.on('ready', () => {
      this.status.set(true);
      // Back after an outage: the announcement may have lapsed meanwhile.
      void this.announce();
    });
    this.client.on('error', () => {});
    this.client.on('close', () => this.status.set(false));
  }

  /** Connects, waiting at most 2 s for the first attempt; an unreachable Redis is reported, not thrown. */
  static async open(redisUrl: string, options: RedisNodeDirectoryOptions): Promise<RedisNodeDirectory> {
    const dir = new RedisNodeDirectory(redisUrl, options);
    await waitAtMost(
      dir.client.connect().catch(() => dir.status.set(false)),
      2000,
    );
    return dir;
  }

  private key(nodeId: string): string {
    return `${this.options.prefix}${nodeId}`;
  }

  available(): boolean {
    return !this.closed && this.client.status === 'ready';
  }

  onStatus(listener: StatusListener): () => void {
    return this.status.on(listener);
  }

  async join(url: string): Promise<void> {
    // A name the operator chose may be taken: two live servers with one id would each answer 404 for the
    // other's sessions. A random one is not (72 bits); a server restarted at its own address takes its id back.
    if (this.options.nodeId && this.available()) {
      const key = this.key(this.nodeId);
      const claimed = await this.client.set(key, url, 'PX', this.ttlMs, 'NX').catch(() => 'OK');
      const holder = claimed === 'OK' ? url : await this.client.get(key).catch(() => url);
      if (holder !== null && holder !== url)
        throw new ConfigError(
          `${this.options.nodeIdSetting ?? 'the node id'} is ${this.nodeId}, which the live server at ${holder} has: give each server its own (or wait ${Math.ceil(this.ttlMs / 1000)} s if that server was stopped without closing)`,
        );
    }
    this.url = url;
    await this.announce();
    this.heartbeat = setInterval(() => void this.announce(), this.heartbeatMs);
    this.heartbeat.unref();
  }

  private async announce(): Promise<void> {
    if (!this.url || this.closed || !this.available()) return;
    await this.client.set(this.key(this.nodeId), this.url, 'PX', this.ttlMs).catch(() => {});
  }

  async lookup(nodeId: string): Promise<string | undefined> {
    if (nodeId === this.nodeId) return this.url;
    const cached = this.cache.get(nodeId);
    if (cached && Date.now() - cached.at < this.cacheMs) return cached.url;
    let url: string | null;
    try {
      url = await this.client.get(this.key(nodeId));
    } catch (err) {
      if (cached) return cached.url;
      throw err;
    }
    if (url === null) this.cache.delete(nodeId);
    else this.cache.set(nodeId, { url, at: Date.now() });
    return url ?? undefined;
  }

  unreachable(nodeId: string): void {
    this.cache.delete(nodeId);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    clearInterval(this.heartbeat);
    // Leave at once rather than at the TTL: requests for this node's sessions get 404 from then on.
    if (this.url && this.available()) await this.client.del(this.key(this.nodeId)).catch(() => {});
    this.closed = true;
    this.status.clear();
    this.client.disconnect();
  }
}
