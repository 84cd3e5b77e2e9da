/**
 * The MCP Bundle for Claude Desktop: mcpb/manifest.json validates and stays in step with package.json
 * and the settings of src/config.ts; scripts/build-mcpb.sh builds the bundle; and the built bundle,
 * unpacked, starts as Claude Desktop starts it: its mcp_config resolved by @anthropic-ai/mcpb's own
 * getMcpConfigForManifest (the code the app uses to substitute ${__dirname} and ${user_config.*}),
 * spawned, and driven by the SDK client over stdio. The build installs the bundle's dependencies with
 * npm: without the registry the build is skipped with the reason, except in CI, where it fails.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { delimiter, join } from 'node:path';
import { describe, test } from 'node:test';
import type { McpbManifestAny } from '@anthropic-ai/mcpb';
import { getMcpConfigForManifest } from '@anthropic-ai/mcpb/node';
import { COMPRESSORS, SETTINGS } from '../src/config.ts';
import { call, deferrals, REPO, TOOL_NAMES, tempDir } from './helpers.ts';
import { connectStdio, ENV } from './support/spawn.ts';

const MANIFEST_FILE = join(REPO, 'mcpb', 'manifest.json');
const manifest = JSON.parse(fs.readFileSync(MANIFEST_FILE, 'utf8')) as McpbManifestAny;
const pkg = JSON.parse(fs.readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string };
const MCPB = join(REPO, 'node_modules', '@anthropic-ai', 'mcpb', 'dist', 'cli', 'cli.js');

/** Runs a command to its end without blocking the event loop. */
function run(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Spawns a server as an MCP host does, with the SDK client on its stdio. */
async function startServer(
  command: string,
  args: string[],
  env: Record<string, string>,
  defer: (fn: () => unknown) => void,
) {
  // The apps that run bundles have Node ≥ 22.13, with node:sqlite; on Node 20 (ENV says how) the
  // repository's better-sqlite3 stands in for it.
  const connected = await connectStdio({
    command,
    args,
    env: { ...env, ...(ENV.NODE_PATH && { NODE_PATH: ENV.NODE_PATH }) },
  });
  // Closed before the temp dirs it writes to are removed.
  defer(() => connected.client.close());
  return connected;
}

describe('MCP Bundle (mcpb/manifest.json)', () => {
  test('the manifest validates with mcpb and matches package.json and the settings vmem reads', () => {
    const r = spawnSync(process.execPath, [MCPB, 'validate', MANIFEST_FILE], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /validation passes/);

    assert.equal(manifest.version, pkg.version, 'the bundle version is the package version');
    assert.equal(manifest.server.type, 'node');
    assert.equal(manifest.server.mcp_config.command, 'node');
    assert.deepEqual(manifest.server.mcp_config.args, [
      `\${__dirname}/${manifest.server.entry_point}`,
      '${user_config.ingest_roots}',
    ]);
    assert.deepEqual(manifest.tools?.map((x) => x.name).sort(), TOOL_NAMES);

    // Every variable set is one vmem reads, from a user setting that exists and is never left as a
    // literal placeholder: an optional setting has a default ("" is unset for vmem).
    const known = new Set([...Object.values(SETTINGS).map((s) => s.env), 'OPENAI_API_KEY']);
    const userConfig = manifest.user_config ?? {};
    for (const [name, value] of Object.entries((manifest.server.mcp_config.env ?? {}) as Record<string, string>)) {
      assert.ok(known.has(name), `${name} is a setting of src/config.ts`);
      const key = /^\$\{user_config\.([a-z0-9_]+)\}$/.exec(value)?.[1];
      assert.ok(key && userConfig[key], `${name} comes from a user_config entry`);
      assert.ok(userConfig[key].required || userConfig[key].default !== undefined, `${key} has a default`);
    }
    assert.equal(userConfig.l1_tokens?.type, 'number');
    assert.equal(String(userConfig.l1_tokens?.default), SETTINGS.l1Tokens.default({}));
    assert.equal(userConfig.compressor?.default, SETTINGS.compressor.default({}));
    for (const c of COMPRESSORS) assert.match(userConfig.compressor!.description, new RegExp(`\\b${c}\\b`));
    assert.equal(userConfig.data_dir?.type, 'directory');
    assert.equal(userConfig.ingest_roots?.type, 'directory');
    assert.equal(userConfig.ingest_roots?.multiple, true);
    assert.equal(userConfig.openai_api_key?.sensitive, true);
  });

  test('scripts/build-mcpb.sh builds the bundle, and its server starts and serves as Claude Desktop runs it', {
    timeout: 180_000,
  }, async (t) => {
    const defer = deferrals(t);
    const out = tempDir('vmem-mcpb-out-');
    defer(out.cleanup);
    // dist/ is built by `npm test`; rebuilding it here would rewrite files other test files are running.
    const built = await run('bash', [join(REPO, 'scripts', 'build-mcpb.sh'), '--no-build', out.dir]);
    if (built.code === 75 && process.env.CI !== 'true') {
      return t.skip(
        `the bundle's dependencies could not be installed from the npm registry: ${built.stderr.split('\n').find((l) => /npm (error|ERR)/.test(l)) ?? 'no registry'}`,
      );
    }
    assert.equal(built.code, 0, built.stderr.slice(-4000));
    const file = join(out.dir, `vmem-${pkg.version}.mcpb`);
    assert.equal(built.stdout.trim(), file);
    assert.ok(fs.statSync(file).size > 0);

    // Unpacked as the app unpacks it.
    const dir = join(out.dir, 'unpacked');
    const unpacked = spawnSync(process.execPath, [MCPB, 'unpack', file, dir], { encoding: 'utf8' });
    assert.equal(unpacked.status, 0, unpacked.stdout + unpacked.stderr);
    assert.deepEqual(JSON.parse(fs.readFileSync(join(dir, 'manifest.json'), 'utf8')), manifest);
    assert.ok(fs.existsSync(join(dir, manifest.server.entry_point)));
    // Whatever the build leaves as runtime dependencies (none, if it bundles them into dist/) is installed.
    const bundled = JSON.parse(fs.readFileSync(join(dir, 'package.json'), 'utf8')) as {
      dependencies?: Record<string, string>;
    };
    for (const name of Object.keys(bundled.dependencies ?? {}))
      assert.ok(fs.existsSync(join(dir, 'node_modules', name, 'package.json')), `dependency ${name} is in the bundle`);
    for (const dev of ['typescript', 'tsx', '@anthropic-ai/mcpb'])
      assert.ok(!fs.existsSync(join(dir, 'node_modules', dev)), `no dev dependency ${dev}`);
    const modules = fs.existsSync(join(dir, 'node_modules')) ? fs.readdirSync(join(dir, 'node_modules')) : [];
    assert.deepEqual(
      modules.filter((n) => n.startsWith('chromadb-js-bindings')),
      [],
      "no binaries of Chroma's own server",
    );
    const native = (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => f.endsWith('.node'));
    assert.deepEqual(native, [], 'no native code: one bundle serves every platform');

    // The settings a user would pick in the app: a data folder, two ingest folders, a smaller L1;
    // Redis, Chroma and the compressor left at their defaults.
    const data = join(out.dir, 'data');
    const docsA = join(out.dir, 'docs-a');
    const docsB = join(out.dir, 'docs-b');
    fs.mkdirSync(docsA);
    fs.mkdirSync(docsB);
    fs.writeFileSync(
      join(docsB, 'notes.md'),
      '# Station notes\n\nThe Kestrel pump station was rebuilt in 1961 after the flood; its maintenance code became 4471.\n',
    );
    const config = await getMcpConfigForManifest({
      manifest,
      extensionPath: dir,
      systemDirs: { HOME: out.dir, DESKTOP: out.dir, DOCUMENTS: out.dir, DOWNLOADS: out.dir },
      userConfig: { data_dir: data, ingest_roots: [docsA, docsB], l1_tokens: 8000 },
      pathSeparator: delimiter === ';' ? '\\' : '/',
    });
    assert.ok(config, 'no required setting is missing');
    assert.equal(config.command, 'node');
    assert.deepEqual(config.args, [join(dir, 'server', 'index.js'), docsA, docsB]);
    assert.equal(config.env?.VMEM_DATA_DIR, data);
    assert.equal(config.env?.VMEM_L1_TOKENS, '8000');
    assert.equal(config.env?.VMEM_REDIS_URL, '');
    assert.equal(config.env?.VMEM_COMPRESSOR, 'extractive');
    assert.ok(!JSON.stringify(config).includes('${'), `every variable is substituted: ${JSON.stringify(config)}`);

    // Claude Desktop runs `node` on its own Node; here the system's, found through PATH.
    const { client, stderr } = await startServer(config.command, config.args ?? [], config.env ?? {}, defer);
    assert.deepEqual((await client.listTools()).tools.map((x) => x.name).sort(), TOOL_NAMES);
    assert.match(stderr(), new RegExp(`serving MCP on stdio; data in ${data.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    // The second ingest folder is a root: `ingest {path}` reads it.
    const ingested = await call<{ total_pages: number }>(client, 'ingest', { path: join(docsB, 'notes.md') });
    assert.equal(ingested.s.total_pages, 1);
    const fault = await call(client, 'page_fault', {
      query: 'maintenance code of the Kestrel pump station',
      max_pages: 1,
    });
    assert.match(fault.s.pages[0]!.text!, /4471/);
    assert.equal(fault.s.l1.budget_tokens, 8000, 'the context budget setting reached vmem');
    assert.ok(fs.existsSync(join(data, 'catalog.db')), 'the store is in the data folder');
    await client.close();

    // A setting the app leaves as its placeholder counts as unset.
    const raw = await startServer(
      'node',
      [join(dir, 'server', 'index.js'), '${user_config.ingest_roots}'],
      {
        VMEM_DATA_DIR: data,
        VMEM_REDIS_URL: '${user_config.redis_url}',
        VMEM_CHROMA_URL: '${user_config.chroma_url}',
        VMEM_L1_TOKENS: '${user_config.l1_tokens}',
      },
      defer,
    );
    assert.equal((await raw.client.listTools()).tools.length, TOOL_NAMES.length);
    const again = await call(raw.client, 'page_fault', {
      query: 'Kestrel pump station maintenance code',
      max_pages: 1,
    });
    assert.equal(again.s.l1.budget_tokens, Number(SETTINGS.l1Tokens.default({})));
  });
});
