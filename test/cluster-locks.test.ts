/**
 * Locks and summary claims on the durable Redis of VMEM_CATALOG_URL, as vmem servers on several machines take
 * them: each "machine" here is a RedisLocks on a connection of its own. Also the check that refuses a Redis
 * that could lose the page table (AOF off, an evicting policy), and a clear error for one that cannot be reached.
 * Real redis-servers, started here; skipped with one visible line without redis-server (a failure when CI=true).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import { FileLocks } from '../src/cluster/file-locks.ts';
import { type Locks, lockNames } from '../src/cluster/locks.ts';
import { connectRedis, durabilityOf, openDurableRedis } from '../src/cluster/redis.ts';
import { RedisLocks } from '../src/cluster/redis-locks.ts';
import type { Compressor } from '../src/compress/compressor.ts';
import type { PageSummary } from '../src/core/page-table.ts';
import { tokenizer } from '../src/core/tokenizer.ts';
import { ConfigError, PageTableUnavailableError } from '../src/errors.ts';
import { Summarizer } from '../src/summarizer.ts';
import { FsL4 } from '../src/tiers/l4/fs.ts';
import { openStore } from '../src/wiring.ts';
import { deferrals, manualTimers, tempDir, testConfig } from './helpers.ts';
import { command, freePort, REDIS_MISSING, sleep, startRedis, type TestRedis } from './support/redis.ts';

let durable: TestRedis | undefined;
before(async () => {
  durable = await startRedis({ durable: true });
  if (!durable) console.log(`# cluster-locks: skipped, ${REDIS_MISSING}`);
});
after(() => durable?.stop());

/** The durable server's URL, or a skip when there is none. */
function server(t: import('node:test').TestContext): string | undefined {
  if (!durable) t.skip(REDIS_MISSING);
  return durable?.url;
}

interface Machine {
  client: Redis;
  locks: RedisLocks;
}

/** Two machines sharing one Redis: each with its own connection and locks, under one fresh namespace. */
async function machines(t: import('node:test').TestContext) {
  const url = server(t);
  if (!url) return undefined;
  const defer = deferrals(t);
  const namespace = `test-${randomBytes(4).toString('hex')}`;
  const out: Machine[] = [];
  for (let i = 0; i < 2; i++) {
    const client = await openDurableRedis(url);
    const locks = new RedisLocks(client, { namespace, describe: `the Redis at ${url}`, ownsClient: true });
    defer(() => locks.close());
    out.push({ client, locks });
  }
  return { url, namespace, machines: out as [Machine, Machine] };
}

/** Whoever holds `key` now (its token), or null. */
const holder = (url: string, key: string) => command(url, ['GET', key]);

