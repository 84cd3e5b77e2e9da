import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
/**
 * One contract for every L2Store backend (MemoryL2 on a fake clock, RedisL2 on a real server), plus
 * Redis-only checks: key layout and TTL units, namespaces, and fault tolerance (server down at
 * start, server stopped and restarted mid-test, server hung).
 *
 * Redis: VMEM_TEST_REDIS_URL if set, else a redis-server from PATH on a free port; without one the
 * Redis tests are skipped with a visible reason (and fail when CI=true).
 */
import { after, before, describe, it, type TestContext } from 'node:test';
import { MemoryL2 } from '../../src/tiers/l2/memory.ts';
import { RedisL2 } from '../../src/tiers/l2/redis.ts';
import type { L2Store } from '../../src/tiers/l2/store.ts';
import { holds, withHarness } from '../support/contract.ts';
import { command, deleteKeys, REDIS_MISSING, sleep, startRedis, type TestRedis } from '../support/redis.ts';
import { waitFor } from '../support/wait.ts';

interface Harness {
  store: L2Store;
  /** Lets `ms` of (store) time pass: a fake clock for MemoryL2, real waiting for Redis. */
  advance(ms: number): Promise<void>;
  cleanup(): Promise<void>;
}

type Make = () => Promise<Harness>;

/** Runs `fn` on a fresh harness, cleaning up even when it fails; skips when `skipReason()` says so. */

export function l2Contract(name: string, make: Make, skipReason?: () => string | undefined): void {
  describe(`L2 contract: ${name}`, () => {
    const test = (title: string, fn: (h: Harness) => Promise<void>) =>
      it(title, { timeout: 30_000 }, (t) => withHarness(t, make, skipReason, fn));

    test('a miss is undefined, never an exception', async ({ store }) => {
      assert.deepEqual(await store.getMany(['nope']), [undefined]);
      assert.deepEqual(await store.getMany([]), []);
      assert.equal(await holds(store, 'nope'), false);
      assert.deepEqual(await store.getMany(['nope'], 60), [undefined]);
      await store.setMany([], 60);
      assert.equal(await holds(store, 'nope'), false, 'a read with a TTL must not create entries');
    });

    test('getMany keeps the order of ids with mixed hits and misses', async ({ store }) => {
      await store.setMany(
        [
          { id: 'a', value: 'A' },
          { id: 'c', value: 'C' },
          { id: 'e', value: 'E' },
        ],
        60,
      );
      assert.deepEqual(await store.getMany(['c', 'x', 'a', 'a', 'y', 'e']), ['C', undefined, 'A', 'A', undefined, 'E']);
      assert.deepEqual(await store.getMany(['x', 'y']), [undefined, undefined]);
    });

    test('setMany then getMany round-trips unicode, emoji, protocol-like bytes, empty and ~100 KB values', async ({
      store,
    }) => {
      const big = 'Résumé of §4.2 — 日本語のテキスト, 👩‍👩‍👧‍👦 🇫🇷 🚀\n'.repeat(1800);
      assert.ok(Buffer.byteLength(big) > 100_000, `big is ${Buffer.byteLength(big)} bytes`);
      const entries = [
        { id: 'ascii', value: 'plain text' },
        { id: 'latin', value: 'héllo wörld, façade, naïve' },
        { id: 'cjk', value: '虚拟内存 仮想メモリ 가상 메모리' },
        { id: 'emoji', value: '🧠💾 ZWJ 👨‍💻, flags 🇯🇵🇧🇷, skin tone 👍🏽, astral 𝔘𝔫𝔦' },
        { id: 'combining', value: 'e\u0301 vs \u00e9, \u200b zero width, \u0000 NUL' },
        { id: 'resp', value: '*2\r\n$3\r\nGET\r\n$1\r\nx\r\n-ERR not an error\r\n' },
        { id: 'empty', value: '' },
        { id: 'big', value: big },
        { id: 'id with spaces:colons/and/ünïcödé 🚀', value: 'odd id' },
      ];
      await store.setMany(entries, 60);
      const got = await store.getMany(entries.map((e) => e.id));
      for (const [i, e] of entries.entries()) {
        assert.equal(got[i], e.value, `value of ${e.id}`);
      }
      assert.deepEqual(
        await store.hasMany([...entries.map((e) => e.id), 'nope']),
        [...entries.map(() => true), false],
        'hasMany, in order',
      );
    });

    test('setMany overwrites existing values', async ({ store }) => {
      await store.setMany([{ id: 'p', value: 'v1' }], 60);
      await store.setMany(
        [
          { id: 'p', value: 'v2' },
          { id: 'q', value: 'w' },
        ],
        60,
      );
      assert.deepEqual(await store.getMany(['p', 'q']), ['v2', 'w']);
    });

    test('deleteMany drops entries; absent ids are no error', async ({ store }) => {
      await store.setMany(
        [
          { id: 'p', value: 'v' },
          { id: 'q', value: 'w' },
        ],
        60,
      );
      await store.deleteMany(['p', 'absent']);
      assert.deepEqual(await store.getMany(['p', 'q']), [undefined, 'w']);
    });

    test('entries expire after their TTL', async ({ store, advance }) => {
      await store.setMany([{ id: 'short', value: 's' }], 1);
      await store.setMany([{ id: 'long', value: 'l' }], 60);
      await advance(400);
      assert.deepEqual(await store.getMany(['short', 'long']), ['s', 'l'], 'alive before the TTL');
      assert.equal(await holds(store, 'short'), true);
      await advance(700);
      assert.deepEqual(await store.getMany(['short', 'long']), [undefined, 'l'], 'gone after the TTL');
      assert.equal(await holds(store, 'short'), false);
    });

    test('a read with a TTL resets it for the hits; a read without one leaves it', async ({ store, advance }) => {
      await store.setMany(
        [
          { id: 'kept', value: 'k' },
          { id: 'left', value: 'l' },
        ],
        0.6,
      );
      await advance(300);
      assert.deepEqual(await store.getMany(['kept', 'absent'], 1.2), ['k', undefined]);
      assert.deepEqual(await store.getMany(['left']), ['l']);
      await advance(400); // past the original 0.6 s, within the new 1.2 s
      assert.deepEqual(await store.getMany(['kept', 'left', 'absent']), ['k', undefined, undefined]);
      assert.equal(await holds(store, 'absent'), false, 'a read with a TTL must not create entries');
      await advance(900); // past the extended TTL too
      assert.deepEqual(await store.getMany(['kept']), [undefined]);
      assert.equal(await holds(store, 'kept'), false);
    });

    test('has tells live entries from misses', async ({ store }) => {
      await store.setMany([{ id: 'here', value: 'x' }], 60);
      assert.equal(await holds(store, 'here'), true);
      assert.equal(await holds(store, 'there'), false);
    });
  });
}

