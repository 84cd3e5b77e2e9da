import assert from 'node:assert/strict';
import fs from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { pageIdOf, sha256 } from '../src/core/hash.ts';
import { openDatabase, type Row } from '../src/store/sqlite.ts';
import { MemoryL2 } from '../src/tiers/l2/memory.ts';
import {
  chapters,
  deferrals,
  fakeClock,
  files,
  listing,
  openPager,
  tableDocuments,
  tablePages,
  tempDir,
} from './helpers.ts';

const FLAGS = { '--page-tokens': '200', '--l1-tokens': '2000' };
/** The page table as its database on disk records it (documents and pages, in the order they were recorded). */
function readTable(dir: string): { documents: Row[]; pages: Row[] } {
  const db = openDatabase(join(dir, 'catalog.db'));
  try {
    return {
      documents: db.prepare('SELECT * FROM documents ORDER BY seq').all(),
      pages: db.prepare('SELECT * FROM pages ORDER BY rowid').all(),
    };
  } finally {
    db.close();
  }
}

describe('page table persistence', () => {
  test('pages, documents and access stats survive a restart', async (t) => {
    const defer = deferrals(t);
    const { dir, cleanup } = tempDir();
    defer(cleanup);
    const clock = fakeClock();
    const text = chapters(3);
    const pager = await openPager(dir, FLAGS, { now: clock.now, l2: new MemoryL2(1000, clock.now) });
    const [ingested] = await pager.ingest([{ source: 'chapters.md', text }]);
    assert.ok(ingested!.pages >= 20);
    const session = pager.newSession();
    clock.advance(5_000);
    const fault = await pager.fault(session, 'whale ship sea voyage harpoon', { maxPages: 2 });
    assert.equal(fault.pages.length, 2);
    const faulted = fault.pages.map((p) => p.pageId);
    clock.advance(1_000);
    await pager.fault(session, 'whale ship sea voyage harpoon', { maxPages: 2 }); // L1 hits: accesses, not faults
    const before = { pages: tablePages(pager.table), documents: tableDocuments(pager.table), indexed: pager.l3.size() };
    const stat = (id: string) => before.pages.find((p) => p.id === id)!;
    for (const id of faulted) {
      assert.equal(stat(id).faultCount, 1, 'one fault');
      assert.equal(stat(id).accessCount, 2, 'one fault and one L1 hit');
      assert.equal(stat(id).lastAccess, clock.now());
    }
    await pager.close();

    const reopened = await openPager(dir, FLAGS, { now: clock.now });
    defer(() => reopened.close());
    assert.deepEqual(tablePages(reopened.table), before.pages, 'same pages and stats');
    assert.deepEqual(tableDocuments(reopened.table), before.documents, 'same documents');
    assert.equal(reopened.l3.size(), before.indexed, 'the L3 index reloads');
    // And it still works: the same query finds the same pages, now read back from L4.
    const again = await reopened.fault(reopened.newSession(), 'whale ship sea voyage harpoon', { maxPages: 2 });
    assert.deepEqual(
      again.pages.map((p) => p.pageId),
      faulted,
    );
    assert.deepEqual(
      again.pages.map((p) => p.level),
      ['L4', 'L4'],
    );
    assert.equal(reopened.table.get(faulted[0]!)!.faultCount, 2);
  });

  test('an ingest is on disk before close (a crash after ingest loses nothing)', async (t) => {
    const defer = deferrals(t);
    const { dir, cleanup } = tempDir();
    defer(cleanup);
    const pager = await openPager(dir, FLAGS);
    const [r] = await pager.ingest([{ source: 'a.md', text: chapters(1) }]);
    // No close: a second process opening the same dir sees the pages.
    const other = await openPager(dir, FLAGS);
    assert.equal(other.table.pageCount, r!.pages);
    assert.deepEqual(
      tableDocuments(other.table).map((d) => d.id),
      [r!.documentId],
    );
    const page = await other.readPage(tableDocuments(other.table)[0]!.pageIds[0]!);
    assert.ok(page && page.text.length > 0 && page.level === 'L4');
    await other.close();
    await pager.close();
  });

  test('files are written atomically: no temp file is left behind and every file parses', async (t) => {
    const defer = deferrals(t);
    const { dir, cleanup } = tempDir();
    defer(cleanup);
    const pager = await openPager(dir, FLAGS);
    await pager.ingest([
      { source: 'one.md', text: chapters(2) },
      { source: 'two.md', text: chapters(1) },
    ]);
    const session = pager.newSession();
    await pager.fault(session, 'startup founders', { maxPages: 3 });
    await pager.serialize(session, 'note');
    await pager.close();
    const all = files(dir);
    assert.deepEqual(
      all.filter((f) => f.endsWith('.tmp') || f.includes('.tmp')),
      [],
      'no temp files',
    );
    assert.ok(all.includes('catalog.db'));
    const table = readTable(dir);
    assert.equal(table.documents.length, 2);
    const pageFiles = all.filter((f) => f.startsWith('pages/'));
    assert.equal(pageFiles.length, table.pages.length, 'one L4 file per page');
    for (const row of table.pages) {
      const e = JSON.parse(String(row.meta)) as { id: string; sha256: string };
      const rel = join('pages', e.id.slice(1, 3), `${e.id}.json`);
      const stored = JSON.parse(fs.readFileSync(join(dir, rel), 'utf8')) as {
        id: string;
        sha256: string;
        text: string;
      };
      assert.equal(stored.id, e.id);
      assert.equal(sha256(stored.text), e.sha256);
      assert.equal(pageIdOf(e.sha256), e.id, 'ids are content addresses');
    }
    assert.equal(all.filter((f) => f.startsWith('snapshots/')).length, 1);
  });

  test('re-ingesting the same text is idempotent: same ids, no new pages, no new files', async (t) => {
    const defer = deferrals(t);
    const { dir, cleanup } = tempDir();
    defer(cleanup);
    const clock = fakeClock();
    const pager = await openPager(dir, FLAGS, { now: clock.now });
    defer(() => pager.close());
    const text = chapters(2);
    const [first] = await pager.ingest([{ source: 'e.md', text }]);
    assert.equal(first!.newPages, first!.pages);
    const tableBefore = JSON.stringify(readTable(dir));
    const filesBefore = listing(dir);
    const idsBefore = pager.table.document(first!.documentId)!.pageIds;

    const [second] = await pager.ingest([{ source: 'e.md', text }]);
    assert.deepEqual(second, { ...first, newPages: 0 });
    assert.deepEqual(pager.table.document(second!.documentId)!.pageIds, idsBefore);
    assert.equal(JSON.stringify(readTable(dir)), tableBefore, 'page table unchanged');
    assert.deepEqual(listing(dir), filesBefore, 'no file added or rewritten (L4 pages, L3 index)');
    assert.equal(pager.l3.size(), first!.pages);

    // The same bytes under another name: a new document over the same pages, which keep their first origin.
    const [renamed] = await pager.ingest([{ source: 'copy.md', text }]);
    assert.notEqual(renamed!.documentId, first!.documentId);
    assert.equal(renamed!.newPages, 0);
    assert.deepEqual(pager.table.document(renamed!.documentId)!.pageIds, idsBefore);
    assert.equal(pager.table.get(idsBefore[0]!)!.source, 'e.md');
    assert.equal(tableDocuments(pager.table).length, 2);
  });

  test('page ids are the same in two independent stores', async (t) => {
    const defer = deferrals(t);
    const a = tempDir();
    const b = tempDir();
    defer(a.cleanup);
    defer(b.cleanup);
    const text = chapters(1);
    const pa = await openPager(a.dir, FLAGS);
    const pb = await openPager(b.dir, FLAGS);
    const [ra] = await pa.ingest([{ source: 'x', text }]);
    const [rb] = await pb.ingest([{ source: 'x', text }]);
    assert.equal(ra!.documentId, rb!.documentId);
    assert.deepEqual(pa.table.document(ra!.documentId)!.pageIds, pb.table.document(rb!.documentId)!.pageIds);
    await pa.close();
    await pb.close();
  });

  test('a document repeating a paragraph stores the repeated page once', async (t) => {
    const defer = deferrals(t);
    const { dir, cleanup } = tempDir();
    defer(cleanup);
    const pager = await openPager(dir, { '--page-tokens': '64', '--l1-tokens': '1000' });
    defer(() => pager.close());
    // About 45 tokens, the unique ones about 35: with 64-token pages no two paragraphs share a page (and none is
    // under half a page, so none is topped up with sentences), so every copy of `para` is the same page.
    const para =
      'The same boilerplate paragraph appears on many pages of this manual and says nothing new at all. It is repeated here to pad the page, it lists no codes, and it names no station, year or valve setting whatsoever.';
    const text = Array.from({ length: 13 }, (_, i) =>
      i % 2
        ? para
        : `Unique paragraph ${i} is about pump ${i * 17} and its valve settings, which the crew checks every morning before the first shift starts its rounds along the northern canal.`,
    ).join('\n\n');
    const [r] = await pager.ingest([{ source: 'rep', text }]);
    const ids = pager.table.document(r!.documentId)!.pageIds;
    assert.equal(ids.length, r!.pages);
    assert.equal(new Set(ids).size, r!.newPages, 'new pages are the distinct pages');
    assert.ok(r!.newPages < r!.pages, 'some pages repeat');
    assert.equal(pager.table.pageCount, r!.newPages);
    assert.equal(files(dir).filter((f) => f.startsWith('pages/')).length, r!.newPages);
  });
});
