/**
 * `ingest {path}` reads only inside the ingest roots: the client's MCP roots (stdio) and VMEM_INGEST_ROOTS,
 * after resolving symlinks. Over HTTP the client's roots do not count, and without configured roots path
 * ingest is off. Text ingest is always available.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { join } from 'node:path';
import { describe, type TestContext, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { type CallToolResult, ListRootsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { serveHttp } from '../src/http.ts';
import { call, callErr, connect, deferrals, openPager, tableDocuments, tempDir, textOf } from './helpers.ts';

/** A client that offers `roots` as its MCP roots and can change them. */
function clientWithRoots(roots: string[]): { client: Client; set: (next: string[]) => Promise<void> } {
  let current = roots;
  const client = new Client({ name: 'roots-test', version: '1' }, { capabilities: { roots: { listChanged: true } } });
  client.setRequestHandler(ListRootsRequestSchema, () => ({
    roots: current.map((r) => ({ uri: pathToFileURL(r).href, name: r })),
  }));
  return {
    client,
    set: async (next) => {
      current = next;
      await client.sendRootsListChanged();
    },
  };
}

/** Two directories with a document each, a secret outside both, and links from inside to outside. */
function tree(t: TestContext) {
  const defer = deferrals(t);
  const base = tempDir('vmem-roots-');
  defer(base.cleanup);
  const docs = join(base.dir, 'docs');
  const other = join(base.dir, 'other');
  const secret = join(base.dir, 'secret.txt');
  fs.mkdirSync(docs);
  fs.mkdirSync(other);
  fs.writeFileSync(join(docs, 'manual.md'), 'The Kestrel station pumps water from the lower reservoir.\n');
  fs.writeFileSync(join(other, 'notes.md'), 'Osprey station notes: the valves were replaced in 1987.\n');
  fs.writeFileSync(secret, 'root:x:0:0:root:/root:/bin/bash\n');
  fs.symlinkSync(secret, join(docs, 'link-to-secret.md'));
  fs.symlinkSync(base.dir, join(docs, 'link-to-base'));
  return { defer, base: base.dir, docs, other, secret };
}

async function store(_t: TestContext, defer: (fn: () => unknown) => void, flags: Record<string, string>) {
  const { dir, cleanup } = tempDir();
  defer(cleanup);
  const pager = await openPager(dir, { '--ingest-roots': '', ...flags });
  defer(() => pager.close());
  return pager;
}

const ingestPath = (client: Client, path: string) =>
  client.callTool({ name: 'ingest', arguments: { path } }) as Promise<CallToolResult>;

