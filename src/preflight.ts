import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Config, settingName } from './config.js';
import { ConfigError } from './errors.js';

/** What an OS error means for a path the user chose, and what to do about it. */
const PATH_PROBLEMS: Record<string, string> = {
  EACCES: 'permission denied; choose a writable directory',
  EPERM: 'permission denied; choose a writable directory',
  EROFS: 'the file system is read-only; choose a writable directory',
  ENOTDIR: 'a part of the path is a file, not a directory; choose a directory',
  EEXIST: 'it is a file, not a directory; choose a directory',
  ENOSPC: 'no space left on the device; free some, or choose a directory on another device',
  ENAMETOOLONG: 'the path is too long; choose a shorter one',
  ELOOP: 'the path has a symbolic link loop; choose a directory without one',
};

/** What a failed listen means, which setting to change, and how. */
const LISTEN_PROBLEMS: Record<string, { key: keyof Config; problem: string }> = {
  EADDRINUSE: {
    key: 'httpPort',
    problem: 'the address is in use (another vmem, or another server); choose another port, or 0 for any free one',
  },
  EACCES: {
    key: 'httpPort',
    problem: 'permission denied (ports below 1024 need privileges); choose a port above 1023',
  },
  EADDRNOTAVAIL: {
    key: 'httpHost',
    problem: 'no network interface of this machine has that address; choose one of its addresses, or 127.0.0.1',
  },
  ENOTFOUND: {
    key: 'httpHost',
    problem: 'the host name does not resolve; choose an address of this machine, or 127.0.0.1',
  },
};

const codeOf = (err: unknown): string | undefined => (err as NodeJS.ErrnoException | undefined)?.code;

/** The user's problem as a ConfigError (one line naming the data dir setting), or undefined for any other failure. */
export function dataDirError(err: unknown, dir: string): ConfigError | undefined {
  const problem = PATH_PROBLEMS[codeOf(err) ?? ''];
  return problem
    ? new ConfigError(`cannot write the data dir ${dir} (${settingName('dataDir')}): ${problem}`, { cause: err })
    : undefined;
}

/** The user's problem as a ConfigError (one line naming --host or --port), or undefined for any other failure. */
export function listenError(err: unknown, host: string, port: number): ConfigError | undefined {
  const known = LISTEN_PROBLEMS[codeOf(err) ?? ''];
  return known
    ? new ConfigError(`cannot listen on ${host}:${port} (${settingName(known.key)}): ${known.problem}`, { cause: err })
    : undefined;
}

/**
 * Makes the data dir if needed and writes and removes a file in it, so that a directory vmem cannot
 * use stops it at start with the fix, rather than failing the first ingest with a stack trace. A
 * write is tried, not access(): it fails exactly as the store's own writes would.
 */
export async function checkDataDir(dir: string): Promise<void> {
  const probe = join(dir, `.vmem-write-check-${process.pid}`);
  try {
    await mkdir(dir, { recursive: true });
    await writeFile(probe, '');
    await rm(probe, { force: true });
  } catch (err) {
    throw dataDirError(err, dir) ?? err;
  }
}