describe('locks on a shared Redis', () => {
  test('two machines claim one page: one wins; its release lets the other in', async (t) => {
    const m = await machines(t);
    if (!m) return;
    const [a, b] = m.machines;
    const name = lockNames.claim('p0123456789abcdef');
    const [ra, rb] = await Promise.all([a.locks.tryClaim(name, 60_000), b.locks.tryClaim(name, 60_000)]);
    assert.equal([ra, rb].filter(Boolean).length, 1, 'exactly one machine holds the claim');
    const [winner, loser] = ra ? [a, b] : [b, a];
    assert.equal(await loser.locks.tryClaim(name, 60_000), undefined);
    await (ra ?? rb)!();
    const again = await loser.locks.tryClaim(name, 60_000);
    assert.ok(again, 'released, the claim goes to the other machine');
    assert.equal(await winner.locks.tryClaim(name, 60_000), undefined);
    await again();
    assert.equal(await holder(m.url, a.locks.key(name)), null, 'a release leaves no key behind');
  });

  test('a holder that dies without releasing loses its claim once its TTL has passed', async (t) => {
    const m = await machines(t);
    if (!m) return;
    const [a, b] = m.machines;
    const name = lockNames.claim('pdead');
    assert.ok(await a.locks.tryClaim(name, 1500));
    // The machine goes away: its connection closes, nothing is released, nothing renews.
    a.client.disconnect();
    assert.equal(await b.locks.tryClaim(name, 1500), undefined, 'still held right after');
    let taken: (() => Promise<void>) | undefined;
    while (!(taken = await b.locks.tryClaim(name, 1500))) await sleep(100);
    await taken();
  });

  test('a live holder renews its lock: it outlasts several TTLs', async (t) => {
    const m = await machines(t);
    if (!m) return;
    const [a, b] = m.machines;
    const name = lockNames.lifecycle;
    const release = await a.locks.tryClaim(name, 1000);
    assert.ok(release);
    const token = await holder(m.url, a.locks.key(name));
    await sleep(3500);
    assert.equal(await b.locks.tryClaim(name, 1000), undefined, 'the long holder still holds it');
    assert.equal(await holder(m.url, a.locks.key(name)), token, 'the same holding');
    await release();
    assert.ok(await b.locks.tryClaim(name, 1000));
  });

  test("a release after the lock expired never deletes the next holder's lock", async (t) => {
    const m = await machines(t);
    if (!m) return;
    const [a, b] = m.machines;
    const name = lockNames.lifecycle;
    const key = a.locks.key(name);
    const late = await a.locks.tryClaim(name, 300);
    assert.ok(late);
    // As when the holder stalled past its TTL (a pause, a partition): the key is gone, another takes it.
    await command(m.url, ['DEL', key]);
    const next = await b.locks.tryClaim(name, 60_000);
    assert.ok(next);
    const token = await holder(m.url, key);
    await sleep(400); // the late holder's renewals tick meanwhile: they must not touch the new holding
    await late();
    assert.equal(await holder(m.url, key), token, 'the new holder keeps its lock');
    assert.ok(((await command(m.url, ['PTTL', key])) as number) > 1000, 'the new holding keeps its own TTL');
    await next();
  });

  test('withLock serializes critical sections across machines', async (t) => {
    const m = await machines(t);
    if (!m) return;
    let inside = 0;
    let most = 0;
    let done = 0;
    const section = async () => {
      inside++;
      most = Math.max(most, inside);
      await sleep(20);
      inside--;
      done++;
    };
    await Promise.all(
      m.machines.flatMap(({ locks }) => [1, 2, 3, 4].map(() => locks.withLock(lockNames.lifecycle, section))),
    );
    assert.equal(done, 8);
    assert.equal(most, 1, 'two sections ran at once');
  });

  test('two summarizers with separate data dirs, claims on one Redis: a page is summarized once', async (t) => {
    const m = await machines(t);
    if (!m) return;
    const runs = summarizersOver(
      t,
      m.machines.map((x) => x.locks),
    );
    assert.equal(await runs.race('p1'), 1, 'the page was compressed by both machines');
  });

  test('(the same with claims in each data dir, as before: both compress, which is what the Redis claims prevent)', async (t) => {
    const defer = deferrals(t);
    const locks = [0, 1].map(() => {
      const { dir, cleanup } = tempDir('vmem-claims-');
      defer(cleanup);
      return FileLocks.inDataDir(dir);
    });
    assert.equal(await summarizersOver(t, locks).race('p1'), 2);
  });
});

/**
 * Summarizers on two machines sharing L4 (`saved`, where a summary lands) but nothing else. `race` asks both for
 * one page while the first compression is held, and says how many compressions ran.
 */
function summarizersOver(t: import('node:test').TestContext, claims: Locks[]) {
  const defer = deferrals(t);
  const saved = new Map<string, PageSummary>();
  const held: (() => void)[] = [];
  let compressions = 0;
  /** Resolved when the first and the second compression have started. */
  const opens: (() => void)[] = [];
  const started = [0, 1].map(() => new Promise<void>((r) => opens.push(r)));
  const compressor: Compressor = {
    name: 'held',
    async compress(text) {
      const done = new Promise<void>((r) => held.push(r));
      opens[compressions++]?.();
      await done;
      return text.slice(0, 8);
    },
  };
  const summarizers = claims.map((locks) => {
    const s = new Summarizer(
      {
        text: async (id) => `text of ${id}`,
        summarized: async (id) => saved.has(id),
        save: async (id, summary) => void saved.set(id, summary),
      },
      {
        compressor,
        tokenizer: tokenizer('cl100k_base'),
        ratio: 4,
        concurrency: 1,
        claims: locks,
        timers: manualTimers(),
      },
    );
    defer(() => s.close(0));
    return s;
  });
  return {
    async race(pageId: string): Promise<number> {
      const [first, second] = summarizers as [Summarizer, Summarizer];
      first.enqueue([pageId]);
      await started[0]; // the first machine holds the claim and is compressing
      second.enqueue([pageId]);
      // The second gives up (the claim is held) or compresses too.
      await Promise.race([second.idle(), started[1]]);
      for (const r of held.splice(0)) r();
      await Promise.all([first.idle(), second.idle()]);
      assert.ok(saved.has(pageId));
      return compressions;
    },
  };
}

