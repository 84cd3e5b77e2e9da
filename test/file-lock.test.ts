/**
 * The file lock shared by processes on one data dir (the catalog's appends, the L3 log, summary claims):
 * created complete, broken at once when its holder is gone from this host, and never broken by two waiters.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { tryLock } from '../src/store/file-lock.ts';
import { deadPid, deferrals, fakeClock, REPO, tempDir } from './helpers.ts';

const HOUR = 3_600_000;

/** A promise the test opens when it chooses: the point where one racer waits for another. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { opened, open };
}

/** A lock file as another holder would have written it. */
const owner = (o: { pid?: number; host?: string; at?: number }) =>
  JSON.stringify({
    pid: o.pid ?? process.pid,
    host: o.host ?? hostname(),
    nonce: '0123456789abcdef',
    at: o.at ?? Date.now(),
  });

function setup(t: import('node:test').TestContext) {
  const defer = deferrals(t);
  const { dir, cleanup } = tempDir('vmem-lock-');
  defer(cleanup);
  const tmpDir = join(dir, 'tmp');
  /** Everything left in the directory but the lock itself: temp files, breakers. */
  const litter = () =>
    fs
      .readdirSync(dir)
      .filter((f) => f !== 'tmp' && f !== 'lock')
      .concat(fs.existsSync(tmpDir) ? fs.readdirSync(tmpDir) : []);
  return { dir, lock: join(dir, 'lock'), tmpDir, litter };
}

