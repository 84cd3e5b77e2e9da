import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { HashingEmbedder } from '../src/embed/hashing.ts';
import { EmbeddedIndex, EmbedderMismatchError } from '../src/tiers/l3/embedded.ts';
import { deferrals, demoDoc, essays, factRe, listing, openPager, tempDir } from './helpers.ts';
import { CHROMA_MISSING, deleteCollection, getRecords, startChroma } from './support/chroma.ts';
import { freePort } from './support/redis.ts';
import { CLI, ENV } from './support/spawn.ts';

const FLAGS = { '--page-tokens': '500', '--l1-tokens': '4000' };
const strip = <T extends { accessCount: number; faultCount: number; lastAccess: number }>(e: T) => ({ ...e, accessCount: 0, faultCount: 0, lastAccess: 0 });

test('reindex rebuilds the page table and L3 from L4 alone, after both were lost', async (t) => {
  const defer = deferrals(t);
  const { dir, cleanup } = tempDir();
  defer(cleanup);
  const pager = await openPager(dir, FLAGS);
  await pager.ingest([
    { source: 'manual.md', text: demoDoc() },
    { source: 'essays.md', text: essays(2) },
  ]);
  const query = 'What was the maintenance code for pump station Kestrel in 2003?';
  const before = {
    pages: pager.table.listPages().map(strip).sort((a, b) => a.id.localeCompare(b.id)),
    documents: pager.table.listDocuments().map((d) => ({ ...d, ingestedAt: 0 })).sort((a, b) => a.id.localeCompare(b.id)),
    hit: (await pager.fault(pager.newSession(), query, { maxPages: 1 })).pages[0]!.pageId,
  };
  await pager.close();
  fs.rmSync(join(dir, 'catalog.jsonl'));
  fs.writeFileSync(join(dir, 'l3', 'embedded.jsonl'), '{"format":"vmem-l3-embedded/0","embedder":"other","dim":3}\n');
  await assert.rejects(EmbeddedIndex.open(join(dir, 'l3', 'embedded.jsonl'), new HashingEmbedder()), (err: Error) => err instanceof EmbedderMismatchError && /vmem reindex/.test(err.message));

  // The command a user runs: it reports what it rebuilt and keeps the old index aside.
  const r = spawnSync(process.execPath, [CLI, 'reindex', '--data-dir', dir, '--page-tokens', '500', '--l1-tokens', '4000'], { encoding: 'utf8', env: ENV });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`reindexed ${before.pages.length} pages of 2 documents`));
  assert.ok(fs.readdirSync(join(dir, 'l3')).some((f) => f.startsWith('embedded.jsonl.bak-')), 'the previous index is kept');

  const after = await openPager(dir, FLAGS);
  defer(() => after.close());
  assert.deepEqual(after.table.listPages().map(strip).sort((a, b) => a.id.localeCompare(b.id)), before.pages);
  assert.deepEqual(after.table.listDocuments().map((d) => ({ ...d, ingestedAt: 0 })).sort((a, b) => a.id.localeCompare(b.id)), before.documents);
  const again = await after.fault(after.newSession(), query, { maxPages: 1 });
  assert.equal(again.pages[0]!.pageId, before.hit);
  assert.match(again.pages[0]!.text!, factRe('Kestrel', 2003));
});

test('reindex with Chroma configured keeps the old collection aside and rebuilds it from L4; an unreachable Chroma changes nothing', async (t) => {
  const chroma = await startChroma();
  if (!chroma) return t.skip(CHROMA_MISSING);
  const defer = deferrals(t);
  defer(() => chroma.stop());
  const { dir, cleanup } = tempDir();
  defer(cleanup);
  const ns = `r${process.pid}x${Date.now()}`;
  const flags = { ...FLAGS, '--chroma-url': chroma.url, '--namespace': ns };
  const pager = await openPager(dir, flags);
  await pager.ingest([{ source: 'manual.md', text: demoDoc() }]);
  const ids = pager.table.listPages().map((p) => p.id).sort();
  await pager.close();
  const collection = `vmem-${ns}-pages`;
  defer(() => deleteCollection(chroma.url, collection));
  assert.deepEqual((await getRecords(chroma.url, collection)).ids.sort(), ids);

  const cli = (url: string) =>
    spawnSync(process.execPath, [CLI, 'reindex', '--data-dir', dir, '--page-tokens', '500', '--l1-tokens', '4000', '--chroma-url', url, '--namespace', ns], { encoding: 'utf8', env: ENV });

  const unchanged = listing(dir);
  const down = cli(`http://127.0.0.1:${await freePort()}`);
  assert.equal(down.status, 2, down.stderr);
  assert.match(down.stderr, /cannot reach Chroma at http:\/\/127\.0\.0\.1:\d+ .*unset VMEM_CHROMA_URL/);
  assert.doesNotMatch(down.stderr, /\n\s+at /, 'a message, not a stack trace');
  assert.deepEqual(listing(dir), unchanged, 'nothing was moved');

  const r = cli(chroma.url);
  assert.equal(r.status, 0, r.stderr);
  const backup = r.stdout.match(/collection (vmem-\S+\.bak-\S+?)(,|$)/m)?.[1];
  assert.ok(backup, r.stdout);
  defer(() => deleteCollection(chroma.url, backup));
  assert.deepEqual((await getRecords(chroma.url, backup)).ids.sort(), ids, 'the old collection is kept, intact');
  assert.deepEqual((await getRecords(chroma.url, collection)).ids.sort(), ids, 'the new collection holds every page');
});
