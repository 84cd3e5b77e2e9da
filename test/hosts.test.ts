/**
 * The host configurations of examples/hosts (and the README, which shows them), started the way each
 * host starts them. `vmem` is on PATH the way an installed command is: a symlink to dist/cli.js in a
 * bin directory (npm links a package's bin so). Each stdio entry is spawned as a host does, its
 * `command` looked up through PATH with its `args` and `env` (plus a temp data dir), and driven by the
 * SDK client. examples/hosts/serve-http.sh starts `vmem serve --http`, and each HTTP entry connects to
 * it with its URL and the bearer token in the header it names. The real hosts are not run here.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { delimiter, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { SETTINGS } from '../src/config.ts';
import { CHAPTERS_DIR, call, deferrals, REPO, TOOL_NAMES, tempDir } from './helpers.ts';
import { CLI, connectStdio } from './support/spawn.ts';
import { waitFor } from './support/wait.ts';

const HOSTS = join(REPO, 'examples', 'hosts');
const VERSION = (JSON.parse(fs.readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
/** The ingest roots the Claude Desktop example names, for the user to replace with their own. */
const EXAMPLE_ROOTS = '/Users/you/Documents';

interface StdioEntry {
  type?: string;
  command: string;
  args?: string[];
  env?: Record<string, string>;
}
interface HttpEntry {
  type?: string;
  url: string;
  headers?: Record<string, string>;
}

/** The `vmem` entry of a host config file, under the key that host reads. */
function entry<T>(file: string, key: 'mcpServers' | 'servers'): T {
  const json = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, Record<string, T>>;
  assert.deepEqual(Object.keys(json[key] ?? {}), ['vmem'], `${file}: one server, vmem, under "${key}"`);
  return json[key]!.vmem!;
}

/** Where a command name resolves through PATH, as execvp would find it. */
function which(command: string, path: string): string | undefined {
  for (const dir of path.split(delimiter)) {
    const candidate = join(dir, command);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {}
  }
  return undefined;
}

let bin: string;
let PATH: string;

before(() => {
  assert.ok(fs.existsSync(CLI), 'dist/cli.js is built (npm test builds first)');
  // npm makes the bin target executable when it installs the package; tsc does not.
  if (!(fs.statSync(CLI).mode & 0o111)) fs.chmodSync(CLI, 0o755);
  bin = fs.mkdtempSync(join(os.tmpdir(), 'vmem-bin-'));
  fs.symlinkSync(CLI, join(bin, 'vmem'));
  PATH = `${bin}${delimiter}${process.env.PATH ?? ''}`;
});
after(() => fs.rmSync(bin, { recursive: true, force: true }));

/** Starts a stdio entry as a host does, in `cwd`, and connects the SDK client to it. */
async function startStdio(defer: (fn: () => unknown) => void, e: StdioEntry, env: Record<string, string>, cwd: string) {
  const { client } = await connectStdio({
    command: e.command,
    args: e.args ?? [],
    env: { ...e.env, ...env, PATH },
    cwd,
  });
  // Closed before the temp dirs it writes to are removed.
  defer(() => client.close());
  return client;
}

/** Tools listed, a chapter ingested (by path when `root` is given, else as text), and a fault that finds it. */
async function exercise(client: Client, root?: string): Promise<void> {
  assert.equal(client.getServerVersion()?.version, VERSION);
  assert.deepEqual((await client.listTools()).tools.map((x) => x.name).sort(), TOOL_NAMES);
  const chapter = fs
    .readdirSync(CHAPTERS_DIR)
    .filter((f) => f.endsWith('.txt'))
    .sort()[0]!;
  const text = fs.readFileSync(join(CHAPTERS_DIR, chapter), 'utf8');
  let args: Record<string, unknown> = { text, source: chapter };
  if (root) {
    fs.copyFileSync(join(CHAPTERS_DIR, chapter), join(root, chapter));
    args = { path: join(root, chapter) };
  }
  const ingested = await call<{ total_pages: number }>(client, 'ingest', args);
  assert.ok(ingested.s.total_pages >= 1);
  // A sentence of the chapter's middle, as the query: the page holding it comes back, text and all.
  const sentence = text.split(/(?<=[.!?])\s+/).find((s, i, all) => i > all.length / 2 && s.split(/\s+/).length > 12)!;
  const fault = await call(client, 'page_fault', { query: sentence, max_pages: 1 });
  assert.equal(fault.s.pages[0]!.source, chapter);
  assert.ok(fault.s.pages[0]!.text!.includes(sentence), 'the page that holds the sentence');
}

