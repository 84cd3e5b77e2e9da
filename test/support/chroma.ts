/**
 * A throwaway Chroma server for tests.
 *
 * startChroma(): uses VMEM_TEST_CHROMA_URL when set; otherwise starts scripts/chroma-server.sh (the
 * server shipped in the chromadb npm package) on a free loopback port with a temp data dir. When it
 * cannot start it throws when CI=true (a missing service is a failure there) and returns undefined
 * elsewhere, so the caller can skip visibly. The server is killed (its whole process group) by stop(),
 * and with SIGKILL on process exit as a backstop: a leftover one has been seen spinning a CPU for an hour.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fetchEnv, NOT_FETCHED, notFetched } from './fetch.ts';
import { captureOutput } from './process.ts';
import { freePort, sleep } from './redis.ts';

export interface TestChroma {
  url: string;
  /** True for VMEM_TEST_CHROMA_URL: not ours to stop. */
  external: boolean;
  port: number;
  pid?: number;
  /** Stops the server this helper started (no-op for an external one); idempotent. */
  stop(): Promise<void>;
}

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SCRIPT = join(ROOT, 'scripts', 'chroma-server.sh');
const CLI = join(ROOT, 'node_modules', 'chromadb', 'dist', 'cli.mjs');

/** Why startChroma() returned undefined; tests skip with this. */
export let CHROMA_MISSING = 'the chromadb package is not installed (npm install), and VMEM_TEST_CHROMA_URL is not set';

/** The first start may fetch a newer glibc with apt (see scripts/chroma-server.sh): allow for it. */
const START_TIMEOUT_MS = 90_000;

export interface StartChromaOptions {
  /** Port to bind (to restart on the same port); default a free one. */
  port?: number;
  /** Where the server keeps its data (kept by stop(), to restart on it); default a temp dir removed by stop(). */
  dataDir?: string;
  /** Ignore VMEM_TEST_CHROMA_URL and start a server of our own (for tests that stop it). */
  ownServer?: boolean;
}

export async function startChroma(options: StartChromaOptions = {}): Promise<TestChroma | undefined> {
  const external = process.env.VMEM_TEST_CHROMA_URL;
  if (external && !options.ownServer)
    return { url: external, external: true, port: Number(new URL(external).port), stop: async () => {} };
  let problem: string | undefined;
  if (!existsSync(CLI)) problem = CHROMA_MISSING;
  else {
    try {
      return await spawnChroma(options.port ?? (await freePort()), options.dataDir);
    } catch (err) {
      problem = err instanceof NotFetched ? err.message : `the Chroma server did not start: ${(err as Error).message}`;
    }
  }
  if (process.env.CI === 'true')
    throw new Error(`CI=true but ${problem}: the Chroma tests cannot run, so this run fails`);
  CHROMA_MISSING = problem;
  return undefined;
}

async function spawnChroma(port: number, dataDir?: string): Promise<TestChroma> {
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), 'vmem-chroma-'));
  // detached: its own process group, so stop() can kill the script and everything it started at once.
  const child = spawn(SCRIPT, [join(dir, 'data'), String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
    env: fetchEnv(),
  });
  const { output, exited } = captureOutput(child);
  const killGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // already gone
    }
  };
  const cleanupOnExit = () => killGroup('SIGKILL');
  process.once('exit', cleanupOnExit);
  // 'exit' does not fire when a signal ends the process (the runner's timeout, Ctrl-C): kill the server,
  // then die of the same signal as we would have without this handler.
  const onSignal = (signal: NodeJS.Signals) => {
    killGroup('SIGKILL');
    removeSignalHandlers();
    process.kill(process.pid, signal);
  };
  const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  const removeSignalHandlers = () => SIGNALS.forEach((s) => process.removeListener(s, onSignal));
  SIGNALS.forEach((s) => process.once(s, onSignal));
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await killChild(child, exited, killGroup);
    process.removeListener('exit', cleanupOnExit);
    removeSignalHandlers();
    if (!dataDir) rmSync(dir, { recursive: true, force: true });
  };

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (true) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await stop();
      if (child.exitCode === NOT_FETCHED) throw new NotFetched(notFetched(output()));
      throw new Error(`chroma-server.sh exited early (port ${port}):\n${output().slice(-4000)}`);
    }
    try {
      const res = await fetch(`${url}/api/v2/heartbeat`, { signal: AbortSignal.timeout(1000) });
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(
        `Chroma on port ${port} did not answer its heartbeat within ${START_TIMEOUT_MS / 1000} s:\n${output().slice(-4000)}`,
      );
    }
    await sleep(100);
  }
  return { url, external: false, port, pid: child.pid, stop };
}

class NotFetched extends Error {}

/** SIGTERM, then SIGKILL: the Chroma server has been seen to ignore SIGTERM for seconds. */
async function killChild(
  child: ChildProcess,
  exited: Promise<void>,
  killGroup: (s: NodeJS.Signals) => void,
): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    killGroup('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      exited.then(() => true),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(false), 2000))),
    ]);
    clearTimeout(timer);
  }
  // Also after a clean exit of the leader: anything left in its group goes too.
  killGroup('SIGKILL');
  await exited;
}

/**
 * Deletes a collection by name over Chroma's REST API (kept here so that src/tiers/l3/chroma.ts stays
 * the only importer of chromadb). A missing collection is not an error.
 */
export async function deleteCollection(url: string, name: string): Promise<void> {
  const res = await fetch(
    `${url}/api/v2/tenants/default_tenant/databases/default_database/collections/${encodeURIComponent(name)}`,
    {
      method: 'DELETE',
      signal: AbortSignal.timeout(10_000),
    },
  );
  if (!res.ok && res.status !== 404)
    throw new Error(`deleting Chroma collection ${name}: HTTP ${res.status} ${await res.text()}`);
}

/** Every record of a collection with its document and metadata, over the REST API (test use only). */
export async function getRecords(
  url: string,
  name: string,
): Promise<{ ids: string[]; documents: (string | null)[]; metadatas: (Record<string, unknown> | null)[] }> {
  const base = `${url}/api/v2/tenants/default_tenant/databases/default_database/collections`;
  const col = await fetch(`${base}/${encodeURIComponent(name)}`, { signal: AbortSignal.timeout(10_000) });
  if (!col.ok) throw new Error(`getting Chroma collection ${name}: HTTP ${col.status} ${await col.text()}`);
  const { id } = (await col.json()) as { id: string };
  const res = await fetch(`${base}/${id}/get`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ include: ['documents', 'metadatas'] }),
    signal: AbortSignal.timeout(10_000),
  });
  if (!res.ok) throw new Error(`reading Chroma collection ${name}: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as {
    ids: string[];
    documents: (string | null)[];
    metadatas: (Record<string, unknown> | null)[];
  };
}
