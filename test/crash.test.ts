/**
 * Crash recovery with real processes: `vmem ingest` killed with SIGKILL while it writes pages, then run again.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { FsL4 } from '../src/tiers/l4/fs.ts';
import { deferrals, openPager, tableDocuments, tempDir } from './helpers.ts';
import { CLI, ENV } from './support/spawn.ts';
import { waitFor } from './support/wait.ts';

const FLAGS = ['--page-tokens', '200'];
const ls = (dir: string) => (fs.existsSync(dir) ? fs.readdirSync(dir) : []);

/** Files under `dir` whose name ends in `.tmp`, anywhere. */
function temps(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.tmp'));
}

/** Every page file with its inode and modification time: a file written again would change them. */
function pageFiles(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const shard of ls(join(dir, 'pages'))) {
    for (const f of ls(join(dir, 'pages', shard))) {
      const s = fs.statSync(join(dir, 'pages', shard, f));
      out.set(f, `${s.ino}:${s.mtimeMs}`);
    }
  }
  return out;
}

test('an ingest killed mid-write: the next open removes its temp files, the same command then completes, nothing is written twice, every page verifies', {
  timeout: 120_000,
}, async (t) => {
  const defer = deferrals(t);
  const corpus = tempDir('vmem-corpus-');
  defer(corpus.cleanup);
  const { dir, cleanup } = tempDir();
  defer(cleanup);
  // About 1.8 MB in 80 files: two ingest batches of many 200-token pages, so the kill lands between them.
  const texts = new Map<string, string>();
  for (let f = 0; f < 80; f++) {
    const paras = Array.from({ length: 60 }, (_, p) =>
      Array.from(
        { length: 5 },
        (_, s) =>
          `File ${f} paragraph ${p} sentence ${s} records reading ${(f * 7919 + p * 104729 + s * 31) % 100003} at station ${p % 17}.`,
      ).join(' '),
    );
    const name = `doc${String(f).padStart(3, '0')}.md`;
    texts.set(name, `${paras.join('\n\n')}\n`);
    fs.writeFileSync(join(corpus.dir, name), texts.get(name)!);
  }
  const args = [CLI, 'ingest', corpus.dir, '--data-dir', dir, ...FLAGS];

  const child = spawn(process.execPath, args, { env: ENV, stdio: 'ignore' });
  defer(() => child.kill('SIGKILL'));
  // Killed once a first batch is stored (its manifest written) and the next batch's pages are being written.
  await waitFor(
    () => child.exitCode !== null || (ls(join(dir, 'manifests')).length > 0 && ls(join(dir, 'tmp')).length >= 10),
    'a first batch stored and the next being written',
    { timeoutMs: 60_000, intervalMs: 2 },
  );
  child.kill('SIGKILL');
  await new Promise((r) =>
    child.exitCode !== null || child.signalCode !== null ? r(undefined) : child.once('exit', r),
  );
  assert.equal(child.signalCode, 'SIGKILL', 'fixture: the ingest was killed before it finished');
  assert.ok(temps(dir).length > 0, 'fixture: the kill left temp files');
  const written = pageFiles(dir);
  assert.ok(written.size > 0, 'fixture: some pages were written');

  // The next process to open the store removes them, without walking the pages.
  const stats = spawnSync(process.execPath, [CLI, 'stats', '--data-dir', dir, ...FLAGS], {
    encoding: 'utf8',
    env: ENV,
  });
  assert.equal(stats.status, 0, stats.stderr);
  assert.deepEqual(temps(dir), []);

  const again = spawnSync(process.execPath, args, { encoding: 'utf8', env: ENV });
  assert.equal(again.status, 0, again.stderr);
  assert.deepEqual(temps(dir), []);
  for (const [f, stamp] of written) assert.equal(pageFiles(dir).get(f), stamp, `page ${f} was written again`);

  // Each document recorded once (the page table keys documents by id), whole: its pages, read back from L4 (which
  // checks every page's address), are its text.
  const pager = await openPager(dir, { '--page-tokens': '200' });
  defer(() => pager.close());
  const docs = tableDocuments(pager.table);
  assert.equal(docs.length, texts.size);
  const l4 = await FsL4.open(dir);
  for (const d of docs) {
    const pages = await l4.getPages(d.pageIds);
    assert.equal(
      pages.map((p) => p!.text).join(''),
      texts.get(d.source.split('/').at(-1)!),
      `${d.source} does not read back whole`,
    );
  }
  const all = await l4.listPageIds();
  assert.equal((await l4.getPages(all)).filter(Boolean).length, all.length);
  assert.equal(all.length, pager.table.pageCount);
});