describe('ingest roots', () => {
  test('with no roots at all, path ingest is refused with the way to allow it; text ingest works', async (t) => {
    const { defer, docs } = tree(t);
    const pager = await store(t, defer, {});
    const { client, close } = await connect(pager);
    defer(close);
    assert.match(
      await callErr(client, 'ingest', { path: join(docs, 'manual.md') }),
      /path: reading files needs a root: set VMEM_INGEST_ROOTS/,
    );
    await call(client, 'ingest', { text: 'Text ingest needs no root.', source: 'a.md' });
  });

  test('VMEM_INGEST_ROOTS: inside is read; outside, .. and symlinks out of the root are refused naming the roots', async (t) => {
    const { defer, docs, secret, base } = tree(t);
    const pager = await store(t, defer, { '--ingest-roots': docs });
    const { client, close } = await connect(pager);
    defer(close);
    const ok = await call<{ documents: { source: string }[] }>(client, 'ingest', { path: join(docs, 'manual.md') });
    assert.deepEqual(
      ok.s.documents.map((d) => d.source),
      ['manual.md'],
    );
    const rel = await call<{ documents: { source: string }[] }>(client, 'ingest', { path: 'manual.md' });
    assert.deepEqual(
      rel.s.documents.map((d) => d.source),
      ['manual.md'],
      'a relative path is taken from the first root',
    );
    const real = fs.realpathSync(docs);
    for (const path of [
      secret,
      '/etc/passwd',
      join(docs, '..', 'secret.txt'),
      '../secret.txt',
      join(docs, 'link-to-secret.md'),
      join(docs, 'link-to-base'),
      join(docs, 'link-to-base', 'secret.txt'),
      base,
    ]) {
      const msg = await callErr(client, 'ingest', { path });
      assert.match(msg, /^Invalid input: path: .* is outside the ingest roots/, path);
      assert.ok(msg.includes(real), `the message names the root: ${msg}`);
    }
    // Walking the root itself skips the links that lead out of it.
    const all = await call<{ documents: { source: string }[] }>(client, 'ingest', { path: docs });
    assert.deepEqual(
      all.s.documents.map((d) => d.source),
      [join('docs', 'manual.md')],
    );
    assert.ok(!tableDocuments(pager.table).some((d) => d.source.includes('secret')));
    // What a fault can find holds nothing from outside the root.
    const hits = await call(client, 'page_fault', { query: 'root bin bash' });
    assert.ok(hits.s.pages.every((p) => !p.text?.includes('root:x:0:0')));
  });

  test("an empty path, a NUL byte and a missing file are the caller's errors", async (t) => {
    const { defer, docs } = tree(t);
    const pager = await store(t, defer, { '--ingest-roots': docs });
    const { client, close } = await connect(pager);
    defer(close);
    assert.match(await callErr(client, 'ingest', { path: '' }), /^Invalid input: path: is empty/);
    assert.match(await callErr(client, 'ingest', { path: '  ' }), /^Invalid input: path: is empty/);
    assert.match(
      await callErr(client, 'ingest', { path: join(docs, 'manual.md\0.txt') }),
      /^Invalid input: path: contains a NUL byte/,
    );
    assert.match(
      await callErr(client, 'ingest', { path: join(docs, 'nope.md') }),
      /^Invalid input: path: .*nope\.md does not exist/,
    );
  });

  test("the client's MCP roots count over stdio-like transports, and are read again on roots/list_changed", async (t) => {
    const { defer, docs, other } = tree(t);
    const pager = await store(t, defer, {});
    const roots = clientWithRoots([docs]);
    const { client, close } = await connect(pager, 'with-roots', undefined, roots.client);
    defer(close);
    await call(client, 'ingest', { path: join(docs, 'manual.md') });
    assert.match(await callErr(client, 'ingest', { path: join(other, 'notes.md') }), /outside the ingest roots/);
    await roots.set([other]);
    // The server reads the new list when notified, and the next ingest waits for that read.
    const r = await ingestPath(client, join(other, 'notes.md'));
    assert.equal(r.isError, undefined, textOf(r));
    assert.match(
      await callErr(client, 'ingest', { path: join(docs, 'manual.md') }),
      /outside the ingest roots/,
      'the old root no longer counts',
    );
  });

  test("over HTTP the client's roots do not count: no path ingest without VMEM_INGEST_ROOTS, and never outside them", async (t) => {
    const { defer, docs } = tree(t);
    for (const flags of [{}, { '--ingest-roots': docs }] as Record<string, string>[]) {
      const pager = await store(t, defer, flags);
      const server = await serveHttp(pager, { host: '127.0.0.1', port: 0, idleMs: 60_000 });
      defer(() => server.close());
      const roots = clientWithRoots(['/']);
      await roots.client.connect(new StreamableHTTPClientTransport(new URL(server.url)));
      defer(() => roots.client.close());
      const other = new Client({ name: 'other-session', version: '1' });
      await other.connect(new StreamableHTTPClientTransport(new URL(server.url)));
      defer(() => other.close());

      assert.match(
        await callErr(roots.client, 'ingest', { path: '/etc/passwd' }),
        flags['--ingest-roots']
          ? /outside the ingest roots/
          : /reading files over HTTP is off unless the server sets VMEM_INGEST_ROOTS/,
      );
      const fault = await call(other, 'page_fault', { query: 'root x 0 0 bin bash' });
      assert.ok(
        fault.s.pages.every((p) => !p.text?.includes('root:x:0:0')),
        'another session finds nothing of it',
      );
      const inside = await ingestPath(roots.client, join(docs, 'manual.md'));
      assert.equal(inside.isError, flags['--ingest-roots'] ? undefined : true, textOf(inside));
      await call(roots.client, 'ingest', { text: 'Text ingest works over HTTP.', source: 'http.md' });
    }
  });
});
