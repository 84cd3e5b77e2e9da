/**
 * Ingest of large inputs through the built binary: a batch of thousands of pages under a small open-file
 * limit, and a one-line document of several megabytes, each read back whole.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { deferrals, openPager, tableDocuments, tempDir } from './helpers.ts';
import { CLI, ENV } from './support/spawn.ts';

/** `vmem ingest` in a shell that first lowers the open-file limit to `files`, as many systems' defaults are. */
function ingestLimited(files: number, path: string, dataDir: string, pageTokens: number) {
  return spawnSync(
    'sh',
    [
      '-c',
      `ulimit -n ${files} && exec "$0" "$@"`,
      process.execPath,
      CLI,
      'ingest',
      path,
      '--data-dir',
      dataDir,
      '--page-tokens',
      String(pageTokens),
    ],
    { encoding: 'utf8', env: ENV },
  );
}

async function readsBack(
  t: import('node:test').TestContext,
  dataDir: string,
  pageTokens: number,
  text: string,
): Promise<number> {
  const pager = await openPager(dataDir, { '--page-tokens': String(pageTokens) });
  t.after(() => pager.close());
  const [doc] = tableDocuments(pager.table);
  const pages = await pager.l4.getPages(doc!.pageIds);
  assert.equal(pages.map((p) => p!.text).join(''), text);
  return doc!.pageIds.length;
}

test('a batch of thousands of pages is written under a 256-file limit', {
  skip: process.platform === 'win32' && 'needs a POSIX shell',
  timeout: 120_000,
}, async (t) => {
  const defer = deferrals(t);
  const { dir, cleanup } = tempDir();
  defer(cleanup);
  const text = Array.from(
    { length: 12_000 },
    (_, p) =>
      `Paragraph ${p} says that reading ${(p * 7919) % 100003} was taken at station ${p % 17} on day ${p % 365}. It was checked twice.`,
  ).join('\n\n');
  fs.writeFileSync(join(dir, 'prose.md'), text);
  const r = ingestLimited(256, join(dir, 'prose.md'), join(dir, 'data'), 64);
  assert.equal(r.status, 0, r.stderr);
  assert.ok((await readsBack(t, join(dir, 'data'), 64, text)) >= 5000);
});

test('a 2 MB line of minified JSON pages, and reads back whole', { timeout: 120_000 }, async (t) => {
  const defer = deferrals(t);
  const { dir, cleanup } = tempDir();
  defer(cleanup);
  const rows = [];
  for (let i = 0, n = 0; n < 2_000_000; i++) {
    const row = JSON.stringify({ id: i, name: `item-${i}`, tags: ['alpha', String(i % 97)], score: (i * 7919) % 1000 });
    rows.push(row);
    n += row.length + 1;
  }
  const text = `[${rows.join(',')}]`;
  fs.writeFileSync(join(dir, 'data.json'), text);
  const r = spawnSync(process.execPath, [CLI, 'ingest', join(dir, 'data.json'), '--data-dir', join(dir, 'data')], {
    encoding: 'utf8',
    env: ENV,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.ok((await readsBack(t, join(dir, 'data'), 2000, text)) >= 250);
});
