/**
 * The package as its users get it, against @modelcontextprotocol/server-memory in the same run:
 * - installed size of a consumer install: `npm pack`, then `npm install --omit=dev <tarball>` into an
 *   empty folder (the embedded defaults: no backend package), and server-memory installed the same way;
 * - start-up: spawn of each installed command over stdio (empty store) to the `initialize` response,
 *   the two servers' runs interleaved, median of RUNS after WARMUP runs each.
 * Runs in `npm run bench`, or alone: `npm run bench:package`.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { installInto, MB, packProject, treeBytes } from '../test/support/package.js';
import { ENV } from '../test/support/spawn.js';
import { fmt, percentile, table } from './stats.js';

const RUNS = 15;
const WARMUP = 2;
/** The targets of issue 10. */
export const INSTALL_TARGET_MB = 30;
export const START_TARGET_RATIO = 1.3;

const MEMORY = '@modelcontextprotocol/server-memory';

export interface InstalledServer {
  /** Bytes under the consumer folder's node_modules; undefined when it could not be installed. */
  bytes?: number;
  packages?: number;
  /** Spawn → initialize response, ms. */
  startMs: number[];
}

export interface PackageBench {
  tarballBytes: number;
  vmem: InstalledServer;
  memory: InstalledServer & { version: string; from: string };
}

const INITIALIZE = `${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'vmem-bench', version: '1' } } })}\n`;

/** Milliseconds from spawning `command` to the first line it writes on stdout, the answer to `initialize`. */
function startOnce(command: string, args: string[], env: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const child = spawn(command, args, {
      // ENV: a clean environment, which on Node 20 lends the repository's better-sqlite3 (vmem's SQLite there).
      env: { ...ENV, ...env },
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    let out = '';
    let ms = NaN;
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (Number.isNaN(ms) && out.includes('\n')) {
        ms = performance.now() - t;
        if (!out.includes('"result"')) reject(new Error(`${command}: no initialize result: ${out.slice(0, 300)}`));
        child.kill();
      }
    });
    child.on('error', reject);
    child.on('exit', () =>
      Number.isNaN(ms) ? reject(new Error(`${command} exited before answering initialize`)) : resolve(ms),
    );
    child.stdin.write(INITIALIZE);
  });
}

/** Packages (directories with a package.json) under a node_modules folder. */
function packageCount(modules: string): number {
  let n = 0;
  for (const name of fs.readdirSync(modules)) {
    if (name.startsWith('.')) continue;
    if (name.startsWith('@')) n += fs.readdirSync(join(modules, name)).length;
    else n++;
    const nested = join(modules, name, 'node_modules');
    if (fs.existsSync(nested)) n += packageCount(nested);
  }
  return n;
}

