/**
 * The package as a user installs it: `npm pack` of the project (its `prepare` builds the bundle), the
 * tarball installed into an empty folder without devDependencies, and the installed `vmem` command
 * driven over stdio by the SDK client. Also: the install is light (no heavy backend, ≤ 30 MB), and a
 * backend setting without its package stops vmem with one line naming the package (exit 2).
 * Without the npm registry the test is skipped with the reason, except in CI, where it fails.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { ENCODINGS } from '../src/config.ts';
import { tokenizer } from '../src/core/tokenizer.ts';
import { VERSION } from '../src/mcp/server.ts';
import { OPTIONAL_PACKAGES } from '../src/optional.ts';
import { chapters, REPO, TOOL_NAMES, tempDir } from './helpers.ts';
import {
  HEAVY_BACKENDS,
  installInto,
  MB,
  NpmError,
  packProject,
  registryUnreachable,
  treeBytes,
} from './support/package.ts';
import { connectStdio, ENV } from './support/spawn.ts';

/** The installed size the embedded defaults must stay within. */
const INSTALL_LIMIT_MB = 30;

const pkg = JSON.parse(fs.readFileSync(join(REPO, 'package.json'), 'utf8')) as Record<
  string,
  Record<string, unknown> | undefined
>;

test('package.json: no runtime dependencies; @aws-sdk/client-s3, chromadb, ioredis and openai optional peers, as src/optional.ts names them', () => {
  assert.equal(pkg.dependencies, undefined, 'everything the embedded defaults run is bundled into dist/');
  assert.deepEqual(pkg.peerDependencies, OPTIONAL_PACKAGES);
  assert.deepEqual(Object.keys(OPTIONAL_PACKAGES).sort(), HEAVY_BACKENDS);
  for (const [name, range] of Object.entries(OPTIONAL_PACKAGES)) {
    assert.deepEqual(pkg.peerDependenciesMeta?.[name], { optional: true });
    assert.equal(pkg.devDependencies?.[name], range, `${name} stays a devDependency, for the tests and the bench`);
  }
  assert.deepEqual(pkg.bin, { vmem: 'dist/cli.js' });
});

