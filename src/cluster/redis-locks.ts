import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { PageTableUnavailableError } from '../errors.js';
import { DEFAULT_LOCK_TTL_MS, type Locks, type Release, runLocked, type WithLockOptions } from './locks.js';

/** Deletes the lock only if it is still this holding's: a holder whose lock expired must not free the next holder's. */
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;
/** Extends the lock only if it is still this holding's. */
const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;

export interface RedisLocksOptions {
  /** Keys are `${namespace}:locks:${name}`, beside the rest of the namespace's keys. */
  namespace: string;
  /** How errors name the server, e.g. "the Redis at redis://catalog:6379 (VMEM_CATALOG_URL / --catalog-url)". */
  describe: string;
  /** Whether close() closes the client (true when the locks opened it for themselves). */
  ownsClient?: boolean;
}

/**
 * Locks on the durable Redis of VMEM_CATALOG_URL, shared by vmem servers on any machine: a lock is a key set
 * with `SET key token NX PX ttl`, holding a random token that only its holder knows. The holder renews it every
 * third of its TTL (compare-and-expire) for as long as it holds it, so a long purge or compression keeps it,
 * while a crashed holder's lock expires within one TTL. Release is compare-and-delete (a Lua script), so a
 * holder whose lock expired meanwhile never deletes the next holder's. The instance must be noeviction
 * (openDurableRedis checks): a volatile-* policy would evict held locks, which have a TTL.
 *
 * Redis unreachable: taking a lock fails with a PageTableUnavailableError (the summarizer retries later, a
 * forget reports it); a release or renewal that fails is left to the TTL.
 */
export class RedisLocks implements Locks {
  readonly kind = 'redis';
  /** Renewal timers of what this process holds, stopped on release or close. */
  private readonly held = new Set<NodeJS.Timeout>();
  private closed = false;

  constructor(
    private readonly client: Redis,
    private readonly opts: RedisLocksOptions,
  ) {}

  key(name: string): string {
    return `${this.opts.namespace}:locks:${name}`;
  }

  async tryClaim(name: string, ttlMs: number): Promise<Release | undefined> {
    const key = this.key(name);
    const token = randomBytes(16).toString('hex');
    const ttl = Math.max(1, Math.ceil(ttlMs));
    let taken: string | null;
    try {
      taken = await this.client.set(key, token, 'PX', ttl, 'NX');
    } catch (err) {
      throw new PageTableUnavailableError(
        `cannot take the lock ${name}: ${this.opts.describe} did not answer (${(err as Error).message})`,
        { cause: err },
      );
    }
    if (taken !== 'OK') return undefined;
    const timer = setInterval(
      () => {
        this.client.eval(RENEW, 1, key, token, String(ttl)).then(
          (renewed) => {
            // Lost (expired while Redis was unreachable, and maybe taken by another): renewing is pointless.
            if (renewed === 0) this.stop(timer);
          },
          () => {}, // Redis unreachable: try again at the next tick, while the TTL lasts
        );
      },
      Math.max(1, Math.floor(ttl / 3)),
    );
    // A held lock must not keep the process alive; a process that exits lets it expire.
    timer.unref();
    this.held.add(timer);
    let released = false;
    return async () => {
      if (released) return;
      released = true;
      this.stop(timer);
      await this.client.eval(RELEASE, 1, key, token).catch(() => {}); // unreachable: it expires on its TTL
    };
  }

  withLock<T>(name: string, fn: () => Promise<T>, opts: WithLockOptions = {}): Promise<T> {
    const ttlMs = opts.ttlMs ?? DEFAULT_LOCK_TTL_MS;
    return runLocked(name, () => this.tryClaim(name, ttlMs), fn, {
      waitMs: opts.waitMs,
      firstPollMs: 10,
      maxPollMs: 250,
    });
  }

  /** Stops renewing (what is held expires on its TTL) and closes the client if it is the locks' own. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.held) clearInterval(timer);
    this.held.clear();
    if (!this.opts.ownsClient) return;
    await Promise.race([this.client.quit().catch(() => {}), new Promise((r) => setTimeout(r, 1000).unref())]);
    this.client.disconnect();
  }

  private stop(timer: NodeJS.Timeout): void {
    clearInterval(timer);
    this.held.delete(timer);
  }
}
