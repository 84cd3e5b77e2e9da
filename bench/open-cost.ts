/**
 * What opening a store costs a host: spawn `vmem serve` on a data dir to its `initialize` answer, and the
 * server's resident memory once it has answered and sits idle.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { percentile } from './stats.js';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const INITIALIZE = `${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'vmem-bench', version: '1' } } })}\n`;
/** How long the server sits idle after answering before its memory is read. */
const IDLE_MS = 1000;

export interface OpenCost {
  /** Spawn → initialize answer, ms, median of the runs. */
  ms: number;
  /** Resident memory after IDLE_MS idle, bytes (of the last run). */
  rss: number;
}

function rssOf(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  if (!kb) throw new Error(`no VmRSS for process ${pid}`);
  return Number(kb) * 1024;
}

function openOnce(dataDir: string): Promise<OpenCost> {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const child = spawn(process.execPath, [CLI, 'serve', '--data-dir', dataDir], {
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    let out = '';
    let ms = Number.NaN;
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (!Number.isNaN(ms) || !out.includes('\n')) return;
      ms = performance.now() - t;
      if (!out.includes('"result"')) reject(new Error(`no initialize result: ${out.slice(0, 300)}`));
      setTimeout(() => {
        const rss = rssOf(child.pid!);
        child.kill();
        resolve({ ms, rss });
      }, IDLE_MS);
    });
    child.on('error', reject);
    child.on('exit', () => Number.isNaN(ms) && reject(new Error('vmem serve exited before answering initialize')));
    child.stdin.write(INITIALIZE);
  });
}

/** Open cost on `dataDir`: the median start of `runs` spawns, and the idle memory of the last. */
export async function openCost(dataDir: string, runs = 5): Promise<OpenCost> {
  const all: OpenCost[] = [];
  for (let i = 0; i < runs; i++) all.push(await openOnce(dataDir));
  return {
    ms: percentile(
      all.map((c) => c.ms),
      50,
    ),
    rss: all.at(-1)!.rss,
  };
}
