import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, test } from 'node:test';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { Catalog } from '../src/catalog.ts';
import { dataDirLayout } from '../src/data-dir.ts';
import { type WatchEvent, watchDirectory } from '../src/watch.ts';
import { call, connect, connectedStore, deferrals, openPager, REPO, readText, tempDir, textOf } from './helpers.ts';
import { spawnServer } from './support/spawn.ts';
import { waitFor } from './support/wait.ts';

const CLI = join(REPO, 'dist', 'cli.js');

interface Served {
  pages: { page_id: string; text?: string; superseded_by?: { document_id: string } }[];
  candidates: { page_id: string }[];
}
interface Ingested {
  documents: { document_id: string; pages: number }[];
}

const notes = (code: string) =>
  `# Notes\n\nThe vault access code is ${code}. Keep it with the maintenance log of the north pump station.\n`;
/** A second document that shares one whole page with another: pages are content-addressed. */
const SHARED = `${'The shared appendix lists every valve and its torque in newton metres. '.repeat(40)}`;

async function toolError(client: Parameters<typeof call>[0], name: string, args: Record<string, unknown>) {
  const r = (await client.callTool({ name, arguments: args })) as CallToolResult;
  assert.equal(r.isError, true, `${name} should fail`);
  return textOf(r);
}

describe('documents that change', () => {
  test('a changed file supersedes its previous version: faults rank only the new one, the old page loads by id and says what replaced it', async (t) => {
    const { client, pager } = await connectedStore(t);
    const { dir, cleanup } = tempDir('vmem-notes-');
    t.after(cleanup);
    const file = join(dir, 'notes.md');
    writeFileSync(file, notes('1111'));
    const first = (await call<Ingested>(client, 'ingest', { path: file })).s.documents[0]!;
    const before = (await call<Served>(client, 'page_fault', { query: 'vault access code' })).s;
    const oldPage = before.pages[0]!.page_id;
    assert.match(before.pages[0]!.text!, /1111/);
    await call(client, 'evict', { all: true });

    writeFileSync(file, notes('2222'));
    const second = (await call<Ingested>(client, 'ingest', { path: file })).s.documents[0]!;
    assert.notEqual(second.document_id, first.document_id);
    const after = (await call<Served>(client, 'page_fault', { query: 'vault access code', max_pages: 3 })).s;
    const ranked = [...after.pages.map((p) => p.page_id), ...after.candidates.map((c) => c.page_id)];
    assert.deepEqual(
      after.pages.map((p) => /2222/.test(p.text ?? '')),
      [true],
      'only the current version is served',
    );
    assert.equal(ranked.includes(oldPage), false, 'the superseded page is neither served nor a candidate');

    const loaded = await call<Served>(client, 'load_page', { page_ids: [oldPage] });
    assert.match(loaded.s.pages[0]!.text!, /1111/);
    assert.equal(loaded.s.pages[0]!.superseded_by?.document_id, second.document_id);
    assert.match(loaded.text, new RegExp(`superseded by ${second.document_id} \\(ingested `));

    const versions = pager.table.versionsOf('notes.md');
    assert.deepEqual(
      versions.map((d) => d.supersededBy),
      [second.document_id, undefined],
    );
    assert.equal(pager.l3.has(oldPage), false, 'the superseded page left L3');

    // Back to the first text: that version is current again, and findable.
    writeFileSync(file, notes('1111'));
    await call(client, 'ingest', { path: file });
    await call(client, 'evict', { all: true });
    const reverted = (await call<Served>(client, 'page_fault', { query: 'vault access code' })).s;
    assert.equal(reverted.pages[0]!.page_id, oldPage);
    assert.equal(reverted.pages[0]!.superseded_by, undefined);
  });
});