export async function benchPackage(root: string): Promise<PackageBench> {
  const dir = fs.mkdtempSync(join(tmpdir(), 'vmem-bench-package-'));
  try {
    const tarball = packProject(root, join(dir, 'pack'));
    const vmemApp = join(dir, 'vmem');
    installInto(vmemApp, tarball);
    const vmemBin = join(vmemApp, 'node_modules', '.bin', 'vmem');

    // server-memory as a consumer installs it, at the version of our devDependency; without the
    // registry, the devDependency's own copy (its start-up only: its size would count our tree).
    const require = createRequire(import.meta.url);
    const devCopy = join(require.resolve(`${MEMORY}/package.json`), '..');
    const version = (JSON.parse(fs.readFileSync(join(devCopy, 'package.json'), 'utf8')) as { version: string }).version;
    const memoryApp = join(dir, 'server-memory');
    let memoryBin = join(memoryApp, 'node_modules', '.bin', 'mcp-server-memory');
    let from = `installed with npm install --omit=dev ${MEMORY}@${version}`;
    let memoryInstalled = true;
    try {
      installInto(memoryApp, `${MEMORY}@${version}`);
    } catch (err) {
      memoryInstalled = false;
      memoryBin = join(devCopy, 'dist', 'index.js');
      from = `the devDependency's copy (the registry could not be reached: ${String(err).split('\n')[0]})`;
    }

    let n = 0;
    const vmemRun = () => startOnce(vmemBin, ['serve', '--data-dir', join(dir, 'data', `vmem-${n++}`)], {});
    const memoryRun = () => startOnce(memoryBin, [], { MEMORY_FILE_PATH: join(dir, 'data', `memory-${n++}.jsonl`) });
    for (let i = 0; i < WARMUP; i++) {
      await vmemRun();
      await memoryRun();
    }
    const vmemMs: number[] = [];
    const memoryMs: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      // Interleaved, so a slower moment of the machine weighs on both.
      vmemMs.push(await vmemRun());
      memoryMs.push(await memoryRun());
    }
    const sizeOf = (app: string) => ({
      bytes: treeBytes(join(app, 'node_modules')),
      packages: packageCount(join(app, 'node_modules')),
    });
    return {
      tarballBytes: fs.statSync(tarball).size,
      vmem: { ...sizeOf(vmemApp), startMs: vmemMs },
      memory: { ...(memoryInstalled ? sizeOf(memoryApp) : {}), startMs: memoryMs, version, from },
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The section's heading in BENCHMARKS.md. */
export const PACKAGE_TITLE = `The package: installed size and start-up against ${MEMORY} (each installed as a user installs it, with npm install --omit=dev into an empty folder: vmem from its npm pack tarball; alone: \`npm run bench:package\`)`;

export function startRatio(b: PackageBench): number {
  return percentile(b.vmem.startMs, 50) / percentile(b.memory.startMs, 50);
}

export function packageTable(b: PackageBench): string {
  const mb = (bytes?: number) => (bytes === undefined ? 'n/a' : fmt(bytes / MB, 1));
  const ms = (v: number[]) => `${fmt(percentile(v, 50), 0)} (${fmt(Math.min(...v), 0)}–${fmt(Math.max(...v), 0)})`;
  const sizeRatio = b.memory.bytes === undefined ? 'n/a' : fmt(b.vmem.bytes! / b.memory.bytes);
  return `${table(
    ['what', 'vmem', `baseline: ${MEMORY} ${b.memory.version}`, 'ratio vmem / baseline'],
    [
      ['installed size, MB (bytes of the files under node_modules)', mb(b.vmem.bytes), mb(b.memory.bytes), sizeRatio],
      ['packages installed', b.vmem.packages ?? 'n/a', b.memory.packages ?? 'n/a', ''],
      [
        `spawn → initialize response over stdio, empty store, ms: median (min–max) of ${RUNS}`,
        ms(b.vmem.startMs),
        ms(b.memory.startMs),
        fmt(startRatio(b)),
      ],
    ],
  )}

vmem's tarball is ${fmt(b.tarballBytes / MB, 1)} MB. Its install is the bundle (dist/: the MCP SDK, zod and the stemmer in one file and a few chunks that only some commands load) and the BPE ranks of the two encodings it counts with, read on first use; chromadb, ioredis and openai are optional peer dependencies, installed only by those who configure them, and so is better-sqlite3, SQLite for Node 20 (newer Nodes have node:sqlite; on Node 20 this bench lends the repository's copy). Each server is started by its installed command (node_modules/.bin), so both pay the same \`#!/usr/bin/env node\`; the baseline is ${b.memory.from}.`;
}

export function packageTargets(b: PackageBench, verdict: (ok: boolean) => string): (string | number)[][] {
  const mbs = b.vmem.bytes! / MB;
  return [
    [`consumer install (embedded defaults) ≤ ${INSTALL_TARGET_MB} MB`, fmt(mbs, 1), verdict(mbs <= INSTALL_TARGET_MB)],
    [
      `spawn → initialize ≤ ${START_TARGET_RATIO} × ${MEMORY} (median)`,
      fmt(startRatio(b)),
      verdict(startRatio(b) <= START_TARGET_RATIO),
    ],
  ];
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const b = await benchPackage(root);
  const verdict = (ok: boolean) => (ok ? 'met' : '**not met**');
  console.log(
    `## ${PACKAGE_TITLE}\n\n${packageTable(b)}\n\n${table(['target', 'measured', ''], packageTargets(b, verdict))}`,
  );
}
