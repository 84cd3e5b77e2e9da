import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { dataDirLayout } from '../data-dir.js';
import { tryLock } from '../store/file-lock.js';
import { DEFAULT_LOCK_TTL_MS, type Locks, lockNames, type Release, runLocked, type WithLockOptions } from './locks.js';

/**
 * Locks as files in the data dir (store/file-lock.ts): shared by the processes of one machine, or of machines
 * sharing the data dir's filesystem. A lock's `ttlMs` is the age past which a waiter breaks it; a holder gone
 * from this host is broken at once.
 */
export class FileLocks implements Locks {
  readonly kind = 'files';

  /** `pathOf` maps a lock's name to its file; `tmpDir` is on the same filesystem (the lock is linked into place). */
  constructor(
    private readonly pathOf: (name: string) => string,
    private readonly tmpDir: string,
  ) {}

  /** The data dir's locks, at the paths vmem has always used (claims/<page id>, lifecycle.lock). */
  static inDataDir(dataDir: string): FileLocks {
    const layout = dataDirLayout(dataDir);
    return new FileLocks(
      (name) => (name === lockNames.lifecycle ? join(layout.root, 'lifecycle.lock') : join(layout.root, name)),
      layout.tmp,
    );
  }

  async tryClaim(name: string, ttlMs: number): Promise<Release | undefined> {
    const path = this.pathOf(name);
    await mkdir(dirname(path), { recursive: true });
    return tryLock(path, { tmpDir: this.tmpDir, staleMs: ttlMs });
  }

  withLock<T>(name: string, fn: () => Promise<T>, opts: WithLockOptions = {}): Promise<T> {
    const ttlMs = opts.ttlMs ?? DEFAULT_LOCK_TTL_MS;
    // A few milliseconds between attempts, as withFileLock has always waited: a file costs nothing to look at.
    return runLocked(name, () => this.tryClaim(name, ttlMs), fn, { waitMs: opts.waitMs, firstPollMs: 5, maxPollMs: 5 });
  }

  async close(): Promise<void> {}
}