describe('the durable Redis check (VMEM_CATALOG_URL)', () => {
  test('accepts an instance with AOF on and noeviction', async (t) => {
    const url = server(t);
    if (!url) return;
    const client = await openDurableRedis(url);
    try {
      const found = await durabilityOf(client);
      assert.deepEqual([found.appendonly, found.maxmemoryPolicy, found.via], [true, 'noeviction', 'CONFIG']);
    } finally {
      client.disconnect();
    }
  });

  test('refuses an instance without AOF, naming the setting, what it found and the fix', async (t) => {
    if (!server(t)) return;
    const plain = await startRedis({ ownServer: true });
    assert.ok(plain);
    t.after(() => plain.stop());
    await command(plain.url, ['CONFIG', 'SET', 'maxmemory-policy', 'noeviction']);
    await assert.rejects(openDurableRedis(plain.url), (err: Error) => {
      assert.ok(err instanceof ConfigError, String(err));
      assert.match(err.message, /VMEM_CATALOG_URL/);
      assert.match(err.message, /appendonly is no/);
      assert.doesNotMatch(err.message, /maxmemory-policy is/);
      assert.match(err.message, /redis-server --appendonly yes --maxmemory-policy noeviction/);
      return true;
    });
  });

  test('refuses an evicting instance (allkeys-lru, as an L2 cache runs), by CONFIG or, where CONFIG is denied, by INFO', async (t) => {
    const url = server(t);
    if (!url) return;
    await command(url, ['CONFIG', 'SET', 'maxmemory-policy', 'allkeys-lru']);
    t.after(() => command(url, ['CONFIG', 'SET', 'maxmemory-policy', 'noeviction']));
    const user = `noconfig${randomBytes(3).toString('hex')}`;
    await command(url, ['ACL', 'SETUSER', user, 'on', '>pw', '~*', '&*', '+@all', '-config']);
    t.after(() => command(url, ['ACL', 'DELUSER', user]));
    const port = new URL(url).port;
    for (const target of [url, `redis://${user}:pw@127.0.0.1:${port}`]) {
      await assert.rejects(openDurableRedis(target), (err: Error) => {
        assert.ok(err instanceof ConfigError, String(err));
        assert.match(err.message, /VMEM_CATALOG_URL/);
        assert.match(err.message, /maxmemory-policy is allkeys-lru/);
        assert.match(err.message, /separate instance from the L2 cache/);
        assert.doesNotMatch(err.message, /:pw@/, 'the password stays out of messages');
        return true;
      });
    }
    await command(url, ['CONFIG', 'SET', 'maxmemory-policy', 'noeviction']);
    const client = await openDurableRedis(`redis://${user}:pw@127.0.0.1:${port}`);
    try {
      assert.equal((await durabilityOf(client)).via, 'INFO', 'CONFIG denied: read from INFO');
    } finally {
      client.disconnect();
    }
  });

  test('an unreachable URL fails at once with an error naming it (without its password)', async () => {
    const url = `redis://:secret@127.0.0.1:${await freePort()}`;
    await assert.rejects(connectRedis(url, { connectTimeoutMs: 2000 }), (err: Error) => {
      assert.ok(err instanceof PageTableUnavailableError, String(err));
      assert.equal(err.audience, 'operator');
      assert.match(err.message, /cannot reach the Redis at redis:\/\/127\.0\.0\.1:\d+/);
      assert.match(err.message, /VMEM_CATALOG_URL/);
      assert.doesNotMatch(err.message, /secret/);
      return true;
    });
  });

  test('wiring: locks on Redis when VMEM_CATALOG_URL is set (checked), else files in the data dir', async (t) => {
    const url = server(t);
    if (!url) return;
    const { dir, cleanup } = tempDir('vmem-wiring-');
    t.after(cleanup);
    const files = await openStore(testConfig(dir));
    t.after(() => files.catalog.close());
    assert.equal(files.locks.kind, 'files');
    // Shared: L4 must be where every node reaches it; the data dir's files stand in for the bucket here.
    const sharedFlags = { '--catalog-url': url, '--l4-url': 's3://vmem-test', '--namespace': 'wiring' };
    const l4 = await FsL4.open(join(dir, 'bucket'));
    const shared = await openStore(testConfig(join(dir, 'node'), sharedFlags), { l4 });
    assert.equal(shared.locks.kind, 'redis');
    await shared.catalog.close();
    const plain = await startRedis({ ownServer: true });
    assert.ok(plain);
    t.after(() => plain.stop());
    await assert.rejects(
      openStore(testConfig(join(dir, 'other'), { ...sharedFlags, '--catalog-url': plain.url }), { l4 }),
      ConfigError,
    );
    // The file implementation keeps the data dir's paths.
    const release = await files.locks.tryClaim(lockNames.claim('pabc'), 60_000);
    assert.ok(release);
    assert.ok((await import('node:fs')).existsSync(join(dir, 'claims', 'pabc')));
    await release();
  });
});
