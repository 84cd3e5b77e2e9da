import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { EmbedderMismatchError } from '../src/errors.ts';
import { reindex } from '../src/reindex.ts';
import { EmbeddedIndex } from '../src/tiers/l3/embedded.ts';
import { LexicalStore } from '../src/tiers/l3/lexical-store.ts';
import { FsL4 } from '../src/tiers/l4/fs.ts';
import type { L4Store, RecordKind } from '../src/tiers/l4/store.ts';
import {
  chapters,
  deferrals,
  demoDoc,
  factRe,
  listing,
  openPager,
  tableDocuments,
  tablePages,
  tempDir,
  testConfig,
} from './helpers.ts';
import { CHROMA_MISSING, deleteCollection, getRecords, startChroma } from './support/chroma.ts';
import { freePort } from './support/redis.ts';
import { CLI, ENV } from './support/spawn.ts';

const FLAGS = { '--page-tokens': '500', '--l1-tokens': '4000' };
const strip = <T extends { accessCount: number; faultCount: number; lastAccess: number }>(e: T) => ({
  ...e,
  accessCount: 0,
  faultCount: 0,
  lastAccess: 0,
});

test('reindex rebuilds the page table and L3 from L4 alone, after both were lost', async (t) => {
  const defer = deferrals(t);
  const { dir, cleanup } = tempDir();
  defer(cleanup);
  const pager = await openPager(dir, FLAGS);
  await pager.ingest([
    { source: 'manual.md', text: demoDoc() },
    { source: 'chapters.md', text: chapters(2) },
  ]);
  const query = 'What was the maintenance code for pump station Kestrel in 2003?';
  const before = {
    pages: tablePages(pager.table)
      .map(strip)
      .sort((a, b) => a.id.localeCompare(b.id)),
    documents: tableDocuments(pager.table)
      .map((d) => ({ ...d, ingestedAt: 0 }))
      .sort((a, b) => a.id.localeCompare(b.id)),
    hit: (await pager.fault(pager.newSession(), query, { maxPages: 1 })).pages[0]!.pageId,
  };
  await pager.close();
  fs.rmSync(join(dir, 'catalog.db'));
  const stale = LexicalStore.open(join(dir, 'l3', 'lexical.db'));
  stale.setMeta('format', 'vmem-l3-embedded/0');
  stale.close();
  await assert.rejects(
    EmbeddedIndex.open(join(dir, 'l3', 'lexical.db')),
    (err: Error) => err instanceof EmbedderMismatchError && /vmem reindex/.test(err.message),
  );

  // The command a user runs: it reports what it rebuilt and keeps the old index aside.
  const r = spawnSync(
    process.execPath,
    [CLI, 'reindex', '--data-dir', dir, '--page-tokens', '500', '--l1-tokens', '4000'],
    { encoding: 'utf8', env: ENV },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`reindexed ${before.pages.length} pages of 2 documents`));
  assert.ok(
    fs.readdirSync(join(dir, 'l3')).some((f) => f.startsWith('lexical.db.bak-')),
    'the previous index is kept',
  );

  const after = await openPager(dir, FLAGS);
  defer(() => after.close());
  assert.deepEqual(
    tablePages(after.table)
      .map(strip)
      .sort((a, b) => a.id.localeCompare(b.id)),
    before.pages,
  );
  assert.deepEqual(
    tableDocuments(after.table)
      .map((d) => ({ ...d, ingestedAt: 0 }))
      .sort((a, b) => a.id.localeCompare(b.id)),
    before.documents,
  );
  const again = await after.fault(after.newSession(), query, { maxPages: 1 });
  assert.equal(again.pages[0]!.pageId, before.hit);
  assert.match(again.pages[0]!.text!, factRe('Kestrel', 2003));
});

/** A paragraph of about 350 tokens: at 500-token pages, each paragraph is a page of its own. */
const para = (topic: string, i: number) =>
  Array.from(
    { length: 14 },
    (_, s) =>
      `Clause ${i}.${s} of the ${topic} says that the holder of copy ${i * 31 + s} may use it for purpose number ${(i * 7 + s) % 23}.`,
  ).join(' ');
