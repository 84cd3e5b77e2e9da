/**
 * Every resource read stays small whatever the store holds: the page table lists documents with
 * counts, a hundred per read, and each document lists its pages the same way, linked by `next`.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  allDocuments,
  allPages,
  connect,
  connectedStore,
  deferrals,
  documentPages,
  openPager,
  readText,
  tempDir,
} from './helpers.ts';

/** A read's size bound, far under what a host attaches whole (the unbounded page table was 1.9 MiB at 6,478 pages). */
const MAX_READ_BYTES = 64 * 1024;

describe('bounded resources', () => {
  test('a store of 260 documents and a 300-page document: each read is bounded; next links reach every entry once', async (t) => {
    const defer = deferrals(t);
    const { dir, cleanup } = tempDir();
    defer(cleanup);
    const pager = await openPager(dir, { '--page-tokens': '64', '--l1-tokens': '4000' });
    defer(() => pager.close());
    const docs = Array.from({ length: 259 }, (_, i) => ({
      source: `note-${i}.md`,
      text: `Note ${i}: the pump at site ${i} was serviced on day ${i % 28} of the month.`,
    }));
    const long = Array.from(
      { length: 1500 },
      (_, i) => `Line ${i} of the long log says valve ${i} opened at ${i % 24} o'clock.`,
    ).join('\n');
    await pager.ingest([...docs, { source: 'long.log', text: long }]);
    const { client, close } = await connect(pager);
    defer(close);

    const reads: string[] = [];
    for (let next: string | null = 'vmem://page-table'; next; ) {
      const text = await readText(client, next);
      reads.push(text);
      next = (JSON.parse(text) as { next: string | null }).next;
    }
    assert.equal(reads.length, 3, '260 documents, 100 per read');
    for (const r of reads)
      assert.ok(Buffer.byteLength(r) <= MAX_READ_BYTES, `a page-table read of ${Buffer.byteLength(r)} bytes`);
    const listed = await allDocuments(client);
    assert.deepEqual(listed.map((d) => d.source).sort(), [...docs.map((d) => d.source), 'long.log'].sort());

    const longDoc = listed.find((d) => d.source === 'long.log')!;
    assert.ok(longDoc.pages > 250, `fixture: ${longDoc.pages} pages`);
    const first = await readText(client, longDoc.uri);
    assert.ok(Buffer.byteLength(first) <= MAX_READ_BYTES, `a document read of ${Buffer.byteLength(first)} bytes`);
    const pages = await documentPages(client, longDoc.id);
    assert.deepEqual(
      pages.map((p) => p.id),
      pager.table.document(longDoc.id)!.pageIds,
    );
    assert.equal((await allPages(client)).size, pager.table.pageCount);
  });

  test('a bad offset or an unknown document is refused with a message', async (t) => {
    const { client } = await connectedStore(t);
    await assert.rejects(client.readResource({ uri: 'vmem://page-table?from=-3' }), /from must be a whole number/);
    await assert.rejects(
      client.readResource({ uri: 'vmem://documents/d0000000000000000' }),
      /unknown document d0000000000000000/,
    );
  });
});
