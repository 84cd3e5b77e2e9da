/**
 * The built binary's command line and start-up, spawned: help and version, strict flags and words,
 * empty env vars, and each start-up failure the user can fix as one line with exit code 2.
 */
import assert from 'node:assert/strict';
import { type SpawnSyncOptions, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { VERSION } from '../src/mcp/server.ts';
import { deferrals, tempDir } from './helpers.ts';
import { CLI, ENV } from './support/spawn.ts';

function vmem(args: string[], opts: SpawnSyncOptions = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: ENV, timeout: 60_000, ...opts });
  return { status: r.status, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** A user's mistake: exit 2, nothing on stdout, one line on stderr without a stack, matching `line`. */
function assertOneLine(r: ReturnType<typeof vmem>, line: RegExp): void {
  assert.equal(r.status, 2, r.stderr);
  assert.equal(r.stdout, '');
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line, got:\n${r.stderr}`);
  assert.match(lines[0]!, /^vmem: /);
  assert.match(lines[0]!, line);
}

describe('vmem command line', () => {
  test("-h, --help and help print the usage and exit 0; a command's --help prints its own", () => {
    for (const args of [['-h'], ['--help'], ['help']]) {
      const r = vmem(args);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /^vmem .*: virtual memory/);
      for (const c of ['serve', 'ingest', 'stats', 'reindex', 'demo']) assert.match(r.stdout, new RegExp(`vmem ${c}`));
      assert.match(r.stdout, /--max-sessions <v> +VMEM_MAX_SESSIONS/);
      assert.equal(r.stderr, '');
    }
    for (const args of [
      ['ingest', '--help'],
      ['help', 'ingest'],
      ['ingest', '-h'],
    ]) {
      const r = vmem(args);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /^Usage: vmem ingest <path>\.\.\. \| --watch <dir> \[options\]/);
      assert.match(r.stdout, /--data-dir <v>/);
      assert.doesNotMatch(r.stdout, /--port/, 'ingest does not list the HTTP options');
    }
    assert.match(vmem(['serve', '--help']).stdout, /--port <v> +VMEM_HTTP_PORT/);
  });

  test('--version and version print the version and exit 0', () => {
    for (const args of [['--version'], ['version']]) {
      const r = vmem(args);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, `${VERSION}\n`);
    }
  });

  test('an unknown flag, a flag without its value, an unknown command or an extra word: one line naming it, exit 2', () => {
    const { dir, cleanup } = tempDir();
    try {
      assertOneLine(vmem(['--bogus']), /unknown option --bogus; see vmem --help$/);
      assertOneLine(
        vmem(['stats', '--page-token', '500', '--data-dir', dir]),
        /unknown option --page-token; see vmem stats --help$/,
      );
      assertOneLine(vmem(['stats', '--data-dir']), /--data-dir.*argument missing; see vmem stats --help$/);
      assertOneLine(vmem(['frobnicate']), /unknown command "frobnicate"; see vmem --help$/);
      assertOneLine(
        vmem(['stats', 'extra', '--data-dir', dir]),
        /unexpected argument "extra" for vmem stats; see vmem stats --help$/,
      );
      assertOneLine(vmem(['serve', 'now', '--data-dir', dir]), /unexpected argument "now" for vmem serve/);
      assertOneLine(vmem(['ingest', '--http', dir, '--data-dir', dir]), /--http applies to vmem serve only/);
      assertOneLine(vmem(['ingest', '--data-dir', dir]), /give at least one file or directory/);
    } finally {
      cleanup();
    }
  });

  test('an empty VMEM_* variable is unset: its default applies', () => {
    const { dir, cleanup } = tempDir();
    try {
      const r = vmem(['stats'], {
        env: { ...ENV, VMEM_DATA_DIR: dir, VMEM_PAGE_TOKENS: '', VMEM_ENCODING: '', VMEM_REDIS_URL: '' },
      });
      assert.equal(r.status, 0, r.stderr);
      const stats = JSON.parse(r.stdout) as { data_dir: string; page_tokens: number; encoding: string; l2: string };
      assert.deepEqual(
        [stats.data_dir, stats.page_tokens, stats.encoding, stats.l2],
        [dir, 2000, 'o200k_base', 'memory'],
      );
    } finally {
      cleanup();
    }
  });

  test("ingest <path>... and the demo's flags keep working", () => {
    const { dir, cleanup } = tempDir();
    try {
      fs.writeFileSync(join(dir, 'a.md'), '# A\n\nPump station Kestrel was serviced in spring.\n');
      fs.writeFileSync(join(dir, 'b.md'), '# B\n\nPump station Heron was serviced in autumn.\n');
      const ing = vmem(['ingest', join(dir, 'a.md'), join(dir, 'b.md'), '--data-dir', join(dir, 'store')]);
      assert.equal(ing.status, 0, ing.stderr);
      assert.match(ing.stdout, /a\.md/);
      assert.match(ing.stdout, /b\.md/);
      const demo = vmem(['demo', '--data-dir', join(dir, 'demo'), '--l1-tokens', '8000']);
      assert.equal(demo.status, 0, demo.stderr);
      assert.match(
        demo.stdout,
        new RegExp(`data dir ${join(dir, 'demo')}, pages of 2000 tokens, L1 budget 8000 tokens`),
      );
    } finally {
      cleanup();
    }
  });
});

describe('vmem start-up failures the user can fix', () => {
  const DATA_DIR = /\(VMEM_DATA_DIR \/ --data-dir\)/;

  test('a data dir under a file (ENOTDIR): one line naming the setting, exit 2, before serving', () => {
    const { dir, cleanup } = tempDir();
    try {
      const file = join(dir, 'file');
      fs.writeFileSync(file, 'not a directory');
      for (const args of [['stats'], ['serve'], ['serve', '--http', '--port', '0'], ['ingest', file]]) {
        assertOneLine(
          vmem([...args, '--data-dir', join(file, 'store')]),
          new RegExp(
            `cannot write the data dir ${join(file, 'store')} ${DATA_DIR.source}: a part of the path is a file, not a directory`,
          ),
        );
      }
      assertOneLine(vmem(['stats', '--data-dir', file]), /it is a file, not a directory/);
    } finally {
      cleanup();
    }
  });

  test('an unwritable data dir (EACCES): one line naming the setting, exit 2', (t) => {
    // Root passes every permission check, so as root the binary runs as nobody, under a directory
    // root owns; otherwise the directory is made read-only.
    const asRoot = process.getuid?.() === 0;
    const nobody = { uid: 65534, gid: 65534, env: { ...ENV, HOME: '/nonexistent' } };
    if (asRoot && vmem(['--version'], nobody).status !== 0) {
      // A checkout inside a directory only root may enter (a `mktemp -d`, say): nobody cannot run it at all.
      t.skip('nobody (uid 65534) cannot run this checkout; clone it under a directory others may enter');
      return;
    }
    const { dir, cleanup } = tempDir();
    try {
      if (asRoot) fs.chmodSync(dir, 0o755);
      else fs.chmodSync(dir, 0o555);
      const r = vmem(['stats', '--data-dir', join(dir, 'store')], asRoot ? nobody : {});
      assertOneLine(
        r,
        new RegExp(
          `cannot write the data dir ${join(dir, 'store')} ${DATA_DIR.source}: permission denied; choose a writable directory$`,
        ),
      );
    } finally {
      fs.chmodSync(dir, 0o700);
      cleanup();
    }
  });

  test('a port in use (EADDRINUSE): one line naming the setting, exit 2', async (t) => {
    const defer = deferrals(t);
    const { dir, cleanup } = tempDir();
    defer(cleanup);
    const holder = net.createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
    defer(() => new Promise((r) => holder.close(r)));
    const port = (holder.address() as net.AddressInfo).port;
    const child = spawn(process.execPath, [CLI, 'serve', '--http', '--port', String(port), '--data-dir', dir], {
      env: ENV,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const status = await new Promise<number | null>((r) => child.on('exit', r));
    assertOneLine(
      { status, stdout, stderr },
      new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port} \\(VMEM_HTTP_PORT / --port\\): the address is in use`),
    );
  });

  test('an internal failure prints the error with its stack, exit 1', () => {
    const { dir, cleanup } = tempDir();
    try {
      // A store whose L3 directory is a file: not a setting the user chose, so it is reported as ours.
      fs.writeFileSync(join(dir, 'l3'), 'not a directory');
      const r = vmem(['stats', '--data-dir', dir]);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /^vmem: internal error: /);
      assert.match(r.stderr, /\n\s+at /, 'with its stack');
    } finally {
      cleanup();
    }
  });
});
