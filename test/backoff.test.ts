/**
 * The one retry policy (src/backoff.ts): delays that double up to a cap, one pending retry per key, and a
 * success that starts the backoff over. On a clock the test advances: nothing here sleeps.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { delayOf, Retries } from '../src/backoff.ts';
import { manualTimers } from './helpers.ts';

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
    const retries = new Retries({ initialMs: 100, maxMs: 1000 }, timers);
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
    assert.deepEqual(ran, []);
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
});