describe('host configurations (examples/hosts)', () => {
  const stdio: { file: string; key: 'mcpServers' | 'servers'; type?: string }[] = [
    { file: 'claude-desktop.json', key: 'mcpServers' },
    { file: 'claude-code.mcp.json', key: 'mcpServers', type: 'stdio' },
    { file: 'cursor.mcp.json', key: 'mcpServers' },
    { file: 'vscode.mcp.json', key: 'servers', type: 'stdio' },
  ];
  for (const { file, key, type } of stdio) {
    test(`${file}: the installed vmem command, started as the host starts it, serves`, async (t) => {
      const defer = deferrals(t);
      const e = entry<StdioEntry>(join(HOSTS, file), key);
      assert.equal(e.type, type);
      assert.equal(e.command, 'vmem', 'the installed command, never node with a path');
      assert.deepEqual(e.args, ['serve']);
      assert.equal(which(e.command, PATH), join(bin, 'vmem'), 'vmem resolves through PATH to the installed command');

      const data = tempDir();
      const cwd = tempDir('vmem-host-cwd-');
      defer(data.cleanup);
      defer(cwd.cleanup);
      // The folders the user is told to replace with their own become a temp dir.
      const env: Record<string, string> = { VMEM_DATA_DIR: data.dir };
      let root: string | undefined;
      if (e.env?.VMEM_INGEST_ROOTS !== undefined) {
        assert.equal(e.env.VMEM_INGEST_ROOTS, EXAMPLE_ROOTS);
        root = cwd.dir;
        env.VMEM_INGEST_ROOTS = root;
      }
      await exercise(await startStdio(defer, e, env, cwd.dir), root);
      assert.ok(fs.existsSync(join(data.dir, 'catalog.db')), 'the store is in VMEM_DATA_DIR');
    });
  }

  test(".mcp.json at the root, for working on vmem: the checkout's build, with its data in .vmem/ (git-ignored)", async (t) => {
    const defer = deferrals(t);
    const e = entry<StdioEntry>(join(REPO, '.mcp.json'), 'mcpServers');
    assert.equal(e.command, 'node');
    assert.deepEqual(e.args, ['dist/cli.js', 'serve']);
    assert.equal(e.env?.VMEM_DATA_DIR, '.vmem');
    assert.match(fs.readFileSync(join(REPO, '.gitignore'), 'utf8'), /^\.vmem\/$/m);
    // Claude Code starts project servers in the project's root; the store goes to a temp dir here.
    const data = tempDir();
    defer(data.cleanup);
    await exercise(await startStdio(defer, e, { VMEM_DATA_DIR: data.dir }, REPO));
  });

  test('serve-http.sh and the HTTP entries: one server, each host with its URL and bearer token', async (t) => {
    const defer = deferrals(t);
    const home = tempDir('vmem-home-');
    const data = tempDir();
    defer(home.cleanup);
    defer(data.cleanup);
    // Port 0 instead of the default 7411, which may be taken on this machine.
    const child = spawn('sh', [join(HOSTS, 'serve-http.sh'), '--port', '0'], {
      env: { PATH, HOME: home.dir, VMEM_DATA_DIR: data.dir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    defer(() => {
      child.kill('SIGTERM');
      return new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once('exit', r)));
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    await waitFor(() => /serving MCP at/.test(out) || child.exitCode !== null, 'the server to start', {
      timeoutMs: 10_000,
    }).catch(() => {});
    const m = /serving MCP at (http:\/\/127\.0\.0\.1:(\d+)\/mcp) \(bearer token required\)/.exec(out);
    assert.ok(m, `the server started with a token: ${out}`);
    const [, url, port] = m;

    const tokenFile = join(home.dir, '.config', 'vmem', 'token');
    assert.equal(fs.statSync(tokenFile).mode & 0o777, 0o600, 'the token file is readable by its owner alone');
    const token = fs.readFileSync(tokenFile, 'utf8').split('\n')[0]!;
    assert.match(token, /^[0-9a-f]{48}$/);
    assert.ok(!out.includes(token), 'the token is never printed');

    const noToken = await fetch(url!, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: '{}',
    });
    assert.equal(noToken.status, 401);

    const defaultUrl = `http://127.0.0.1:${SETTINGS.httpPort.default({})}/mcp`;
    // Each host fills in the token its own way: Claude Code ${VAR} and Cursor ${env:VAR} from their
    // environment (VMEM_AUTH_TOKEN), VS Code ${input:id} by asking once.
    const clients: { file: string; key: 'mcpServers' | 'servers'; type?: string; fill: (v: string) => string }[] = [
      {
        file: 'claude-code-http.mcp.json',
        key: 'mcpServers',
        type: 'http',
        fill: (v) => v.replaceAll('${VMEM_AUTH_TOKEN}', token),
      },
      { file: 'cursor-http.mcp.json', key: 'mcpServers', fill: (v) => v.replaceAll('${env:VMEM_AUTH_TOKEN}', token) },
      {
        file: 'vscode-http.mcp.json',
        key: 'servers',
        type: 'http',
        fill: (v) => v.replaceAll('${input:vmem-token}', token),
      },
    ];
    const vscode = JSON.parse(fs.readFileSync(join(HOSTS, 'vscode-http.mcp.json'), 'utf8')) as {
      inputs: { id: string; type: string; password?: boolean }[];
    };
    assert.deepEqual(
      vscode.inputs.map((i) => [i.id, i.type, i.password]),
      [['vmem-token', 'promptString', true]],
      'VS Code asks for the token as a password',
    );

    for (const { file, key, type, fill } of clients) {
      const e = entry<HttpEntry>(join(HOSTS, file), key);
      assert.equal(e.type, type, file);
      assert.equal(e.url, defaultUrl, `${file}: the URL serve-http.sh listens on`);
      const headers = Object.fromEntries(Object.entries(e.headers ?? {}).map(([k, v]) => [k, fill(v)]));
      assert.deepEqual(
        headers,
        { Authorization: `Bearer ${token}` },
        `${file}: the bearer token header, every variable filled`,
      );
      const transport = new StreamableHTTPClientTransport(new URL(e.url.replace(/:\d+\//, `:${port}/`)), {
        requestInit: { headers },
      });
      const client = new Client({ name: `hosts-test ${file}`, version: '1.0.0' });
      await client.connect(transport);
      defer(() => client.close());
      await exercise(client);
    }
  });
});

describe('README', () => {
  const readme = fs.readFileSync(join(REPO, 'README.md'), 'utf8');
  const blocks = [...readme.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((m) => ({ lang: m[1]!, text: m[2]! }));
  const snippetFiles = [...fs.readdirSync(HOSTS).map((f) => join(HOSTS, f)), join(REPO, '.mcp.json')];

  test('shows every host configuration exactly as examples/hosts holds it', () => {
    for (const file of snippetFiles) {
      const text = fs.readFileSync(file, 'utf8');
      assert.ok(
        blocks.some((b) => b.text === text),
        `README.md has no code block equal to ${file.slice(REPO.length + 1)}; copy the file into it`,
      );
    }
  });

  test('every JSON block of "Use it from an MCP host" is one of those files, and every config starts the vmem command', () => {
    const start = readme.indexOf('\n## Use it from an MCP host\n');
    assert.ok(start >= 0);
    const end = readme.indexOf('\n## ', start + 1);
    const section = readme.slice(start, end);
    const texts = new Set(snippetFiles.map((f) => fs.readFileSync(f, 'utf8')));
    const json = [...section.matchAll(/^```json\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
    assert.ok(json.length >= 7);
    for (const text of json) assert.ok(texts.has(text), `a JSON block that is no file of examples/hosts:\n${text}`);
    // Elsewhere too (Redis, Chroma): a config starts `vmem`, never node with a path into a checkout;
    // the one exception is the checkout's own .mcp.json.
    const devConfig = fs.readFileSync(join(REPO, '.mcp.json'), 'utf8');
    for (const b of blocks.filter((x) => x.lang === 'json' && x.text !== devConfig)) {
      for (const m of b.text.matchAll(/"command":\s*"([^"]*)"/g))
        assert.equal(m[1], 'vmem', `a README config starts ${m[1]}:\n${b.text}`);
    }
  });
});
