import { createHash, randomBytes } from 'node:crypto';
import { access, mkdir, open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { dataDirLayout } from '../data-dir.js';

/** This machine's name, as locks record it: a pid means something only on the host that issued it. */
export const HOST = hostname();
/** This host in temp file names (host names may hold characters file names should not). */
const HOST_TAG = createHash('sha256').update(HOST).digest('hex').slice(0, 8);
/** A temp file older than this belongs to no live write, whatever its pid says (pid reuse, another host). */
const TEMP_MAX_AGE_MS = 3_600_000;
const TEMP_NAME = /^(\d+)\.([0-9a-f]{8})\.[0-9a-f]+\.tmp$/;

/** The data dir's directory for temp files: on the store's filesystem, so a rename or link out of it is atomic. */
export function tempDirOf(dataDir: string): string {
  return dataDirLayout(dataDir).tmp;
}

/** Whether a process of this host is running (a zombie counts as running until it is reaped). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** A new temp file path in `tmpDir`, named after its writer (pid and host), so that a sweep can tell a crashed writer's. */
export function tempPath(tmpDir: string): string {
  return join(tmpDir, `${process.pid}.${HOST_TAG}.${randomBytes(6).toString('hex')}.tmp`);
}

/** Writes a new file at `path` (creating its directory), for a write that a rename or link then publishes. */
export async function writeNew(path: string, data: string, sync: boolean): Promise<void> {
  const fh = await open(path, 'wx').catch(async (err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
    await mkdir(dirname(path), { recursive: true });
    return open(path, 'wx');
  });
  try {
    await fh.writeFile(data, 'utf8');
    if (sync) await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Writes a file so that readers see the old content or the new, never a torn one, even across a
 * crash: write a temp file in `tmpDir` (same filesystem), fsync, rename over, fsync the directory (so that
 * the rename itself survives a power loss). A crash leaves at worst the temp file, which `sweepTemp` removes.
 */
export async function writeFileAtomic(
  path: string,
  data: string,
  tmpDir: string,
  opts: { syncDir?: boolean } = {},
): Promise<void> {
  const tmp = tempPath(tmpDir);
  try {
    await writeNew(tmp, data, true);
    await rename(tmp, path).catch(async (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
      await mkdir(dirname(path), { recursive: true });
      await rename(tmp, path);
    });
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
  // A writer of many files in a few directories passes false and syncs each directory once (`syncDir`).
  if (opts.syncDir !== false) await syncDir(dirname(path));
}

/** Makes a directory's entries (a rename into it) durable. Platforms that cannot open a directory (Windows) skip it. */
export async function syncDir(dir: string): Promise<void> {
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(dir, 'r');
  } catch (err) {
    if (['EISDIR', 'EPERM', 'EACCES'].includes((err as NodeJS.ErrnoException).code ?? '')) return;
    throw err;
  }
  try {
    await fh.sync();
  } catch (err) {
    // Some filesystems refuse fsync on a directory; the rename is then as durable as they make it.
    if (!['EINVAL', 'EPERM', 'EBADF'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err;
  } finally {
    await fh.close();
  }
}

/**
 * Removes the temp files crashed writers left in `tmpDir`: those of a pid no longer running on this
 * host, and any older than an hour. Lists that one directory only, so it costs the same however
 * large the store is. Returns how many it removed.
 */
export async function sweepTemp(tmpDir: string, now: () => number = Date.now): Promise<number> {
  const names = await readdir(tmpDir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [] as string[];
    throw err;
  });
  let removed = 0;
  for (const name of names) {
    const m = TEMP_NAME.exec(name);
    const path = join(tmpDir, name);
    let stale = !!m && m[2] === HOST_TAG && !isAlive(Number(m[1]));
    if (!stale) stale = now() - ((await stat(path).catch(() => undefined))?.mtimeMs ?? now()) > TEMP_MAX_AGE_MS;
    // Another process sweeping at the same time may have removed it first: either way it is gone.
    if (
      stale &&
      (await unlink(path).then(
        () => true,
        () => false,
      ))
    )
      removed++;
  }
  return removed;
}

/** The file's text, or undefined if it does not exist. */
export async function readFileIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Whether `path` exists (any error reading it counts as no). */
export const exists = (path: string): Promise<boolean> =>
  access(path).then(
    () => true,
    () => false,
  );