describe('forget', () => {
  test('a forgotten document leaves faults, load_page, L2, L3 and L4; pages another document shares stay', async (t) => {
    const { client, pager, dir } = await connectedStore(t, { '--page-tokens': '200' });
    await call(client, 'ingest', { text: `${notes('3333')}\n\n${SHARED}`, source: 'a.md' });
    await call(client, 'ingest', { text: `Other intro.\n\n${SHARED}`, source: 'b.md' });
    const a = pager.table.currentOf('a.md')!;
    const b = pager.table.currentOf('b.md')!;
    const shared = a.pageIds.filter((id) => b.pageIds.includes(id));
    const own = a.pageIds.filter((id) => !b.pageIds.includes(id));
    assert.ok(shared.length >= 1 && own.length >= 1, 'the fixture shares a page and keeps one of its own');
    await call(client, 'load_page', { page_ids: a.pageIds });
    assert.deepEqual(
      await pager.l2.hasMany(own),
      own.map(() => true),
    );

    const r = await call<{ pages_removed: number; pages_shared: number }>(client, 'forget', { target: 'a.md' });
    assert.deepEqual([r.s.pages_removed, r.s.pages_shared], [own.length, shared.length]);
    const l1 = await client.readResource({ uri: 'vmem://l1' });
    for (const id of own) {
      assert.equal(pager.table.get(id), undefined);
      assert.equal(pager.l3.has(id), false);
      assert.equal(existsSync(dataDirLayout(dir).page(id)), false);
      assert.doesNotMatch(JSON.stringify(l1), new RegExp(id), 'left the session’s L1');
    }
    assert.deepEqual(
      await pager.l2.hasMany(own),
      own.map(() => false),
    );
    for (const id of shared) assert.ok(pager.table.get(id) && existsSync(dataDirLayout(dir).page(id)));

    const fault = (await call<Served>(client, 'page_fault', { query: 'vault access code 3333' })).s;
    assert.equal(
      fault.pages.some((p) => own.includes(p.page_id)),
      false,
    );
    assert.match(await toolError(client, 'load_page', { page_ids: own }), /page_ids\[0\].*was forgotten with document/);
    assert.match(await toolError(client, 'forget', { target: 'nope.md' }), /target.*no document or source "nope\.md"/);
    assert.match((await call(client, 'forget', { target: 'a.md' })).text, /already forgotten/);

    // Ingested again, it comes back.
    await call(client, 'ingest', { text: `${notes('3333')}\n\n${SHARED}`, source: 'a.md' });
    await call(client, 'evict', { all: true });
    const back = (await call<Served>(client, 'page_fault', { query: 'vault access code 3333' })).s;
    assert.match(back.pages[0]!.text!, /3333/);
    assert.ok(existsSync(dataDirLayout(dir).page(own[0]!)));
  });

  test('a forget stopped after the page table is finished by the next one: the levels are purged, the store stays consistent', async (t) => {
    const { client, pager, dir } = await connectedStore(t);
    await call(client, 'ingest', { text: notes('1313'), source: 'half.md' });
    await call(client, 'ingest', { text: notes('1414'), source: 'other.md' });
    const half = pager.table.currentOf('half.md')!;
    // What a process killed between its transaction and the purge leaves: the page table done, the levels not.
    const other = await Catalog.open(dir);
    await other.removeDocuments([half.id], 'forgotten');
    await other.close();
    const page = half.pageIds[0]!;
    assert.equal(existsSync(dataDirLayout(dir).page(page)), true, 'the purge has not run');
    assert.equal(pager.table.get(page), undefined);

    const r = await call<{ forgotten: unknown[] }>(client, 'forget', { target: 'half.md' });
    assert.deepEqual(r.s.forgotten, [], 'nothing left in the page table');
    assert.equal(existsSync(dataDirLayout(dir).page(page)), false, 'the rerun finished the purge');
    assert.equal(pager.l3.has(page), false);
    const kept = pager.table.currentOf('other.md')!.pageIds[0]!;
    assert.ok(pager.table.get(kept) && existsSync(dataDirLayout(dir).page(kept)));
  });

  test('a snapshot pointing at a forgotten page fails to restore, naming it', async (t) => {
    const { client } = await connectedStore(t);
    await call(client, 'ingest', { text: notes('4444'), source: 'gone.md' });
    const page = (await call<Served>(client, 'page_fault', { query: 'vault access code' })).s.pages[0]!.page_id;
    const snap = (await call<{ snapshot_id: string }>(client, 'serialize_context', {})).s.snapshot_id;
    await call(client, 'forget', { target: 'gone.md' });
    const err = await toolError(client, 'restore_context', { snapshot_id: snap });
    assert.match(err, new RegExp(`snapshot\\.pages\\[0\\]\\.id.*${page} was forgotten`));
  });

  test('gc collects superseded versions no snapshot points into, and keeps those one does', async (t) => {
    const { client, pager } = await connectedStore(t);
    await call(client, 'ingest', { text: notes('5555'), source: 'kept.md' });
    const keptPage = pager.table.currentOf('kept.md')!.pageIds[0]!;
    await call(client, 'load_page', { page_ids: [keptPage] });
    await call(client, 'serialize_context', {});
    await call(client, 'ingest', { text: notes('6666'), source: 'kept.md' });
    await call(client, 'ingest', { text: notes('7777'), source: 'dropped.md' });
    const droppedPage = pager.table.currentOf('dropped.md')!.pageIds[0]!;
    await call(client, 'ingest', { text: notes('8888'), source: 'dropped.md' });

    const r = await pager.collect(0);
    assert.deepEqual(r, { documents: 1, pagesRemoved: 1, keptForSnapshots: 1 });
    assert.equal(pager.table.get(droppedPage), undefined);
    assert.ok(pager.table.get(keptPage));
    assert.equal(pager.table.versionsOf('dropped.md').length, 1);
  });
});

