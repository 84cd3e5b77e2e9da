import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type Page, pageOf } from '../src/core/page.ts';
import { audienceOf, CorruptPageError, MissingPageError } from '../src/errors.ts';
import { ReadPath } from '../src/paging/read-path.ts';
import type { L2Store } from '../src/tiers/l2/store.ts';
import type { L4Store } from '../src/tiers/l4/store.ts';

const page = (text: string, ordinal = 0): Page =>
  pageOf(
    { ordinal, text, tokens: 3, charStart: 0, charEnd: text.length, lineStart: 1, lineEnd: 1 },
    { documentId: 'd1', source: 'doc.md' },
  );

/** An L2 that records its round trips. */
function fakeL2(held: Record<string, string> = {}) {
  const map = new Map(Object.entries(held));
  const calls: string[] = [];
  const l2: L2Store = {
    name: 'fake',
    async getMany(ids, ttl) {
      calls.push(`get ${ids.join(',')} ttl ${ttl}`);
      return ids.map((id) => map.get(id));
    },
    async setMany(entries, ttl) {
      calls.push(`set ${entries.map((e) => e.id).join(',')} ttl ${ttl}`);
      for (const e of entries) map.set(e.id, e.value);
    },
    async hasMany(ids) {
      return ids.map((id) => map.has(id));
    },
    async deleteMany(ids) {
      for (const id of ids) map.delete(id);
    },
    async close() {},
  };
  return { l2, map, calls };
}

/** An L4 holding `pages`; reading a page in `corrupt` throws as FsL4 does. */
function fakeL4(pages: Page[], corrupt: string[] = []): L4Store & { reads: string[][] } {
  const byId = new Map(pages.map((p) => [p.id, p]));
  const reads: string[][] = [];
  return {
    name: 'fake',
    reads,
    async getPages(ids) {
      reads.push(ids);
      const bad = ids.find((id) => corrupt.includes(id));
      if (bad) throw new CorruptPageError(`page ${bad} does not match its address`);
      return ids.map((id) => byId.get(id));
    },
    async putPages() {},
    async hasPage(id) {
      return byId.has(id);
    },
    async listPageIds() {
      return [...byId.keys()];
    },
    async putRecord() {},
    async getRecord() {
      return undefined;
    },
    async listRecords() {
      return [];
    },
    async deletePages() {},
    async deleteRecord() {},
  };
}

describe('read path', () => {
  const a = page('Alpha text.');
  const b = page('Beta text.', 1);
  const c = page('Gamma text.', 2);

  test('one L2 round trip (restarting TTLs), then L4 for the misses only, which then warm L2', async () => {
    const { l2, map, calls } = fakeL2({ [a.id]: a.text });
    const l4 = fakeL4([a, b]);
    const read = new ReadPath(l2, l4, 60);
    assert.deepEqual(await read.texts([a.id, b.id]), [
      { text: a.text, level: 'L2' },
      { text: b.text, level: 'L4' },
    ]);
    assert.deepEqual(l4.reads, [[b.id]]);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(calls, [`get ${a.id},${b.id} ttl 60`, `set ${b.id} ttl 60`]);
    assert.equal(map.get(b.id), b.text, 'L2 warmed');
  });

  test('nothing asked, no round trip', async () => {
    const { l2, calls } = fakeL2();
    assert.deepEqual(await new ReadPath(l2, fakeL4([]), 60).texts([]), []);
    assert.deepEqual(calls, []);
  });

  test('a page L4 lacks is undefined; require names it and the field, for the operator to fix', async () => {
    const read = new ReadPath(fakeL2().l2, fakeL4([a]), 60);
    assert.deepEqual(await read.texts([c.id, a.id]), [undefined, { text: a.text, level: 'L4' }]);
    await assert.rejects(
      read.require([a.id, c.id], 'page_ids'),
      (err: Error) =>
        err instanceof MissingPageError &&
        audienceOf(err) === 'operator' &&
        /page_ids\[1\]/.test(err.message) &&
        err.message.includes(c.id),
    );
  });

  test('whole pages come from L4; corrupt ones are named, missing ones left out', async () => {
    const { l2, calls } = fakeL2({ [a.id]: a.text });
    const read = new ReadPath(l2, fakeL4([a, b], [b.id]), 60);
    const got = await read.pages([a.id, b.id, c.id]);
    assert.deepEqual(
      got.pages.map((p) => p.id),
      [a.id],
    );
    assert.deepEqual(got.corrupt, [b.id]);
    assert.deepEqual(calls, [], 'L2 holds texts, not metadata: not asked');
  });

  test('strict: an error other than a corrupt page is thrown', async () => {
    const l4 = fakeL4([a]);
    l4.getPages = async () => {
      throw new Error('EIO');
    };
    const read = new ReadPath(fakeL2().l2, l4, 60);
    await assert.rejects(read.pages([a.id], { strict: true }), /EIO/);
    assert.deepEqual((await read.pages([a.id])).corrupt, [a.id]);
  });
});
