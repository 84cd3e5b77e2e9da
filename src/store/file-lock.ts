import { createHash, randomBytes } from 'node:crypto';
import { link, readFile, rm, stat, unlink } from 'node:fs/promises';
import { HOST, isAlive, tempPath, writeNew } from './atomic-file.js';

/** A lock older than this is broken even if its holder may be alive (a pid reused, a holder on another host). */
const STALE_MS = 30_000;
const RETRY_MS = 5;

export interface LockOptions {
  /** Where the lock is written before it is linked into place: a directory on the lock's filesystem. */
  tmpDir: string;
  /** Age past which a lock is broken whoever holds it; 30 s by default. */
  staleMs?: number;
  /** Epoch milliseconds; injectable for tests. */
  now?: () => number;
  /**
   * For tests that race waiters: awaited when this waiter has judged a lock stale (`judged`), and when,
   * holding its breaker, it has found the lock still the one it judged and is about to remove it (`removing`).
   */
  pause?: (at: 'judged' | 'removing') => Promise<void>;
}

/** What a lock file says: who holds it, and since when. The nonce tells one holding from any other. */
interface Owner {
  pid: number;
  host: string;
  nonce: string;
  at: number;
}

/** A lock as a waiter found it: `key` names this very holding (its nonce, or for an unreadable lock, its file). */
interface Seen {
  key: string;
  owner?: Owner;
  ageMs: number;
  /** A directory, as vmem's earlier locks were. */
  dir?: boolean;
}

const hex = (...parts: (string | number)[]) => createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, 16);

function parseOwner(raw: string): Owner | undefined {
  try {
    const o = JSON.parse(raw) as Partial<Owner>;
    if (
      typeof o.pid === 'number' &&
      typeof o.host === 'string' &&
      typeof o.nonce === 'string' &&
      /^[0-9a-f]{16}$/.test(o.nonce) &&
      typeof o.at === 'number'
    )
      return o as Owner;
  } catch {
    // not a lock this vmem wrote, or torn by a power loss: judged by its age alone
  }
  return undefined;
}

/** Creates the lock holding a new owner record, or returns undefined when it exists. It never exists without its owner. */
async function place(path: string, opts: LockOptions): Promise<Owner | undefined> {
  const owner: Owner = {
    pid: process.pid,
    host: HOST,
    nonce: randomBytes(8).toString('hex'),
    at: (opts.now ?? Date.now)(),
  };
  const tmp = tempPath(opts.tmpDir);
  await writeNew(tmp, JSON.stringify(owner), false);
  try {
    // link() publishes the complete file, or fails with EEXIST when the lock is held.
    await link(tmp, path);
    return owner;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return undefined;
    throw err;
  } finally {
    await unlink(tmp).catch(() => {});
  }
}

/** The lock at `path` as it is now, or undefined when there is none. */
async function inspect(path: string, now: number): Promise<Seen | undefined> {
  let raw: string;
  try {
    raw = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code !== 'EISDIR') throw err;
    const info = await stat(path).catch(() => undefined);
    return info && { key: hex('dir', info.ino, info.mtimeMs), ageMs: now - info.mtimeMs, dir: true };
  }
  const owner = parseOwner(raw);
  if (owner) return { key: owner.nonce, owner, ageMs: now - owner.at };
  const info = await stat(path).catch(() => undefined);
  return info && { key: hex(raw, info.ino, info.mtimeMs), ageMs: now - info.mtimeMs };
}

/** A holder gone from this host leaves a lock that is broken at once; any other lock only past `staleMs`. */
function isStale(seen: Seen, staleMs: number): boolean {
  if (seen.ageMs > staleMs) return true;
  return seen.owner?.host === HOST && !isAlive(seen.owner.pid);
}

/** The breaker of one holding of the lock at `path`: whoever removes that holding (its holder or a waiter) holds it. */
const breakerPath = (path: string, key: string) => `${path}.${key}.break`;

/**
 * Removes the stale lock `seen`, unless another waiter is already doing so. Two waiters that both judged it
 * stale must not both remove it: the second would remove the lock the first has just taken. So the remover
 * first takes a breaker, a lock named after this very holding; the lock is removed only if it still is that
 * holding, and the holder releasing it takes the same breaker. A breaker left by a crashed remover is itself
 * stale, and broken the same way.
 */
async function breakLock(path: string, seen: Seen, opts: LockOptions): Promise<void> {
  const release = await acquire(breakerPath(path, seen.key), { ...opts, pause: undefined }, false);
  if (!release) return;
  try {
    const now = await inspect(path, (opts.now ?? Date.now)());
    if (now?.key !== seen.key) return;
    await opts.pause?.('removing');
    if (seen.dir) await rm(path, { recursive: true, force: true });
    else await unlink(path).catch(() => {});
  } finally {
    await release();
  }
}

/**
 * Takes the lock at `path` without waiting, breaking it first if its holder is gone: returns its release,
 * or undefined while another holds it. The lock is a file created complete (pid, host, nonce, time) by
 * link(), so it is never seen without its owner. A holder that outlives `staleMs` may lose its lock.
 */
export function tryLock(path: string, opts: LockOptions): Promise<(() => Promise<void>) | undefined> {
  return acquire(path, opts, true);
}

/** `tryLock`; a breaker's own release (`guarded` false) takes no breaker, or every release would need one more. */
async function acquire(path: string, opts: LockOptions, guarded: boolean): Promise<(() => Promise<void>) | undefined> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const mine = await place(path, opts);
    if (mine) {
      // The holder removes its lock under the same breaker as a waiter that judged it stale, so that a
      // waiter never finds it still in place and then removes the next holder's lock instead.
      const remove = async () => {
        const seen = await inspect(path, (opts.now ?? Date.now)()).catch(() => undefined);
        if (seen?.key === mine.nonce) await unlink(path).catch(() => {});
      };
      if (!guarded) return remove;
      return async () => {
        const release = await acquire(breakerPath(path, mine.nonce), { ...opts, pause: undefined }, false);
        if (!release) return; // a waiter is breaking it
        try {
          await remove();
        } finally {
          await release();
        }
      };
    }
    const seen = await inspect(path, (opts.now ?? Date.now)());
    if (!seen) continue; // released meanwhile
    if (!isStale(seen, opts.staleMs ?? STALE_MS)) return undefined;
    await opts.pause?.('judged');
    await breakLock(path, seen, opts);
  }
  return undefined;
}

/** Runs `fn` holding the lock at `path`, shared by every process using that path, waiting for it as long as it is held. */
export async function withFileLock<T>(path: string, fn: () => Promise<T>, opts: LockOptions): Promise<T> {
  let release: (() => Promise<void>) | undefined;
  while (!(release = await tryLock(path, opts))) await new Promise((r) => setTimeout(r, RETRY_MS));
  try {
    return await fn();
  } finally {
    await release();
  }
}