describe('forget across processes', () => {
  test('a session of another process on the store drops the forgotten pages within a second', async (t) => {
    const defer = deferrals(t);
    const { dir, cleanup } = tempDir();
    defer(cleanup);
    const one = await openPager(dir);
    defer(() => one.close());
    const two = await openPager(dir);
    defer(() => two.close());
    const a = await connect(one);
    defer(a.close);
    const b = await connect(two);
    defer(b.close);
    await call(a.client, 'ingest', { text: notes('9999'), source: 'shared.md' });
    const page = two.table.currentOf('shared.md')!.pageIds[0]!;
    await call(b.client, 'load_page', { page_ids: [page] });
    assert.equal(b.session.l1.has(page), true);

    const started = Date.now();
    await call(a.client, 'forget', { target: 'shared.md' });
    while (b.session.l1.has(page) && Date.now() - started < 1000) await new Promise((r) => setTimeout(r, 20));
    assert.equal(b.session.l1.has(page), false, 'dropped from the other process within a second');
    assert.match(await toolError(b.client, 'load_page', { page_ids: [page] }), /was forgotten/);
  });
});

describe('the documents listing', () => {
  test('vmem://sources and vmem ls list sources with versions, pages and tokens, a bounded page at a time', async (t) => {
    const { client, dir, pager } = await connectedStore(t);
    await pager.ingest(
      Array.from({ length: 105 }, (_, i) => ({
        text: `Document ${i} about valve ${i}.`,
        source: `s${String(i).padStart(3, '0')}.md`,
      })),
    );
    await call(client, 'ingest', { text: 'Document 0, second version.', source: 's000.md' });
    interface Listing {
      sources: { source: string; versions: number; current: { pages: number; tokens: number } | null }[];
      next: string | null;
    }
    const first = JSON.parse(await readText(client, 'vmem://sources')) as Listing;
    assert.equal(first.sources.length, 100);
    assert.deepEqual(
      {
        source: first.sources[0]!.source,
        versions: first.sources[0]!.versions,
        pages: first.sources[0]!.current?.pages,
      },
      { source: 's000.md', versions: 2, pages: 1 },
    );
    assert.ok(first.sources[0]!.current!.tokens > 0);
    assert.equal(first.next, 'vmem://sources?after=s099.md');
    const second = JSON.parse(await readText(client, first.next!)) as Listing;
    assert.deepEqual(
      second.sources.map((s) => s.source),
      ['s100.md', 's101.md', 's102.md', 's103.md', 's104.md'],
    );
    assert.equal(second.next, null);

    const ls = spawnSync(process.execPath, [CLI, 'ls', '--limit', '3', '--data-dir', dir], { encoding: 'utf8' });
    assert.equal(ls.status, 0, ls.stderr);
    const rows = ls.stdout.trim().split('\n');
    assert.equal(rows.length, 4, 'a header and three sources');
    assert.match(rows[1]!, /^2\td[0-9a-f]{16}\t1\t\d+\ts000\.md$/);
    assert.match(ls.stderr, /next: vmem ls --after "s002\.md"/);
    const bad = spawnSync(process.execPath, [CLI, 'ls', '--limit', 'lots', '--data-dir', dir], { encoding: 'utf8' });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--limit.*"lots".*whole number/);
  });
});

