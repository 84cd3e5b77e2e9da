/**
 * The summarizer's queue (p-queue) on its own: a few pages in work at once, a bounded queue, a page never
 * queued twice, and close() draining what is in work and dropping what waits.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { FileLocks } from '../src/cluster/file-locks.ts';
import type { Compressor } from '../src/compress/compressor.ts';
import type { PageSummary } from '../src/core/page-table.ts';
import { tokenizer } from '../src/core/tokenizer.ts';
import { Summarizer } from '../src/summarizer.ts';
import { deferrals, manualTimers, tempDir } from './helpers.ts';

function setup(t: import('node:test').TestContext, opts: { concurrency: number; maxQueued?: number }) {
  const defer = deferrals(t);
  const { dir, cleanup } = tempDir('vmem-summarizer-');
  defer(cleanup);
  let running = 0;
  let most = 0;
  const started: string[] = [];
  const finish: (() => void)[] = [];
  const saved = new Map<string, PageSummary>();
  const compressor: Compressor = {
    name: 'held',
    async compress(text) {
      running++;
      most = Math.max(most, running);
      started.push(text);
      await new Promise<void>((r) => finish.push(r));
      running--;
      return text.slice(0, 4);
    },
  };
  const summarizer = new Summarizer(
    {
      text: async (id) => `text of ${id}`,
      summarized: async (id) => saved.has(id),
      save: async (id, s) => void saved.set(id, s),
    },
    {
      compressor,
      tokenizer: tokenizer('cl100k_base'),
      ratio: 10,
      concurrency: opts.concurrency,
      maxQueued: opts.maxQueued,
      claims: new FileLocks((name) => join(dir, name), join(dir, 'tmp')),
      timers: manualTimers(),
    },
  );
  defer(() => summarizer.close(0));
  /** Lets the compressions in work finish, once they have all started. */
  const release = async (n: number) => {
    while (finish.length < n) await new Promise((r) => setImmediate(r));
    for (const f of finish.splice(0, n)) f();
  };
  return { summarizer, saved, started, release, most: () => most };
}

describe('summarizer queue', () => {
  test('at most `concurrency` pages in work; a page queued or in work is not queued again', async (t) => {
    const s = setup(t, { concurrency: 2 });
    s.summarizer.enqueue(['a', 'b', 'c', 'd', 'a', 'b']);
    s.summarizer.enqueue(['c']);
    for (let done = 0; done < 4; done += 2) await s.release(2);
    await s.summarizer.idle();
    assert.equal(s.most(), 2);
    assert.deepEqual([...s.saved.keys()].sort(), ['a', 'b', 'c', 'd']);
    assert.equal(s.started.length, 4, 'a page was compressed twice');
  });

  test('past maxQueued waiting pages, requests are dropped (asked again at the next eviction)', async (t) => {
    const s = setup(t, { concurrency: 1, maxQueued: 2 });
    s.summarizer.enqueue(['a', 'b', 'c', 'd']); // a in work, b and c waiting, d dropped
    for (let i = 0; i < 3; i++) await s.release(1);
    await s.summarizer.idle();
    assert.deepEqual([...s.saved.keys()], ['a', 'b', 'c']);
  });

  test('close() finishes the work in hand, drops what waits, and takes no more', async (t) => {
    const s = setup(t, { concurrency: 1 });
    s.summarizer.enqueue(['a', 'b', 'c']);
    while (!s.started.length) await new Promise((r) => setImmediate(r));
    const closing = s.summarizer.close(0);
    await s.release(1);
    await closing;
    assert.deepEqual([...s.saved.keys()], ['a']);
    s.summarizer.enqueue(['e']);
    await s.summarizer.idle();
    assert.deepEqual(s.started, ['text of a'], 'work started after close');
  });
});
