import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** A lock held longer than this is taken to belong to a crashed process. */
const STALE_MS = 30_000;
const RETRY_MS = 5;

/**
 * Runs `fn` holding a lock shared by every process on this machine that uses the same path:
 * mkdir is atomic, so exactly one process creates the lock directory. A lock left by a crashed
 * process (its pid gone, or older than STALE_MS) is broken.
 */
export async function withFileLock<T>(path: string, fn: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      await mkdir(path);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (await isStale(path)) await rm(path, { recursive: true, force: true });
      else await new Promise((r) => setTimeout(r, RETRY_MS));
    }
  }
  try {
    await writeFile(join(path, 'owner'), String(process.pid)).catch(() => {});
    return await fn();
  } finally {
    await rm(path, { recursive: true, force: true });
  }
}

async function isStale(path: string): Promise<boolean> {
  const info = await stat(path).catch(() => undefined);
  if (!info) return false;
  if (Date.now() - info.mtimeMs > STALE_MS) return true;
  const pid = Number(await readFile(join(path, 'owner'), 'utf8').catch(() => ''));
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
