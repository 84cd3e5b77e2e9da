import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MemoryL2 } from '../src/tiers/l2/memory.ts';
import { fakeClock } from './helpers.ts';
import { holds } from './support/contract.ts';

const set = (l2: MemoryL2, ids: string[], ttl: number) =>
  l2.setMany(
    ids.map((id) => ({ id, value: `v-${id}` })),
    ttl,
  );

describe('MemoryL2', () => {
  test('entries expire after their TTL (fake clock, no sleeps)', async () => {
    const clock = fakeClock(0);
    const l2 = new MemoryL2(100, clock.now);
    await set(l2, ['a', 'b'], 10);
    assert.deepEqual(await l2.getMany(['a', 'b']), ['v-a', 'v-b']);
    clock.advance(9_999);
    assert.equal(await holds(l2, 'a'), true, 'still live 1 ms before expiry');
    clock.advance(1);
    assert.equal(await holds(l2, 'a'), false, 'expired at exactly the TTL');
    assert.deepEqual(await l2.getMany(['a', 'b']), [undefined, undefined]);
    assert.equal(l2.size(), 0, 'expired entries are dropped once seen');
  });

  test('a read with a TTL extends live entries only', async () => {
    const clock = fakeClock(1_000);
    const l2 = new MemoryL2(100, clock.now);
    await set(l2, ['a', 'b'], 10);
    clock.advance(8_000);
    assert.deepEqual(await l2.getMany(['a'], 10), ['v-a']);
    clock.advance(5_000); // 13 s after set, 5 s after the read
    assert.deepEqual(await l2.getMany(['a', 'b']), ['v-a', undefined]);
    clock.advance(5_000); // 10 s after the read
    assert.equal(await holds(l2, 'a'), false);
    // Reading an expired or missing entry does not resurrect it.
    assert.deepEqual(await l2.getMany(['a', 'zzz'], 60), [undefined, undefined]);
    assert.deepEqual(await l2.getMany(['a', 'zzz']), [undefined, undefined]);
  });

  test('setMany refreshes the value and TTL of an existing entry', async () => {
    const clock = fakeClock(0);
    const l2 = new MemoryL2(100, clock.now);
    await l2.setMany([{ id: 'a', value: 'old' }], 5);
    clock.advance(4_000);
    await l2.setMany([{ id: 'a', value: 'new' }], 5);
    clock.advance(4_000);
    assert.deepEqual(await l2.getMany(['a']), ['new']);
  });

  test('the size bound drops the least recently used entries', async () => {
    const clock = fakeClock(0);
    const l2 = new MemoryL2(3, clock.now);
    await set(l2, ['a', 'b', 'c'], 60);
    await l2.getMany(['a']); // a is now most recently used; b is the LRU
    await set(l2, ['d'], 60);
    assert.equal(l2.size(), 3);
    assert.deepEqual(await l2.getMany(['a', 'b', 'c', 'd']), ['v-a', undefined, 'v-c', 'v-d']);
    // A batch larger than the bound keeps its last entries.
    await set(l2, ['e', 'f', 'g', 'h'], 60);
    assert.equal(l2.size(), 3);
    assert.deepEqual(await l2.getMany(['e', 'f', 'g', 'h']), [undefined, 'v-f', 'v-g', 'v-h']);
  });

  test('has() does not count as a use for recency', async () => {
    const l2 = new MemoryL2(2, fakeClock(0).now);
    await set(l2, ['a', 'b'], 60);
    assert.equal(await holds(l2, 'a'), true);
    await set(l2, ['c'], 60);
    assert.deepEqual(await l2.getMany(['a', 'b', 'c']), [undefined, 'v-b', 'v-c']);
  });

  test('getMany returns values in the order asked, with undefined for misses and duplicates repeated', async () => {
    const l2 = new MemoryL2(100, fakeClock(0).now);
    await set(l2, ['a', 'b', 'c'], 60);
    assert.deepEqual(await l2.getMany(['c', 'missing', 'a', 'b', 'a']), ['v-c', undefined, 'v-a', 'v-b', 'v-a']);
    assert.deepEqual(await l2.getMany([]), []);
  });

  test('close empties the cache', async () => {
    const l2 = new MemoryL2(100, fakeClock(0).now);
    await set(l2, ['a'], 60);
    await l2.close();
    assert.equal(l2.size(), 0);
    assert.equal(await holds(l2, 'a'), false);
  });
});

describe('MemoryL2 byte bound', () => {
  test('entries are dropped, least recently used first, once their bytes exceed the bound', async () => {
    // Each entry: id 'a' plus a 99-character value = 100 UTF-16 units = 200 bytes.
    const l2 = new MemoryL2(100, fakeClock(0).now, 600);
    const value = (c: string) => c.repeat(99);
    await l2.setMany(
      ['a', 'b', 'c'].map((id) => ({ id, value: value(id) })),
      60,
    );
    assert.equal(l2.bytes(), 600);
    await l2.getMany(['a']); // b is now the least recently used
    await l2.setMany([{ id: 'd', value: value('d') }], 60);
    assert.equal(l2.size(), 3);
    assert.ok(l2.bytes() <= 600);
    assert.deepEqual(await l2.hasMany(['a', 'b', 'c', 'd']), [true, false, true, true]);
  });
});