const doc = (paras: string[]) => `${paras.join('\n\n')}\n\n`;

/**
 * A store whose documents share pages: two copies of one LICENSE (every page shared), a document holding
 * the second half of another plus its own pages, a document repeating a page, several documents in one
 * batch; with summaries (extractive and abstractive) and access statistics.
 */
async function sharingStore(dir: string) {
  const license = doc(Array.from({ length: 3 }, (_, i) => para('license', i)));
  const manual = Array.from({ length: 8 }, (_, i) => para('manual', i));
  const pager = await openPager(dir, FLAGS);
  await pager.ingest([{ source: 'a/LICENSE', text: license }]);
  await pager.ingest([{ source: 'manual.md', text: doc(manual) }]);
  await pager.ingest([
    { source: 'b/LICENSE', text: license },
    { source: 'sequel.md', text: doc([...manual.slice(4), ...Array.from({ length: 3 }, (_, i) => para('sequel', i))]) },
    { source: 'repeats.md', text: doc([manual[0]!, para('repeats', 0), manual[0]!]) },
  ]);
  const docs = Object.fromEntries(tableDocuments(pager.table).map((d) => [d.source, d]));
  // The fixture is what it claims to be.
  assert.deepEqual(docs['b/LICENSE']!.pageIds, docs['a/LICENSE']!.pageIds);
  assert.deepEqual(docs['sequel.md']!.pageIds.slice(0, 4), docs['manual.md']!.pageIds.slice(4));
  assert.equal(docs['repeats.md']!.pageIds[2], docs['manual.md']!.pageIds[0]);
  const session = pager.newSession();
  await pager.fault(session, 'clause of the sequel that says copy', { maxPages: 2 });
  await pager.load(session, [docs['a/LICENSE']!.pageIds[1]!]);
  const [shared, other] = [docs['sequel.md']!.pageIds[0]!, docs['repeats.md']!.pageIds[1]!];
  await pager.saveSummary(shared, { text: 'Clause 4 of the manual.', tokens: 6, by: 'extractive', at: 1 });
  await pager.saveSummary(other, {
    text: 'The repeats document restates its purpose.',
    tokens: 7,
    by: 'openai:test',
    at: 2,
  });
  await pager.close();
  return { docs };
}

/** The page table as a process opening the store sees it: documents and pages, in order, with every field. */
async function pageTable(dir: string) {
  const pager = await openPager(dir, FLAGS);
  try {
    return { documents: tableDocuments(pager.table), pages: tablePages(pager.table) };
  } finally {
    await pager.close();
  }
}

test('reindex reproduces the page table exactly: documents sharing pages, their order, summaries and access statistics', async (t) => {
  const defer = deferrals(t);
  const { dir, cleanup } = tempDir();
  defer(cleanup);
  await sharingStore(dir);
  const before = await pageTable(dir);
  assert.ok(
    before.pages.some((p) => p.accessCount > 0) && before.pages.filter((p) => p.summary).length === 2,
    'fixture: statistics and summaries',
  );
  // An ingest killed after its manifest (before the page table recorded its documents), then run again, lists
  // them twice: once earlier, with other ingest times, and once where the page table recorded them.
  const manifests = fs.readdirSync(join(dir, 'manifests')).sort();
  const last = JSON.parse(fs.readFileSync(join(dir, 'manifests', manifests.at(-1)!), 'utf8')) as {
    documents: { ingestedAt: number }[];
  };
  for (const d of last.documents) d.ingestedAt = 1;
  fs.writeFileSync(join(dir, 'manifests', 'm000000000000000000000000c0ffee0.json'), JSON.stringify(last));

  const r = await reindex(testConfig(dir, FLAGS));
  assert.deepEqual(r.notes, []);
  assert.deepEqual(r.corrupt, []);
  assert.equal(r.documents, 5);
  const after = await pageTable(dir);
  assert.deepEqual(after.documents, before.documents);
  assert.deepEqual(after.pages, before.pages);
  // L3 was rebuilt as well, with the abstractive summary under its own key.
  const pager = await openPager(dir, FLAGS);
  defer(() => pager.close());
  const abstractive = before.pages.find((p) => p.summary?.by === 'openai:test')!.id;
  assert.equal(pager.l3.size(), before.pages.length + 1);
  assert.ok(pager.l3.has(abstractive, 'summary'));
});

