import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { type Progress, ResourceUpdatedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import {
  allPages,
  call,
  deferrals,
  demoDoc,
  factRe,
  l1Ids,
  RESOURCE_TEMPLATES,
  readText,
  TOOL_NAMES,
  tempDir,
} from './helpers.ts';
import { CLI, ENV, spawnServer } from './support/spawn.ts';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const faultArgs = (station: string, year: number) => ({
  query: `What was the maintenance code for pump station ${station} in ${year}?`,
  max_pages: 1,
});

describe('the built binary over stdio', () => {
  test('drives every tool and resource, then a second process restores the same L1', async (t) => {
    const defer = deferrals(t);
    assert.ok(fs.existsSync(CLI), 'dist/cli.js is built (npm test builds first)');
    const { dir, cleanup } = tempDir();
    const src = tempDir('vmem-src-');
    defer(cleanup);
    defer(src.cleanup);
    const manual = join(src.dir, 'operations-manual.md');
    fs.writeFileSync(manual, demoDoc());
    fs.writeFileSync(
      join(src.dir, 'notes.txt'),
      'Pump station notes.\n\nThe Kestrel station was rebuilt in 1961 after a flood.\n',
    );

    // `vmem ingest` prints one line per document on stdout.
    const ing = spawnSync(process.execPath, [CLI, 'ingest', join(src.dir, 'notes.txt'), '--data-dir', dir], {
      encoding: 'utf8',
      env: ENV,
    });
    assert.equal(ing.status, 0, ing.stderr);
    assert.match(ing.stdout, /^d[0-9a-f]{16} {2}1 pages \(1 new\) {2}\d+ tokens {2}notes\.txt\n$/);

    // The client shares its roots: the directory of the manual is the one `ingest {path}` may read.
    const a = await spawnServer(dir, [], undefined, [src.dir]);
    const pidA = a.transport.pid!;
    defer(() => a.close());
    const { client } = a;
    const { tools } = await client.listTools();
    assert.deepEqual(tools.map((x) => x.name).sort(), TOOL_NAMES);
    assert.ok(client.getInstructions()?.includes('page_fault'));
    assert.equal((await client.listPrompts()).prompts[0]!.name, 'use-virtual-memory');
    assert.deepEqual(
      (await client.listResourceTemplates()).resourceTemplates.map((r) => r.uriTemplate).sort(),
      RESOURCE_TEMPLATES,
    );
    assert.match(a.stderr(), /serving MCP on stdio; data in /, 'the banner goes to stderr');

    // ingest (by path) with progress, at the default 2000-token pages
    const progress: Progress[] = [];
    const ingest = await client.callTool({ name: 'ingest', arguments: { path: manual } }, undefined, {
      onprogress: (p) => void progress.push(p),
    });
    assert.equal(ingest.isError, undefined, JSON.stringify(ingest.content));
    const totalPages = (ingest.structuredContent as { total_pages: number }).total_pages;
    assert.ok(totalPages >= 100, `only ${totalPages} pages`);
    // The SDK client dispatches notifications a tick after reading them and forgets a request's progress
    // token once its result is read, so a notification that arrives in the same chunk as the result is
    // dropped on the client side. What arrives is checked here; the wire test below sees every one.
    for (const p of progress) {
      assert.equal(p.total, Buffer.byteLength(demoDoc()));
      assert.ok(p.progress <= p.total!);
    }

    const updates: string[] = [];
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => void updates.push(n.params.uri));
    await client.subscribeResource({ uri: 'vmem://l1' });

    // fault: L4 the first time, L1 the second
    const first = await call(client, 'page_fault', faultArgs('Kestrel', 2003));
    const gold = first.s.pages[0]!;
    assert.match(gold.text!, factRe('Kestrel', 2003));
    assert.equal(gold.level, 'L4');
    const second = await call(client, 'page_fault', faultArgs('Kestrel', 2003));
    assert.equal(second.s.pages[0]!.page_id, gold.page_id);
    assert.equal(second.s.pages[0]!.level, 'L1');
    assert.equal(second.s.pages[0]!.text, undefined);
    await client.listTools();
    assert.ok(updates.includes('vmem://l1'), 'resources/updated for vmem://l1 after a fault');

    // overflow: LRU pages leave handles
    const evicted: string[] = [];
    for (const [station, year] of [
      ['Heron', 1955],
      ['Osprey', 1961],
      ['Plover', 1967],
      ['Curlew', 1973],
      ['Merlin', 1979],
      ['Dunlin', 1985],
      ['Avocet', 1991],
      ['Godwit', 1997],
      ['Shrike', 2009],
      ['Linnet', 2015],
    ] as const) {
      const r = await call(client, 'page_fault', faultArgs(station, year));
      assert.match(r.s.pages[0]!.text ?? '', factRe(station, year));
      assert.ok(r.s.l1.used_tokens <= r.s.l1.budget_tokens);
      for (const h of r.s.evicted) {
        assert.equal(h.reload, `load_page {"page_ids":["${h.page_id}"]}`);
        evicted.push(h.page_id);
      }
    }
    assert.equal(evicted[0], gold.page_id, 'the least recently used page went first');

    // load_page with pin, then evict by id
    const loaded = await call(client, 'load_page', { page_ids: [gold.page_id], pin: true });
    assert.equal(loaded.s.pages[0]!.text, gold.text);
    assert.equal(loaded.s.pages[0]!.level, 'L2');
    const victim = l1Ids(await readText(client, 'vmem://l1'))[0]!;
    assert.notEqual(victim, gold.page_id);
    const ev = await call<{ evicted: { page_id: string }[]; not_resident: string[] }>(client, 'evict', {
      page_ids: [victim],
    });
    assert.deepEqual(
      ev.s.evicted.map((h) => h.page_id),
      [victim],
    );

    // resources
    const table = JSON.parse(await readText(client, 'vmem://page-table')) as {
      totals: { documents: number; pages: number };
    };
    assert.deepEqual(table.totals, { documents: 2, pages: totalPages + 1 });
    const pages = await allPages(client);
    assert.equal(pages.size, totalPages + 1);
    assert.deepEqual(pages.get(gold.page_id), {
      ...pages.get(gold.page_id)!,
      levels: ['L1', 'L2', 'L3', 'L4'],
      pinned: true,
    });
    assert.equal(await readText(client, `vmem://pages/${gold.page_id}`), gold.text);

    // serialize
    const l1Text = await readText(client, 'vmem://l1');
    const ids = l1Ids(l1Text);
    assert.ok(ids.length >= 5 && ids.includes(gold.page_id));
    const ser = await call<{ snapshot_id: string; uri: string }>(client, 'serialize_context', {
      note: 'to the next process',
    });
    assert.equal(JSON.parse(await readText(client, ser.s.uri)).note, 'to the next process');
    assert.ok((await client.listResources()).resources.some((r) => r.uri === ser.s.uri));

    // The one client-side error allowed is the SDK client's own race on the last progress notification
    // (see above); anything else on stdout that is not JSON-RPC would show up here.
    assert.deepEqual(
      a.errors.filter((e) => !/progress notification for an unknown token/.test(e.message)),
      [],
      'stdout carried only JSON-RPC',
    );
    await a.close();
    assert.equal(alive(pidA), false, 'the server process is gone after close');

    // A second process on the same data dir restores the same L1 from disk.
    const b = await spawnServer(dir);
    defer(() => b.close());
    const restored = await call(b.client, 'restore_context', { snapshot_id: ser.s.snapshot_id });
    assert.deepEqual(
      restored.s.pages.map((p) => p.page_id),
      ids,
    );
    assert.ok(
      restored.s.pages.every((p) => p.level === 'L4'),
      'a fresh process has a cold L2',
    );
    assert.equal(await readText(b.client, 'vmem://l1'), l1Text, 'identical L1, pin included');
    const all = await call<{ evicted: unknown[] }>(b.client, 'evict', { all: true });
    assert.equal(all.s.evicted.length, ids.length);
    assert.deepEqual(b.errors, []);
    await b.close();

    // vmem stats reads the same store.
    const stats = spawnSync(process.execPath, [CLI, 'stats', '--data-dir', dir], { encoding: 'utf8', env: ENV });
    assert.equal(stats.status, 0, stats.stderr);
    const s = JSON.parse(stats.stdout) as Record<string, unknown>;
    assert.equal(s.pages, totalPages + 1);
    assert.equal(s.documents, 2);
    assert.equal(s.snapshots, 1);
    assert.equal(s.data_dir, dir);
    assert.equal(s.page_tokens, 2000);
    // Evicted pages were summarized before the processes exited; extractive summaries are not indexed in L3.
    const summaries = s.summaries as { pages: number; tokens: number; compressor: string };
    assert.equal(summaries.compressor, 'extractive');
    assert.ok(
      summaries.pages >= ids.length,
      `${summaries.pages} summaries for at least the ${ids.length} pages B evicted`,
    );
    assert.deepEqual(s.l3, { backend: 'embedded', indexed: totalPages + 1 });
    assert.ok((s.faults as number) >= 12, `fault stats were saved on shutdown (got ${String(s.faults)})`);
  });

  test('stdout carries nothing but JSON-RPC lines', async (t) => {
    const defer = deferrals(t);
    const { dir, cleanup } = tempDir();
    defer(cleanup);
    const child = spawn(process.execPath, [CLI, 'serve', '--data-dir', dir, '--page-tokens', '200'], {
      env: ENV,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    const send = (m: unknown) => child.stdin.write(`${JSON.stringify(m)}\n`);
    const responses = (n: number) =>
      new Promise<void>((resolve, reject) => {
        const check = () => (out.split('\n').filter((l) => l.includes('"id"')).length >= n ? resolve() : undefined);
        child.stdout.on('data', check);
        child.on('close', () => reject(new Error(`server exited early; stderr: ${err}`)));
        check();
      });
    send({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
    });
    await responses(1);
    send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    send({
      jsonrpc: '2.0',
      id: 2,
      method: 'tools/call',
      params: {
        name: 'ingest',
        arguments: { text: 'One page of text.\n\nAbout pumps and valves.', source: 'raw.md' },
        _meta: { progressToken: 'tok' },
      },
    });
    send({
      jsonrpc: '2.0',
      id: 3,
      method: 'tools/call',
      params: { name: 'page_fault', arguments: { query: 'pumps valves' } },
    });
    send({
      jsonrpc: '2.0',
      id: 4,
      method: 'tools/call',
      params: { name: 'load_page', arguments: { page_ids: ['pnope'] } },
    });
    send({ jsonrpc: '2.0', id: 5, method: 'resources/read', params: { uri: 'vmem://page-table' } });
    // Arguments that are not an object are the caller's error (-32602), not vmem's (-32603).
    send({ jsonrpc: '2.0', id: 6, method: 'tools/call', params: { name: 'page_fault', arguments: ['pumps'] } });
    // null stands for an argument left out, as strict-mode models send it.
    send({
      jsonrpc: '2.0',
      id: 7,
      method: 'tools/call',
      params: {
        name: 'page_fault',
        arguments: { query: 'pumps valves', max_pages: null, resolution: null, resend: null },
      },
    });
    await responses(7);
    child.stdin.end();
    assert.equal(await exited, 0, `exit code; stderr: ${err}`);
    const lines = out.split('\n').filter((l) => l !== '');
    assert.ok(lines.length >= 8, 'seven responses and a progress notification');
    for (const line of lines) {
      const msg = JSON.parse(line) as { jsonrpc?: string };
      assert.equal(msg.jsonrpc, '2.0', `not JSON-RPC: ${line.slice(0, 200)}`);
    }
    type Wire = {
      id?: number;
      result?: { isError?: boolean; content?: { text: string }[] };
      error?: { code: number; message: string };
      method?: string;
      params?: { progressToken?: string; progress?: number; total?: number };
    };
    const messages = lines.map((l) => JSON.parse(l) as Wire);
    const byId = new Map(messages.filter((m) => m.id !== undefined).map((m) => [m.id, m]));
    // The last progress notification of the ingest reports every byte, before the ingest's result.
    const ingestBytes = Buffer.byteLength('One page of text.\n\nAbout pumps and valves.');
    const lastProgress = messages.findLastIndex(
      (m) => m.method === 'notifications/progress' && m.params?.progressToken === 'tok',
    );
    assert.ok(lastProgress >= 0 && lastProgress < messages.indexOf(byId.get(2)!), 'progress comes before the result');
    assert.deepEqual(
      [messages[lastProgress]!.params!.progress, messages[lastProgress]!.params!.total],
      [ingestBytes, ingestBytes],
    );
    assert.equal(byId.get(6)?.error?.code, -32602);
    assert.match(byId.get(6)!.error!.message, /"arguments" must be an object.*got an array/);
    assert.equal(byId.get(7)?.result?.isError, undefined, JSON.stringify(byId.get(7)));
    assert.equal(byId.get(3)?.result?.isError, undefined);
    assert.equal(byId.get(4)?.result?.isError, true);
    assert.match(byId.get(4)!.result!.content![0]!.text, /page_ids\[0\]/);
    assert.ok(lines.some((l) => l.includes('"notifications/progress"')));
    assert.match(err, /serving MCP on stdio/);
  });
});
