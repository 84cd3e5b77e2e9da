/**
 * Memory per idle HTTP session: the resident set of `vmem serve --http` (its own process, empty
 * store) with N clients connected and idle, against the same server with none, in the same run.
 * Each client is the SDK's Streamable HTTP client, so each session also holds its open GET stream.
 * Runs in `npm run bench`, or alone: `npm run bench:sessions`.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connect, withHttpServer } from './http.js';
import { fmt, table } from './stats.js';

const STEPS = [100, 200, 400];

export interface IdleMemory {
  emptyRss: number;
  rows: { sessions: number; rss: number }[];
}

/** Resident set of a process in bytes, from /proc (Linux). */
function rssOf(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  if (!kb) throw new Error(`no VmRSS for process ${pid}`);
  return Number(kb) * 1024;
}

export async function idleSessionMemory(root: string): Promise<IdleMemory> {
  const dir = mkdtempSync(join(tmpdir(), 'vmem-bench-sessions-'));
  try {
    return await withHttpServer(
      root,
      dir,
      async (url, pid) => {
        // One session opened, used and closed first, so the baseline has every code path loaded.
        const warm = await connect(url);
        await warm.listTools();
        await warm.close();
        const emptyRss = rssOf(pid);
        const clients: Client[] = [];
        const rows = [];
        try {
          for (const n of STEPS) {
            while (clients.length < n) clients.push(await connect(url));
            rows.push({ sessions: n, rss: rssOf(pid) });
          }
        } finally {
          await Promise.all(clients.map((c) => c.close()));
        }
        return { emptyRss, rows };
      },
      ['--max-sessions', String(Math.max(...STEPS))],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const MB = 1024 * 1024;

/** The section's heading in BENCHMARKS.md. */
export const IDLE_MEMORY_TITLE =
  "Memory per idle HTTP session (server in its own process, empty store; each client the SDK's, holding its GET stream open; alone: `npm run bench:sessions`)";

/** Per session: over the empty server, and at the margin (from the previous row), which leaves out the heap's one-time growth. */
export function idleMemoryTable(m: IdleMemory): string {
  return table(
    [
      'idle sessions',
      'server RSS (MB)',
      'over the empty server (MB)',
      'per session (KB)',
      'per added session, from the row above (KB)',
    ],
    [
      ['baseline: none (after one session opened and closed)', fmt(m.emptyRss / MB, 1), '0.0', '', ''],
      ...m.rows.map((r, i) => {
        const prev = m.rows[i - 1];
        return [
          r.sessions,
          fmt(r.rss / MB, 1),
          fmt((r.rss - m.emptyRss) / MB, 1),
          fmt((r.rss - m.emptyRss) / r.sessions / 1024, 0),
          prev ? fmt((r.rss - prev.rss) / (r.sessions - prev.sessions) / 1024, 0) : '',
        ];
      }),
    ],
  );
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const root = fileURLToPath(new URL('..', import.meta.url));
  console.log(`## ${IDLE_MEMORY_TITLE}\n\n${idleMemoryTable(await idleSessionMemory(root))}`);
}