describe('vmem forget across processes', () => {
  test('vmem forget in another process: a serving process drops the page from its sessions within a second', async (t) => {
    const defer = deferrals(t);
    const { dir, cleanup } = tempDir();
    defer(cleanup);
    const server = await spawnServer(dir, []);
    defer(() => server.close());
    await call(server.client, 'ingest', { text: notes('1212'), source: 'cli.md' });
    const served = (await call<Served>(server.client, 'page_fault', { query: 'vault access code' })).s;
    const page = served.pages[0]!.page_id;

    const unknown = spawnSync(process.execPath, [CLI, 'forget', 'nothing.md', '--data-dir', dir], { encoding: 'utf8' });
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /target.*no document or source "nothing\.md"/);
    const r = spawnSync(process.execPath, [CLI, 'forget', 'cli.md', '--data-dir', dir], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /forgot d[0-9a-f]{16}\s+current\s+cli\.md/);
    // The forget is committed when the command exits: from then on, the serving process has a second.
    const l1 = await waitFor(
      async () => {
        const text = await readText(server.client, 'vmem://l1');
        return text.includes(page) ? undefined : text;
      },
      'the page leaving the other process’s L1 within a second',
      { timeoutMs: 1000 },
    );
    assert.doesNotMatch(l1, new RegExp(page));
  });
});

describe('watch', () => {
  test('new and changed files are ingested, deleted ones forgotten, debounced; .gitignore and the ignore list are honoured', async (t) => {
    const { pager } = await connectedStore(t);
    const { dir, cleanup } = tempDir('vmem-watch-');
    t.after(cleanup);
    const name = basename(dir);
    writeFileSync(join(dir, '.gitignore'), 'secret.md\n');
    writeFileSync(join(dir, 'a.md'), notes('1000'));
    writeFileSync(join(dir, 'secret.md'), notes('0000'));
    const events: WatchEvent[] = [];
    const watcher = await watchDirectory(pager, dir, {
      ignore: ['*.log'],
      debounceMs: 100,
      onEvent: (e) => events.push(e),
    });
    t.after(() => watcher.close());
    assert.deepEqual(
      events.map((e) => `${e.kind} ${e.source}`),
      [`ingested ${join(name, 'a.md')}`],
      'the initial scan ingests a.md and leaves secret.md out',
    );

    // Several writes in a row are one change.
    for (const code of ['2000', '3000', '4000']) writeFileSync(join(dir, 'a.md'), notes(code));
    writeFileSync(join(dir, 'b.md'), notes('5000'));
    writeFileSync(join(dir, 'debug.log'), 'log line');
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'sub', 'c.md'), notes('6000'));
    await waitFor(async () => {
      await watcher.idle();
      return pager.table.currentOf(join(name, 'sub', 'c.md')) && pager.table.currentOf(join(name, 'b.md'));
    }, 'the new files ingested');
    await watcher.idle();
    const versions = pager.table.versionsOf(join(name, 'a.md'));
    assert.equal(versions.length, 2, 'the burst of writes made one new version');
    assert.equal(events.filter((e) => e.source === join(name, 'a.md')).length, 2);
    assert.equal(pager.table.versionsOf(join(name, 'debug.log')).length, 0, 'the ignore list holds');
    assert.equal(pager.table.versionsOf(join(name, 'secret.md')).length, 0, '.gitignore holds');

    rmSync(join(dir, 'b.md'));
    await waitFor(async () => {
      await watcher.idle();
      return events.some((e) => e.kind === 'forgotten' && e.source === join(name, 'b.md')) || undefined;
    }, 'b.md forgotten');
    assert.equal(pager.table.versionsOf(join(name, 'b.md')).length, 0);

    // A file deleted while no watch runs is forgotten when the next one starts.
    await watcher.close();
    rmSync(join(dir, 'sub', 'c.md'));
    const next = await watchDirectory(pager, dir, { debounceMs: 100, onEvent: (e) => events.push(e) });
    t.after(() => next.close());
    assert.equal(pager.table.versionsOf(join(name, 'sub', 'c.md')).length, 0, 'c.md forgotten at start');
    assert.ok(pager.table.currentOf(join(name, 'a.md')), 'a.md, still there, stays');
    assert.equal(
      events.some((e) => e.kind === 'failed'),
      false,
    );
  });
});