describe('file lock', () => {
  test('held while its holder lives; taken again once released; it leaves nothing behind', async (t) => {
    const { lock, tmpDir, litter } = setup(t);
    const release = await tryLock(lock, { tmpDir });
    assert.ok(release);
    assert.equal(
      JSON.parse(fs.readFileSync(lock, 'utf8')).pid,
      process.pid,
      'the lock names its holder from the start',
    );
    assert.equal(await tryLock(lock, { tmpDir, staleMs: HOUR }), undefined);
    await release();
    assert.equal(fs.existsSync(lock), false);
    const again = await tryLock(lock, { tmpDir });
    assert.ok(again);
    await again();
    assert.deepEqual(litter(), []);
  });

  test('a lock whose holder is gone from this host is broken at once, however young', async (t) => {
    const { lock, tmpDir, litter } = setup(t);
    fs.writeFileSync(lock, owner({ pid: deadPid() }));
    const release = await tryLock(lock, { tmpDir, staleMs: HOUR });
    assert.ok(release, 'not broken although its holder is dead');
    await release();
    assert.deepEqual(litter(), []);
  });

  test('a lock from another host, or one that cannot be read, is broken only past staleMs', async (t) => {
    const { lock, tmpDir, litter } = setup(t);
    const at = Date.now();
    const cases: [string, () => void][] = [
      ['another host', () => fs.writeFileSync(lock, owner({ host: 'elsewhere.example', pid: deadPid(), at }))],
      ['unreadable content', () => fs.writeFileSync(lock, '')],
      ['a directory (the locks of earlier vmem versions)', () => fs.mkdirSync(lock)],
    ];
    for (const [what, make] of cases) {
      make();
      const young = await tryLock(lock, { tmpDir, staleMs: 60_000, now: () => at + 59_000 });
      assert.equal(young, undefined, `${what}: broken while young`);
      const old = await tryLock(lock, { tmpDir, staleMs: 60_000, now: () => at + 61_000 });
      assert.ok(old, `${what}: not broken past staleMs`);
      await old();
    }
    assert.deepEqual(litter(), []);
  });

  test('a breaker left by a waiter killed while breaking does not block the next one', async (t) => {
    const { lock, tmpDir } = setup(t);
    fs.writeFileSync(lock, owner({ pid: deadPid() }));
    fs.writeFileSync(
      `${lock}.0123456789abcdef.break`,
      owner({ pid: deadPid() }).replace('0123456789abcdef', 'fedcba9876543210'),
    );
    const release = await tryLock(lock, { tmpDir, staleMs: HOUR });
    assert.ok(release);
    await release();
  });

  test('two waiters judging a lock stale: the second does not remove the fresh lock the first has just taken', async (t) => {
    const { lock, tmpDir, litter } = setup(t);
    fs.writeFileSync(lock, owner({ pid: deadPid() }));
    const judged = gate();
    const resume = gate();
    // The second waiter judges the dead holder's lock stale, then stalls before breaking it ...
    const second = tryLock(lock, {
      tmpDir,
      staleMs: HOUR,
      pause: async (at) => {
        if (at !== 'judged') return;
        judged.open();
        await resume.opened;
      },
    });
    await judged.opened;
    // ... while the first judges it stale too, breaks it and takes the lock.
    const first = await tryLock(lock, { tmpDir, staleMs: HOUR });
    assert.ok(first, 'the first waiter did not take the stale lock');
    const fresh = fs.readFileSync(lock, 'utf8');
    resume.open();
    assert.equal(await second, undefined, 'the second waiter took a lock the first holds');
    assert.equal(fs.readFileSync(lock, 'utf8'), fresh, "the first waiter's fresh lock was removed");
    await first();
    assert.deepEqual(litter(), []);
  });

  test("a holder releasing its aged lock while a waiter breaks it: the next holder's fresh lock is not removed", async (t) => {
    const { lock, tmpDir, litter } = setup(t);
    const clock = fakeClock();
    const opts = { tmpDir, staleMs: 60_000, now: clock.now };
    const release = await tryLock(lock, opts);
    assert.ok(release);
    clock.advance(61_000); // the holder lives on past staleMs: its lock may be broken
    const removing = gate();
    const resume = gate();
    // A waiter holds the breaker and has seen the aged lock, about to remove it ...
    const breaker = tryLock(lock, {
      ...opts,
      pause: async (at) => {
        if (at !== 'removing') return;
        removing.open();
        await resume.opened;
      },
    });
    await removing.opened;
    // ... when its holder releases it and another waiter takes the lock.
    await release();
    const next = await tryLock(lock, opts);
    resume.open();
    const broke = await breaker;
    const holders = [next, broke].filter((r) => r !== undefined);
    assert.equal(holders.length, 1, `${holders.length} holders at once`);
    assert.ok(fs.existsSync(lock), "the new holder's fresh lock was removed");
    await holders[0]!();
    assert.deepEqual(litter(), []);
  });

  test("waiters in several processes racing over a SIGKILLed holder's lock: one at a time, and the dead holder's lock is broken by its pid", {
    timeout: 120_000,
  }, async (t) => {
    const { dir, lock, tmpDir, litter } = setup(t);
    const counter = join(dir, 'counter');
    const inside = join(dir, 'inside');
    fs.writeFileSync(counter, '0');
    const [PROCESSES, WAITERS, ROUNDS] = [4, 8, 5];
    // staleMs of an hour: only the dead holder's pid can break its lock within the test's timeout.
    const opts = JSON.stringify({ tmpDir, staleMs: HOUR });
    const child = (code: string): ChildProcess => {
      const c = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          '--input-type=module',
          '-e',
          `import { withFileLock } from './src/store/file-lock.ts'; import fs from 'node:fs/promises';\n${code}`,
        ],
        {
          cwd: REPO,
          stdio: ['pipe', 'pipe', 'inherit'],
        },
      );
      t.after(() => void c.kill('SIGKILL'));
      return c;
    };
    const line = (c: ChildProcess) =>
      new Promise<string>((resolve, reject) => {
        let out = '';
        c.stdout!.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('\n')) resolve(out.trim());
        });
        c.on('exit', (code) => reject(new Error(`child exited (${code}) before writing a line: ${out}`)));
      });
    const exited = (c: ChildProcess) =>
      new Promise<number | null>((resolve) =>
        c.exitCode !== null || c.signalCode !== null ? resolve(c.exitCode) : c.on('exit', (code) => resolve(code)),
      );

    const holder = child(
      `await withFileLock(${JSON.stringify(lock)}, () => { console.log('held'); return new Promise(() => setInterval(() => {}, 1000)); }, ${opts});`,
    );
    assert.equal(await line(holder), 'held');
    holder.kill('SIGKILL');
    await exited(holder); // reaped: its pid is no longer running
    assert.equal(
      JSON.parse(fs.readFileSync(lock, 'utf8')).pid,
      holder.pid,
      "fixture: the dead holder's lock is in place",
    );

    const waiters = Array.from({ length: PROCESSES }, () =>
      child(`
        let overlaps = 0;
        console.log('ready');
        await new Promise((r) => process.stdin.once('data', r));
        await Promise.all(Array.from({ length: ${WAITERS} }, async () => {
          for (let i = 0; i < ${ROUNDS}; i++) {
            await withFileLock(${JSON.stringify(lock)}, async () => {
              // Exclusive create fails when another holder is inside.
              await fs.writeFile(${JSON.stringify(inside)}, String(process.pid), { flag: 'wx' }).catch(() => overlaps++);
              const n = Number(await fs.readFile(${JSON.stringify(counter)}, 'utf8'));
              await new Promise((r) => setImmediate(r));
              await fs.writeFile(${JSON.stringify(counter)}, String(n + 1));
              await fs.rm(${JSON.stringify(inside)}, { force: true });
            }, ${opts});
          }
        }));
        console.log(JSON.stringify({ overlaps }));`),
    );
    const ready = waiters.map(line);
    for (const r of ready) assert.equal(await r, 'ready');
    const results = waiters.map((w) => {
      let out = '';
      w.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      return exited(w).then((code) => ({ code, out }));
    });
    for (const w of waiters) w.stdin!.end('go\n'); // all at once, onto the dead holder's lock
    for (const { code, out } of await Promise.all(results)) {
      assert.equal(code, 0, out);
      assert.deepEqual(JSON.parse(out.trim().split('\n').at(-1)!), { overlaps: 0 });
    }
    assert.equal(
      Number(fs.readFileSync(counter, 'utf8')),
      PROCESSES * WAITERS * ROUNDS,
      'an increment was lost: two holders at once',
    );
    assert.equal(fs.existsSync(lock), false);
    assert.deepEqual(
      litter().filter((f) => f !== 'counter'),
      [],
    );
  });
});