test('the packed package, installed into an empty folder with --omit=dev', { timeout: 240_000 }, async (t) => {
  const tmp = tempDir('vmem-package-');
  t.after(() => tmp.cleanup());
  const app = join(tmp.dir, 'app');
  try {
    installInto(app, packProject(REPO, join(tmp.dir, 'pack')));
  } catch (err) {
    const unreachable = err instanceof NpmError ? registryUnreachable(err.output) : undefined;
    if (unreachable && process.env.CI !== 'true') return t.skip(`npm could not reach the registry: ${unreachable}`);
    throw err;
  }
  const modules = join(app, 'node_modules');
  const installed = join(modules, 'vmem');
  const bin = join(modules, '.bin', 'vmem');

  await t.test(`light: vmem alone, no heavy backend, at most ${INSTALL_LIMIT_MB} MB`, () => {
    assert.deepEqual(
      fs.readdirSync(modules).filter((n) => !n.startsWith('.')),
      ['vmem'],
    );
    for (const name of HEAVY_BACKENDS) assert.ok(!fs.existsSync(join(modules, name)), `${name} is not installed`);
    const mb = treeBytes(modules) / MB;
    console.log(`installed size (embedded defaults): ${mb.toFixed(1)} MB`);
    assert.ok(mb <= INSTALL_LIMIT_MB, `${mb.toFixed(1)} MB installed`);
  });

  await t.test("what the package holds: the bundle, both encodings' ranks, licenses; no sources", () => {
    const files = fs.readdirSync(installed, { recursive: true }).map(String);
    for (const f of [
      'dist/cli.js',
      'dist/THIRD-PARTY-LICENSES.md',
      'README.md',
      'package.json',
      'schemas/snapshot-v1.schema.json',
      ...ENCODINGS.map((e) => `dist/ranks/${e}.json`),
    ]) {
      assert.ok(files.includes(f), `${f} is in the package`);
    }
    for (const dir of ['src', 'test', 'scripts', 'bench', 'node_modules'])
      assert.ok(!files.includes(dir), `${dir}/ is not`);
  });

  await t.test('the command: linked in node_modules/.bin, executable, with its shebang', () => {
    const target = fs.realpathSync(bin);
    assert.equal(target, fs.realpathSync(join(installed, 'dist', 'cli.js')));
    assert.ok(fs.statSync(target).mode & 0o111, 'executable');
    assert.ok(fs.readFileSync(target, 'utf8').startsWith('#!/usr/bin/env node\n'));
    const r = spawnSync(bin, ['--version'], { encoding: 'utf8', env: ENV });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), VERSION);
  });

  await t.test('vmem serve over stdio: initialize, list tools, ingest a text, page_fault it back', async () => {
    const { client } = await connectStdio({
      command: bin,
      args: ['serve', '--data-dir', join(tmp.dir, 'data')],
      env: ENV,
    });
    try {
      assert.equal(client.getServerVersion()?.name, 'vmem');
      const { tools } = await client.listTools();
      assert.deepEqual(tools.map((x) => x.name).sort(), TOOL_NAMES);
      const text = `${chapters(1)}\n\nThe harbour master keeps the spare lantern key in the blue tin under the third stair.\n`;
      const ingest = (await client.callTool({
        name: 'ingest',
        arguments: { text, source: 'harbour.md' },
      })) as CallToolResult;
      assert.equal(ingest.isError, undefined, JSON.stringify(ingest.content));
      const ingested = ingest.structuredContent as { total_pages: number; total_tokens: number };
      assert.equal(
        ingested.total_tokens,
        tokenizer('o200k_base').count(text),
        "the bundled o200k_base ranks count as js-tiktoken's",
      );
      const fault = (await client.callTool({
        name: 'page_fault',
        arguments: { query: 'where is the spare lantern key kept', max_pages: 1 },
      })) as CallToolResult;
      assert.equal(fault.isError, undefined, JSON.stringify(fault.content));
      const page = (fault.structuredContent as { pages: { text?: string; level: string; source: string }[] }).pages[0]!;
      assert.equal(page.source, 'harbour.md');
      assert.equal(page.level, 'L4');
      assert.match(page.text!, /spare lantern key in the blue tin/);
    } finally {
      await client.close();
    }
  });

  await t.test("the other encoding's ranks load too (vmem ingest --encoding cl100k_base)", () => {
    const file = join(tmp.dir, 'chapter.md');
    const text = chapters(2);
    fs.writeFileSync(file, text);
    const r = spawnSync(bin, ['ingest', file, '--data-dir', join(tmp.dir, 'cl100k'), '--encoding', 'cl100k_base'], {
      encoding: 'utf8',
      env: ENV,
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(` ${tokenizer('cl100k_base').count(text)} tokens `));
  });

  await t.test('a setting that needs a package not installed: one line naming it and how to add it, exit 2', () => {
    const cases: [Record<string, string>, string, string][] = [
      [{ VMEM_CHROMA_URL: 'http://127.0.0.1:9' }, 'VMEM_CHROMA_URL / --chroma-url is set', 'chromadb'],
      [{ VMEM_REDIS_URL: 'redis://127.0.0.1:9' }, 'VMEM_REDIS_URL / --redis-url is set', 'ioredis'],
      [
        { VMEM_COMPRESSOR: 'openai', VMEM_OPENAI_BASE_URL: 'http://127.0.0.1:9/v1' },
        'VMEM_COMPRESSOR / --compressor is openai',
        'openai',
      ],
    ];
    for (const [env, why, name] of cases) {
      const r = spawnSync(bin, ['serve', '--data-dir', join(tmp.dir, 'data')], {
        encoding: 'utf8',
        env: { ...ENV, ...env },
        input: '',
      });
      assert.equal(r.status, 2, r.stderr);
      assert.equal(r.stdout, '');
      const lines = r.stderr.trimEnd().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      const line = lines[0]!;
      const spec = `${name}@${OPTIONAL_PACKAGES[name as keyof typeof OPTIONAL_PACKAGES]}`;
      assert.ok(line.startsWith(`vmem: ${why} but the package ${name} is not installed; `), line);
      assert.ok(line.includes(`npm install -g ${spec}`) && line.includes(`npm install ${spec}`), line);
    }
  });
});
