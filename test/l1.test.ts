import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { L1, type Resident } from '../src/core/l1.ts';

const page = (id: string, tokens: number, pinned = false): Resident => ({
  pageId: id,
  tokens,
  pinned,
  resolution: 'full',
  text: `text of ${id}`,
});
const ids = (l1: L1) => l1.list().map((r) => r.pageId);
const sum = (l1: L1) => l1.list().reduce((n, r) => n + r.tokens, 0);

describe('L1', () => {
  test('admits in LRU order and evicts least recently used first', () => {
    const l1 = new L1(100);
    assert.deepEqual(l1.admit(page('a', 30)), []);
    assert.deepEqual(l1.admit(page('b', 30)), []);
    assert.deepEqual(l1.admit(page('c', 30)), []);
    assert.deepEqual(ids(l1), ['a', 'b', 'c']);
    assert.equal(l1.usedTokens, 90);
    const evicted = l1.admit(page('d', 30))!;
    assert.deepEqual(
      evicted.map((r) => r.pageId),
      ['a'],
    );
    assert.equal(evicted[0]!.text, 'text of a', 'evicted residents carry what they held');
    assert.deepEqual(ids(l1), ['b', 'c', 'd']);
    // A big page evicts as many as it needs, oldest first.
    assert.deepEqual(
      l1.admit(page('e', 70))!.map((r) => r.pageId),
      ['b', 'c'],
    );
    assert.deepEqual(ids(l1), ['d', 'e']);
    assert.equal(l1.usedTokens, 100);
  });

  test('never exceeds its budget over a long random workload', () => {
    let seed = 42;
    const rand = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    const l1 = new L1(1000);
    for (let i = 0; i < 3000; i++) {
      const op = rand(10);
      const id = `p${rand(60)}`;
      if (op < 6) {
        const before = ids(l1);
        const usedBefore = l1.usedTokens;
        const r = l1.admit(page(id, 1 + rand(400), rand(20) === 0));
        if (r === undefined) {
          assert.deepEqual(ids(l1), before, 'a refused admit changes nothing');
          assert.equal(l1.usedTokens, usedBefore);
        } else {
          assert.equal(ids(l1).at(-1), id, 'an admitted page is most recently used');
          for (const e of r) assert.equal(e.pinned, false, 'admit never evicts a pinned page');
        }
      } else if (op < 8) l1.touch(id);
      else if (op < 9) l1.remove(id);
      else l1.setPinned(id, false);
      assert.ok(l1.usedTokens <= l1.budget, `used ${l1.usedTokens} over budget ${l1.budget}`);
      assert.equal(l1.usedTokens, sum(l1), 'usedTokens matches the residents');
    }
  });

  test('pinned pages are never evicted by admit', () => {
    const l1 = new L1(100);
    l1.admit(page('pinned', 40, true));
    l1.admit(page('a', 30));
    l1.admit(page('b', 30));
    const evicted = l1.admit(page('c', 50))!;
    assert.deepEqual(
      evicted.map((r) => r.pageId),
      ['a', 'b'],
    );
    assert.deepEqual(ids(l1), ['pinned', 'c']);
    // With only the pinned page and room for 60, a 61-token page cannot enter.
    l1.remove('c');
    assert.equal(l1.admit(page('big', 61)), undefined);
    assert.deepEqual(ids(l1), ['pinned']);
    assert.equal(l1.reclaimable(), 0);
    assert.equal(l1.canFit(60), true);
    assert.equal(l1.canFit(61), false);
  });

  test('setPinned protects a resident page; remove drops it even when pinned', () => {
    const l1 = new L1(100);
    l1.admit(page('a', 50));
    l1.admit(page('b', 50));
    l1.setPinned('a', true);
    assert.deepEqual(
      l1.admit(page('c', 50))!.map((r) => r.pageId),
      ['b'],
    );
    assert.ok(l1.has('a'));
    assert.equal(l1.remove('a')?.pageId, 'a');
    assert.equal(l1.has('a'), false);
    assert.equal(l1.usedTokens, 50);
    assert.equal(l1.remove('a'), undefined, 'removing a non-resident returns undefined');
  });

  test('the keep set is honoured: kept pages are not evicted', () => {
    const l1 = new L1(100);
    l1.admit(page('a', 40));
    l1.admit(page('b', 40));
    const evicted = l1.admit(page('c', 40), new Set(['a']))!;
    assert.deepEqual(
      evicted.map((r) => r.pageId),
      ['b'],
      'skips the kept LRU page and evicts the next',
    );
    assert.deepEqual(ids(l1), ['a', 'c']);
    // Everything kept: nothing can be evicted, so the page is refused.
    assert.equal(l1.admit(page('d', 40), new Set(['a', 'c'])), undefined);
    assert.deepEqual(ids(l1), ['a', 'c']);
    assert.equal(l1.canFit(40, new Set(['a', 'c'])), false);
    assert.equal(l1.canFit(40, new Set(['a'])), true);
  });

  test('admit returns undefined and changes nothing when the page cannot fit', () => {
    const l1 = new L1(100);
    l1.admit(page('a', 30, true));
    l1.admit(page('b', 30));
    l1.admit(page('c', 30));
    l1.touch('b');
    const snapshot = JSON.stringify(l1.list());
    assert.equal(l1.admit(page('huge', 101)), undefined, 'larger than the budget');
    assert.equal(l1.admit(page('x', 71)), undefined, 'larger than budget minus pinned');
    assert.equal(JSON.stringify(l1.list()), snapshot);
    assert.equal(l1.usedTokens, 90);
    assert.equal(l1.has('huge'), false);
  });

  test('touch reorders; admitting a resident page touches it and keeps one copy', () => {
    const l1 = new L1(100);
    for (const id of ['a', 'b', 'c']) l1.admit(page(id, 30));
    l1.touch('a');
    assert.deepEqual(ids(l1), ['b', 'c', 'a']);
    assert.deepEqual(
      l1.admit(page('d', 30))!.map((r) => r.pageId),
      ['b'],
      'the touched page is no longer the LRU victim',
    );
    l1.touch('missing');
    assert.deepEqual(ids(l1), ['c', 'a', 'd']);
    assert.deepEqual(l1.admit(page('c', 30)), [], 're-admitting a resident evicts nothing');
    assert.deepEqual(ids(l1), ['a', 'd', 'c']);
    assert.equal(l1.usedTokens, 90, 'a re-admitted page is not counted twice');
    l1.admit(page('a', 30, true));
    assert.equal(l1.get('a')!.pinned, true, 're-admitting with pin pins the resident');
    l1.admit(page('a', 30, false));
    assert.equal(l1.get('a')!.pinned, true, 're-admitting without pin does not unpin');
  });

  test('a page of exactly the budget fits in an empty L1 and evicts everything unpinned', () => {
    const l1 = new L1(100);
    l1.admit(page('a', 60));
    l1.admit(page('b', 40));
    assert.deepEqual(
      l1.admit(page('full', 100))!.map((r) => r.pageId),
      ['a', 'b'],
    );
    assert.equal(l1.usedTokens, 100);
    assert.deepEqual(ids(l1), ['full']);
  });
});
