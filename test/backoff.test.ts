/**
 * The one retry policy (src/backoff.ts): delays that double up to a cap, one pending retry per key, and a
 * success that starts the backoff over, as the hybrid L3 uses it. On a clock the test advances: nothing here sleeps.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { delayOf, Retries } from '../src/backoff.ts';
import type { ChromaIndex } from '../src/tiers/l3/chroma.ts';
import { EmbeddedIndex } from '../src/tiers/l3/embedded.ts';
import { HybridIndex } from '../src/tiers/l3/hybrid.ts';
import { manualTimers } from './helpers.ts';
import { waitFor } from './support/wait.ts';

describe('backoff', () => {
  test('delays double from initialMs and stay at maxMs', () => {
    const policy = { initialMs: 50, maxMs: 2000 };
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6, 7, 100, 1e6].map((n) => delayOf(policy, n)),
      [50, 100, 200, 400, 800, 1600, 2000, 2000, 2000],
    );
    assert.deepEqual(
      [1, 2, 9].map((n) => delayOf({ initialMs: 2000, maxMs: 2000 }, n)),
      [2000, 2000, 2000],
      'a constant delay',
    );
  });

  test('a key retries once per failure, after its backoff; a success starts over; cancel stops all', () => {
    const timers = manualTimers();
    const retries = new Retries<string>({ initialMs: 100, maxMs: 1000 }, timers);
    const ran: string[] = [];
    assert.equal(
      retries.failed('a', () => ran.push('a')),
      100,
    );
    assert.equal(
      retries.failed('a', () => ran.push('a twice')),
      undefined,
      'a retry already pending is not scheduled again',
    );
    assert.equal(retries.pending('a'), true);
    timers.advance(99);
    assert.deepEqual(ran, [] as string[]);
    timers.advance(1);
    assert.deepEqual(ran, ['a']);
    assert.equal(retries.pending('a'), false);
    assert.equal(
      retries.failed('a', () => ran.push('a')),
      200,
      'the second failure waits twice as long',
    );
    retries.failed('b', () => ran.push('b'));
    assert.deepEqual(timers.pending(), [100, 200], 'each key has its own backoff');
    timers.advance(200);
    assert.deepEqual(ran, ['a', 'b', 'a']);
    retries.succeeded('a');
    assert.equal(
      retries.failed('a', () => ran.push('a')),
      100,
      'after a success the backoff starts over',
    );
    retries.cancel();
    assert.deepEqual(timers.pending(), []);
  });

  test('the hybrid L3 reopens Chroma on the backoff, on the clock it is given (no server, no sleep)', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'vmem-hybrid-backoff-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const timers = manualTimers();
    let attempts = 0;
    let reachable = false;
    const held = new Set<string>();
    // Enough of a ChromaIndex for the hybrid: what it has, upsert, query, close.
    const vectors = {
      has: (id: string) => held.has(id),
      upsert: async (items: { meta: { id: string } }[]) => void items.forEach((it) => held.add(it.meta.id)),
      query: async () => [],
      close: async () => {},
    } as unknown as ChromaIndex;
    const statuses: boolean[] = [];
    const index = await HybridIndex.open(
      {
        lexical: await EmbeddedIndex.open(join(dir, 'embedded.jsonl')),
        connect: async () => {
          attempts++;
          if (!reachable) throw new Error('ECONNREFUSED');
          return vectors;
        },
        texts: async () => [],
        retryMs: 1000,
        maxRetryMs: 4000,
        timers,
      },
      (up) => statuses.push(up),
    );
    t.after(() => index.close());
    assert.deepEqual(statuses, [false]);
    assert.deepEqual(timers.pending(), [1000]);
    timers.advance(1000);
    await waitFor(() => attempts === 2, 'the second attempt');
    await waitFor(() => timers.pending().length === 1, 'the third attempt to be scheduled');
    assert.deepEqual(timers.pending(), [2000], 'the next delay doubles');
    reachable = true;
    timers.advance(2000);
    await waitFor(() => index.available(), 'the hybrid index to reconnect');
    assert.equal(attempts, 3);
    assert.deepEqual(statuses, [false, true], 'one status change each way, not one per attempt');
    assert.deepEqual(timers.pending(), []);
  });
});