test('reindex of a store whose page table is still the catalog.jsonl of an earlier vmem carries its statistics over', async (t) => {
  const defer = deferrals(t);
  const { dir, cleanup } = tempDir();
  defer(cleanup);
  await sharingStore(dir);
  const before = await pageTable(dir);
  // The same page table in the log an earlier vmem kept: documents with the pages they brought first, then
  // statistics and summaries.
  const seen = new Set<string>();
  const w = 'earlier';
  const records: unknown[] = before.documents.map((doc) => ({
    t: 'doc',
    w,
    doc,
    pages: doc.pageIds
      .filter((id) => !seen.has(id) && seen.add(id))
      .map((id) => ({ ...strip(before.pages.find((p) => p.id === id)!), summary: undefined })),
  }));
  records.push({ t: 'stats', w, s: before.pages.map((p) => [p.id, p.accessCount, p.faultCount, p.lastAccess]) });
  for (const p of before.pages) if (p.summary) records.push({ t: 'summary', w, id: p.id, summary: p.summary });
  for (const f of ['catalog.db', 'catalog.db-wal', 'catalog.db-shm']) fs.rmSync(join(dir, f), { force: true });
  fs.writeFileSync(join(dir, 'catalog.jsonl'), `${records.map((r) => JSON.stringify(r)).join('\n')}\n`);

  const r = await reindex(testConfig(dir, FLAGS));
  assert.deepEqual(r.notes, []);
  assert.ok(fs.existsSync(join(dir, 'catalog.jsonl.migrated')), 'the log is kept');
  const after = await pageTable(dir);
  assert.deepEqual(after.documents, before.documents);
  assert.deepEqual(after.pages, before.pages);
});

test('reindex of a store written before ingest manifests rebuilds from first origins and says what it could not restore', async (t) => {
  const defer = deferrals(t);
  const { dir, cleanup } = tempDir();
  defer(cleanup);
  const { docs } = await sharingStore(dir);
  const before = await pageTable(dir);
  // What a store of an earlier vmem holds: no manifest (here, one that is not readable either).
  fs.rmSync(join(dir, 'manifests'), { recursive: true });
  fs.mkdirSync(join(dir, 'manifests'));
  fs.writeFileSync(join(dir, 'manifests', 'm000000000000001.json'), '{"version":1,"documents":[{"id":');

  const r = spawnSync(
    process.execPath,
    [CLI, 'reindex', '--data-dir', dir, '--page-tokens', '500', '--l1-tokens', '4000'],
    { encoding: 'utf8', env: ENV },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`reindexed ${before.pages.length} pages of 4 documents`));
  assert.match(r.stderr, /4 document\(s\) predate ingest manifests .* re-ingest their sources/);
  assert.match(r.stderr, /1 manifest\(s\) unreadable \(m000000000000001\)/);
  const after = await pageTable(dir);
  assert.deepEqual(after.pages.map((p) => p.id).sort(), before.pages.map((p) => p.id).sort(), 'every page is back');
  assert.equal(
    after.documents.find((d) => d.source === 'b/LICENSE'),
    undefined,
    'a document whose pages all came first in another is what first origins cannot restore',
  );
  assert.deepEqual(after.documents.find((d) => d.source === 'a/LICENSE')!.pageIds, docs['a/LICENSE']!.pageIds);
  assert.deepEqual(
    after.pages.map((p) => [p.id, p.accessCount, p.faultCount, p.lastAccess]).sort(),
    before.pages.map((p) => [p.id, p.accessCount, p.faultCount, p.lastAccess]).sort(),
    'access statistics are carried over from the previous page table',
  );
});

