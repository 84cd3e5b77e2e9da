/**
 * A store of 100,000 pages shared by processes: a server answers faults while another process ingests
 * the corpus, a server started mid-ingest opens and answers, the last file's pages are found within a
 * second of the ingest's end, and a process opening the store afterwards counts every page indexed once.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { deferrals, tempDir } from './helpers.ts';
import { CLI, ENV, type Spawned, spawnServer } from './support/spawn.ts';
import { waitFor } from './support/wait.ts';

const PAGES = 100_000;
const FLAGS = ['--page-tokens', '64', '--l1-tokens', '512'];
const FILES = 40;
/** ~700 KB per file: about 2,700 pages of ≤64 tokens each. */
const PARAGRAPHS_PER_FILE = 2600;
const FACT = 'The harbour master of Kestrel keeps the spare lantern key in tin 4471.';

/** A corpus of distinct sentences (every page differs), the fact at the end of the last file. */
function writeCorpus(dir: string): void {
  for (let f = 0; f < FILES; f++) {
    const paragraphs = Array.from({ length: PARAGRAPHS_PER_FILE }, (_, p) =>
      Array.from(
        { length: 4 },
        (_, s) =>
          `Station ${f}-${p} logged reading ${(f * 7919 + p * 104729 + s * 31) % 100003} on shift ${s} of crew ${(p * 13 + s) % 97}.`,
      ).join(' '),
    );
    if (f === FILES - 1) paragraphs.push(FACT);
    fs.writeFileSync(join(dir, `log${String(f).padStart(2, '0')}.md`), `${paragraphs.join('\n\n')}\n`);
  }
}

async function fault(s: Spawned, query: string): Promise<{ isError: boolean; text: string }> {
  const r = (await s.client.callTool({ name: 'page_fault', arguments: { query, max_pages: 1 } })) as CallToolResult;
  const pages = (r.structuredContent as { pages?: { text?: string }[] } | undefined)?.pages ?? [];
  return { isError: !!r.isError, text: pages[0]?.text ?? '' };
}

test(`${PAGES.toLocaleString('en')} pages: readers open and answer while another process ingests, and see everything after`, {
  timeout: 900_000,
}, async (t) => {
  const defer = deferrals(t);
  const corpus = tempDir('vmem-corpus-');
  defer(corpus.cleanup);
  const { dir, cleanup } = tempDir();
  defer(cleanup);
  writeCorpus(corpus.dir);

  const reader = await spawnServer(dir, FLAGS);
  defer(() => reader.close());
  const writer = spawn(process.execPath, [CLI, 'ingest', corpus.dir, '--data-dir', dir, ...FLAGS], {
    env: ENV,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  defer(() => writer.kill('SIGKILL'));
  let out = '';
  let err = '';
  writer.stdout.on('data', (c: Buffer) => (out += c.toString()));
  writer.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((resolve) => writer.on('exit', resolve));

  // While it writes: faults answer (finding what has been committed so far), and a new server opens.
  let late: Spawned | undefined;
  let faults = 0;
  let running = true;
  void exited.then(() => (running = false));
  while (running) {
    const r = await fault(reader, `Station 0-${faults % 2600} logged reading`);
    assert.equal(r.isError, false, r.text);
    faults++;
    if (faults === 5) {
      late = await spawnServer(dir, FLAGS);
      defer(() => late?.close());
      assert.equal((await fault(late, 'Station 0-3 logged reading')).isError, false);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(await exited, 0, err);
  assert.ok(faults >= 5, `${faults} faults answered during the ingest`);

  // The last file's fact, within a second of the writer's end, in both servers.
  for (const s of [reader, late!])
    await waitFor(
      async () => /tin 4471/.test((await fault(s, 'Where does the harbour master keep the lantern key?')).text),
      'the last file found by another process',
      { timeoutMs: 1000 },
    );

  // Every page the writer reported, each in the page table and in L3 once.
  const reported = [...out.matchAll(/ (\d+) pages \((\d+) new\)/g)].reduce((n, m) => n + Number(m[2]), 0);
  assert.ok(reported >= PAGES, `${reported} pages ingested`);
  // Closed first: a server summarizes the pages it evicted in the background, into the page table and L3.
  await reader.close();
  await late!.close();
  const stats = spawnSync(process.execPath, [CLI, 'stats', '--data-dir', dir, ...FLAGS], {
    encoding: 'utf8',
    env: ENV,
  });
  assert.equal(stats.status, 0, stats.stderr);
  const s = JSON.parse(stats.stdout) as {
    documents: number;
    pages: number;
    l3: { indexed: number };
  };
  assert.equal(s.documents, FILES);
  assert.equal(s.pages, reported);
  // L3 holds each page once (the offline compressor's summaries are excerpts of the page: not indexed again).
  assert.equal(s.l3.indexed, s.pages, JSON.stringify(s));
});
