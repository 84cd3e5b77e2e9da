/**
 * Coordination between the vmem processes sharing one store: summary claims (a page is summarized by one
 * process) and the lifecycle lock (a purge and the revival of pages it dropped never interleave). Two
 * implementations: files in the data dir (processes on one machine: FileLocks) and keys on the durable Redis
 * of VMEM_CATALOG_URL (machines apart: RedisLocks). wiring.ts picks one.
 */

/** Gives up a claim or lock. Never throws: a holding it could not remove expires on its own. */
export type Release = () => Promise<void>;

export interface WithLockOptions {
  /** How long to wait for the lock before failing; default as long as it is held. */
  waitMs?: number;
  /** A holder silent this long loses the lock (see Locks.tryClaim); default DEFAULT_LOCK_TTL_MS. */
  ttlMs?: number;
}

export interface Locks {
  /** Where the locks live, for messages and `vmem stats`. */
  readonly kind: 'files' | 'redis';
  /**
   * Takes the lock `name` without waiting: its release, or undefined while another process holds it. A holder
   * that dies without releasing loses it `ttlMs` after it was last known alive (on Redis, a live holder renews
   * it; a file lock is not renewed, so a holder past `ttlMs` may lose it: choose `ttlMs` above the longest holding).
   */
  tryClaim(name: string, ttlMs: number): Promise<Release | undefined>;
  /** Runs `fn` holding the lock `name`, waiting for it while another holds it. */
  withLock<T>(name: string, fn: () => Promise<T>, opts?: WithLockOptions): Promise<T>;
  /** Stops renewing what this process holds and closes what it opened; idempotent. */
  close(): Promise<void>;
}

/** The names vmem locks, in one place, so files and Redis keys name the same things. */
export const lockNames = {
  /** A page being summarized. */
  claim: (pageId: string) => `claims/${pageId}`,
  /** Purges (forget, gc) and the revival of pages they dropped. */
  lifecycle: 'lifecycle',
} as const;

/** A holder this long silent is presumed gone: 30 s, as the file locks have always used. */
export const DEFAULT_LOCK_TTL_MS = 30_000;

/** The lock was still held when the caller's `waitMs` ran out. */
export class LockTimeoutError extends Error {
  override name = 'LockTimeoutError';
}

/**
 * `withLock` over any `tryClaim`: polls, from `firstPollMs` doubling up to `maxPollMs` (a lock on a server is
 * not worth a round trip every few milliseconds), then runs `fn` and releases whatever it does.
 */
export async function runLocked<T>(
  name: string,
  tryClaim: () => Promise<Release | undefined>,
  fn: () => Promise<T>,
  opts: { waitMs?: number; firstPollMs: number; maxPollMs: number },
): Promise<T> {
  const deadline = opts.waitMs === undefined ? Infinity : Date.now() + opts.waitMs;
  let release: Release | undefined;
  for (let poll = opts.firstPollMs; !(release = await tryClaim()); poll = Math.min(poll * 2, opts.maxPollMs)) {
    if (Date.now() >= deadline)
      throw new LockTimeoutError(`the lock ${name} was still held by another vmem process after ${opts.waitMs} ms`);
    await new Promise((r) => setTimeout(r, poll));
  }
  try {
    return await fn();
  } finally {
    await release();
  }
}