test('reindex reads and writes through the L4 it is given, the one the pager gets', async (t) => {
  const defer = deferrals(t);
  const { dir, cleanup } = tempDir();
  defer(cleanup);
  const pager = await openPager(dir, FLAGS);
  await pager.ingest([{ source: 'chapters.md', text: chapters(2) }]);
  const pages = tablePages(pager.table).length;
  await pager.close();
  fs.rmSync(join(dir, 'catalog.db'));

  const l4 = await FsL4.open(dir);
  const used = { listPageIds: 0, getPages: 0, listRecords: 0 };
  const counting =
    <A extends unknown[], R>(name: keyof typeof used, fn: (...args: A) => R) =>
    (...args: A): R => {
      used[name]++;
      return fn(...args);
    };
  const counted: L4Store = Object.assign(Object.create(l4) as FsL4, {
    listPageIds: counting('listPageIds', () => l4.listPageIds()),
    getPages: counting('getPages', (ids: string[]) => l4.getPages(ids)),
    listRecords: counting('listRecords', (kind: RecordKind) => l4.listRecords(kind)),
  });
  const r = await reindex(testConfig(dir, FLAGS), undefined, { l4: counted });
  assert.equal(r.pages, pages);
  assert.ok(used.listPageIds >= 1 && used.getPages >= 1 && used.listRecords >= 2, JSON.stringify(used));
});

test('ingest records a batch in a manifest before the page table: a manifest that cannot be written fails the ingest, and nothing is recorded', async (t) => {
  const defer = deferrals(t);
  const { dir, cleanup } = tempDir();
  defer(cleanup);
  const l4 = new FsL4(dir);
  const failing: L4Store = Object.assign(Object.create(l4) as FsL4, {
    putRecord: async (kind: RecordKind, id: string, json: string) => {
      if (kind === 'manifests') throw new Error('disk full');
      return l4.putRecord(kind, id, json);
    },
  });
  const pager = await openPager(dir, FLAGS, { l4: failing });
  defer(() => pager.close());
  await assert.rejects(pager.ingest([{ source: 'manual.md', text: doc([para('manual', 0)]) }]), /disk full/);
  assert.equal(tableDocuments(pager.table).length, 0);
  assert.equal(pager.table.pageCount, 0);
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
  const ids = tablePages(pager.table)
    .map((p) => p.id)
    .sort();
  await pager.close();
  const collection = `vmem-${ns}-pages`;
  defer(() => deleteCollection(chroma.url, collection));
  assert.deepEqual((await getRecords(chroma.url, collection)).ids.sort(), ids);

  const cli = (url: string) =>
    spawnSync(
      process.execPath,
      [
        CLI,
        'reindex',
        '--data-dir',
        dir,
        '--page-tokens',
        '500',
        '--l1-tokens',
        '4000',
        '--chroma-url',
        url,
        '--namespace',
        ns,
      ],
      { encoding: 'utf8', env: ENV },
    );

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

test('reindex leaves forgotten documents out, even one whose pages another document shares, until one is ingested again', async (t) => {
  const defer = deferrals(t);
  const { dir, cleanup } = tempDir();
  defer(cleanup);
  const flags = { '--page-tokens': '200' };
  const shared = chapters(1).slice(0, 3000);
  let pager = await openPager(dir, flags);
  const [a] = await pager.ingest([{ source: 'a.md', text: shared }]);
  await pager.ingest([{ source: 'b.md', text: `Another introduction.\n\n${shared}` }]);
  await pager.forget('a.md');
  const sources = async () => {
    await pager.close();
    const r = await reindex(testConfig(dir, flags));
    pager = await openPager(dir, flags);
    return {
      notes: r.notes,
      sources: tableDocuments(pager.table)
        .map((d) => d.source)
        .sort(),
    };
  };
  // a.md's pages that b.md shares stay in L4 with a.md as their first origin: the removal's manifest keeps it out.
  assert.deepEqual(await sources(), { notes: [], sources: ['b.md'] });
  await pager.ingest([{ source: 'a.md', text: shared }]);
  assert.deepEqual(await sources(), { notes: [], sources: ['a.md', 'b.md'] });
  assert.equal(pager.table.currentOf('a.md')?.id, a!.documentId);
  await pager.close();
});