// ---- MemoryL2 --------------------------------------------------------------------------------

l2Contract('MemoryL2', async () => {
  let now = 1_000;
  const store = new MemoryL2(10_000, () => now);
  return {
    store,
    advance: async (ms) => {
      now += ms;
    },
    cleanup: () => store.close(),
  };
});

// ---- RedisL2 ---------------------------------------------------------------------------------

const testPrefix = () => `vmem-test:${randomUUID().slice(0, 8)}:`;

/** Fails instead of hanging when `p` does not settle within `ms` (so `finally` blocks still run). */
async function within<T>(ms: number, p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

describe('RedisL2', () => {
  let server: TestRedis | undefined;
  let startError: unknown;
  before(async () => {
    try {
      server = await startRedis();
    } catch (err) {
      startError = err; // fail every Redis test with it (CI without redis-server), rather than cancel them
    }
  });
  after(async () => {
    await server?.stop();
  });
  const skipReason = () => {
    if (startError) throw startError;
    return server ? undefined : REDIS_MISSING;
  };

  const open = async (prefix: string, extra: Parameters<typeof RedisL2.open>[1] = {}) => {
    const store = await RedisL2.open(server!.url, { prefix, ...extra });
    assert.equal(store.available(), true, `RedisL2 could not connect to ${server!.url}`);
    return store;
  };

  l2Contract(
    'RedisL2',
    async () => {
      const prefix = testPrefix();
      const store = await open(prefix);
      return {
        store,
        advance: sleep,
        cleanup: async () => {
          await store.close();
          await deleteKeys(server!.url, `${prefix}*`);
        },
      };
    },
    skipReason,
  );

  describe('Redis specifics', () => {
    const test = (title: string, fn: (t: TestContext) => Promise<void>) =>
      it(title, { timeout: 30_000 }, async (t) => {
        const reason = skipReason();
        if (reason) {
          t.skip(reason);
          return;
        }
        await fn(t);
      });

    test('keys are ${prefix}page:${id} with a millisecond TTL; a read with a TTL resets it', async () => {
      const prefix = testPrefix();
      const store = await open(prefix);
      try {
        const byDefault = new RedisL2(server!.url);
        assert.equal(byDefault.key('p1'), 'vmem:page:p1', 'default prefix');
        await byDefault.close();
        await store.setMany([{ id: 'p1', value: 'text' }], 30);
        assert.equal(await command(server!.url, ['GET', `${prefix}page:p1`]), 'text');
        const pttl = (await command(server!.url, ['PTTL', `${prefix}page:p1`])) as number;
        assert.ok(pttl > 29_000 && pttl <= 30_000, `PTTL after setMany(…, 30) is ${pttl}`);
        assert.deepEqual(await store.getMany(['p1'], 90), ['text']);
        const touched = (await command(server!.url, ['PTTL', `${prefix}page:p1`])) as number;
        assert.ok(touched > 89_000 && touched <= 90_000, `PTTL after getMany(…, 90) is ${touched}`);
        assert.deepEqual(await store.getMany(['p1', 'absent'], 5), ['text', undefined]);
        const shortened = (await command(server!.url, ['PTTL', `${prefix}page:p1`])) as number;
        assert.ok(
          shortened > 4_000 && shortened <= 5_000,
          `the read sets the TTL (not max of old and new): ${shortened}`,
        );
        assert.equal(await command(server!.url, ['EXISTS', `${prefix}page:absent`]), 0, 'a miss is not created');
      } finally {
        await store.close();
        await deleteKeys(server!.url, `${prefix}*`);
      }
    });

    test('stores with different prefixes on one server do not see each other', async () => {
      const [pa, pb] = [testPrefix(), testPrefix()];
      const a = await open(pa);
      const b = await open(pb);
      try {
        await a.setMany(
          [
            { id: 'shared-id', value: 'from a' },
            { id: 'only-a', value: 'a' },
          ],
          60,
        );
        assert.deepEqual(await b.getMany(['shared-id', 'only-a']), [undefined, undefined]);
        assert.equal(await holds(b, 'only-a'), false);
        await b.setMany([{ id: 'shared-id', value: 'from b' }], 60);
        assert.deepEqual(await a.getMany(['shared-id']), ['from a']);
        assert.deepEqual(await b.getMany(['shared-id']), ['from b']);
        assert.deepEqual(await b.getMany(['only-a'], 60), [undefined]);
        assert.equal(await holds(b, 'only-a'), false);
        await b.close();
        assert.deepEqual(await a.getMany(['shared-id']), ['from a'], 'closing one store leaves the other working');
      } finally {
        await a.close();
        await b.close();
        await deleteKeys(server!.url, `${pa}*`);
        await deleteKeys(server!.url, `${pb}*`);
      }
    });

    // Down at start, lost mid-run and back: the networked-level contract (networked.test.ts).

    test('a hung server: commands time out into misses instead of blocking', async (t) => {
      const own = await startRedis({ ownServer: true });
      if (!own?.pid) {
        t.skip(`${REDIS_MISSING} (this test pauses its own server)`);
        return;
      }
      const errors: string[] = [];
      const store = await RedisL2.open(own.url, {
        prefix: testPrefix(),
        commandTimeoutMs: 300,
        onCommandError: (op, err) => errors.push(`${op}: ${err.message}`),
      });
      let paused = false;
      try {
        await store.setMany([{ id: 'a', value: 'x' }], 60);
        process.kill(own.pid, 'SIGSTOP');
        paused = true;
        const started = Date.now();
        assert.deepEqual(await within(2_000, store.getMany(['a']), 'getMany'), [undefined]);
        await within(2_000, store.setMany([{ id: 'b', value: 'y' }], 60), 'setMany');
        assert.deepEqual(await within(2_000, store.getMany(['a'], 60), 'getMany with a TTL'), [undefined]);
        assert.equal(await within(2_000, holds(store, 'a'), 'hasMany'), false);
        const took = Date.now() - started;
        assert.ok(took < 4 * 300 + 1_000, `four timed-out commands took ${took} ms`);
        assert.deepEqual(
          errors.map((e) => e.split(':')[0]),
          ['getMany', 'setMany', 'getMany', 'hasMany'],
        );
        process.kill(own.pid, 'SIGCONT');
        paused = false;
        await waitFor(() => store.available(), 'RedisL2 to be available again', { timeoutMs: 10_000 });
        assert.deepEqual(await store.getMany(['a']), ['x']);
      } finally {
        if (paused) process.kill(own.pid, 'SIGCONT');
        await store.close();
        await own.stop();
      }
    });
  });
});

// ---- lazy loading ----------------------------------------------------------------------------

describe('ioredis stays optional', () => {
  it('only the Redis modules (L2, the shared Redis of cluster/, the node directory) import ioredis, and nothing imports them statically', () => {
    const root = join(import.meta.dirname, '..', '..', 'src');
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        if (e.isDirectory()) walk(join(dir, e.name));
        else if (e.name.endsWith('.ts')) files.push(join(dir, e.name));
      }
    };
    walk(root);
    // A type-only import is erased at compile time: it loads nothing.
    const ioredisImporters = files.filter((f) =>
      /^\s*import\s+(?!type\b)[^;]*from\s+['"]ioredis['"]|import\(\s*['"]ioredis['"]\s*\)|require\(\s*['"]ioredis['"]\s*\)/m.test(
        readFileSync(f, 'utf8'),
      ),
    );
    assert.deepEqual(ioredisImporters.map((f) => relative(root, f)).sort(), [
      join('cluster', 'redis-nodes.ts'),
      join('cluster', 'redis.ts'),
      join('tiers', 'l2', 'redis.ts'),
    ]);
    const staticImporters = files.filter((f) =>
      /^\s*import\s+(?!type\b)[^;]*from\s+['"](?:[\w./-]*\/)?redis(?:-nodes)?\.js['"]/m.test(readFileSync(f, 'utf8')),
    );
    assert.deepEqual(
      staticImporters.map((f) => relative(root, f)),
      [],
      'load the Redis adapters with a dynamic import()',
    );
  });
});
