import assert from 'node:assert/strict';
import fs from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  type Progress,
  ResourceListChangedNotificationSchema,
  ResourceUpdatedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import type { Snapshot } from '../src/core/snapshot.ts';
import { Session } from '../src/session.ts';
import { MemoryL2 } from '../src/tiers/l2/memory.ts';
import {
  allPages,
  call,
  chapters,
  connect,
  type DocumentJson,
  deferrals,
  demoDoc,
  documentPages,
  factRe,
  fakeClock,
  l1Ids,
  openPager,
  type PagingJson,
  RESOURCE_TEMPLATES,
  readText,
  TOOL_NAMES,
  tempDir,
} from './helpers.ts';
import { waitFor } from './support/wait.ts';

interface PageTableJson {
  l1: { used_tokens: number; budget_tokens: number; pages: number; uri: string };
  totals: { documents: number; pages: number };
  levels: { l2: string; l3: string; l4: string };
  documents: DocumentJson[];
  next: string | null;
}
interface SerializeJson {
  snapshot_id: string;
  uri: string;
  snapshot: Snapshot;
  snapshot_bytes: number;
  page_tokens: number;
}
interface IngestJson {
  documents: { document_id: string; source: string; pages: number; new_pages: number; tokens: number }[];
  total_pages: number;
  total_tokens: number;
}

/** The text content of a paging result says the same as its structured content. */
function assertTextMatchesStructured(text: string, s: PagingJson): void {
  for (const p of s.pages) {
    assert.ok(text.includes(`## ${p.page_id} · ${p.source} #${p.ordinal}`), `text lacks the header of ${p.page_id}`);
    assert.ok(text.includes(`from ${p.level}`), `text lacks the level of ${p.page_id}`);
    if (p.text !== undefined) assert.ok(text.includes(p.text), `text content lacks the page text of ${p.page_id}`);
    else {
      // A page left without its text says, in the same result, the one call that brings it.
      assert.equal(p.reload, `load_page {"page_ids":["${p.page_id}"]}`);
      assert.ok(text.includes(`if you do not see it: ${p.reload}`), `text lacks the way back to ${p.page_id}`);
    }
  }
  for (const h of [...s.evicted, ...s.skipped])
    assert.ok(text.includes(`- ${h.page_id} ·`), `text lacks handle ${h.page_id}`);
  assert.ok(text.includes(`L1: ${s.l1.used_tokens}/${s.l1.budget_tokens} tokens in ${s.l1.pages} pages.`));
}

const faultArgs = (station: string, year: number) => ({
  query: `What was the maintenance code for pump station ${station} in ${year}?`,
  max_pages: 1,
});

describe('MCP server, in process', () => {
  test('lists tools with output schemas and annotations, the prompt, instructions and resource templates', async (t) => {
    const defer = deferrals(t);
    const { dir, cleanup } = tempDir();
    defer(cleanup);
    const pager = await openPager(dir, { '--page-tokens': '200', '--l1-tokens': '2000' });
    const { client, close } = await connect(pager);
    defer(async () => {
      await close();
      await pager.close();
    });

    const { tools } = await client.listTools();
    assert.deepEqual(tools.map((x) => x.name).sort(), TOOL_NAMES);
    for (const tool of tools) {
      assert.equal(tool.inputSchema.type, 'object', `${tool.name} inputSchema`);
      assert.equal(tool.outputSchema?.type, 'object', `${tool.name} has an outputSchema`);
      assert.ok(
        Object.keys(tool.outputSchema?.properties ?? {}).length > 0,
        `${tool.name} outputSchema has properties`,
      );
      assert.ok(tool.annotations, `${tool.name} has annotations`);
      assert.equal(typeof tool.annotations.readOnlyHint, 'boolean', `${tool.name} readOnlyHint`);
      assert.equal(typeof tool.annotations.idempotentHint, 'boolean', `${tool.name} idempotentHint`);
      assert.equal(tool.annotations.openWorldHint, false, `${tool.name} is closed-world`);
      assert.ok(tool.description && tool.description.length > 20, `${tool.name} has a description`);
    }
    const paging = tools.find((x) => x.name === 'page_fault')!;
    assert.deepEqual(Object.keys(paging.outputSchema!.properties!).sort(), [
      'candidates',
      'evicted',
      'l1',
      'pages',
      'query',
      'skipped',
    ]);
    assert.deepEqual(paging.inputSchema.required, ['query']);

    const instructions = client.getInstructions();
    assert.ok(instructions, 'server instructions exist');
    for (const word of ['ingest', 'page_fault', 'load_page', 'evict', 'serialize_context', 'restore_context'])
      assert.ok(instructions.includes(word), `instructions mention ${word}`);

    const { prompts } = await client.listPrompts();
    assert.deepEqual(
      prompts.map((p) => p.name),
      ['use-virtual-memory'],
    );
    const prompt = await client.getPrompt({ name: 'use-virtual-memory' });
    const msg = prompt.messages[0]!;
    assert.equal(msg.role, 'user');
    assert.ok(
      msg.content.type === 'text' &&
        msg.content.text.includes('serialize_context') &&
        msg.content.text.includes(instructions),
    );

    const { resourceTemplates } = await client.listResourceTemplates();
    assert.deepEqual(resourceTemplates.map((r) => r.uriTemplate).sort(), RESOURCE_TEMPLATES);
    const { resources } = await client.listResources();
    assert.deepEqual(resources.map((r) => r.uri).sort(), ['vmem://l1', 'vmem://page-table', 'vmem://sources']);
    assert.equal(await readText(client, 'vmem://l1'), '(L1 is empty)');
    const table = JSON.parse(await readText(client, 'vmem://page-table')) as PageTableJson;
    assert.deepEqual(table, {
      l1: { used_tokens: 0, budget_tokens: 2000, pages: 0, uri: 'vmem://l1' },
      totals: { documents: 0, pages: 0 },
      levels: { l2: 'memory', l3: 'embedded', l4: 'fs' },
      documents: [],
      next: null,
    });
    const caps = client.getServerCapabilities();
    assert.equal(caps?.resources?.subscribe, true);
    assert.ok(caps?.tools && caps.prompts);
  });

  test('end to end at the default 2000-token pages over a 100+ page document', async (t) => {
    const defer = deferrals(t);
    const { dir, cleanup } = tempDir();
    defer(cleanup);
    const clock = fakeClock();
    const pager = await openPager(dir, {}, { now: clock.now, l2: new MemoryL2(4096, clock.now) });
    assert.equal(pager.config.pageTokens, 2000);
    const a = await connect(pager, 'agent-a');
    defer(async () => {
      await a.close();
      await pager.close();
    });
    const client: Client = a.client;
    const budget = pager.config.l1Tokens;
    const doc = demoDoc();
    const texts = new Map<string, string>();
    let docPages: string[] = [];
    const goldFor = (station: string, year: number) =>
      [...texts].filter(([, text]) => factRe(station, year).test(text)).map(([id]) => id);
    const updates: string[] = [];
    let listChanged = 0;
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => void updates.push(n.params.uri));
    client.setNotificationHandler(ResourceListChangedNotificationSchema, () => void listChanged++);

    await t.test('ingest reports progress and pages the document into 100+ pages', async () => {
      await client.subscribeResource({ uri: 'vmem://page-table' });
      const progress: Progress[] = [];
      const r = await client.callTool(
        { name: 'ingest', arguments: { text: doc, source: 'operations-manual.md' } },
        undefined,
        { onprogress: (p) => void progress.push(p) },
      );
      assert.equal(r.isError, undefined);
      const s = r.structuredContent as unknown as IngestJson;
      assert.equal(s.documents.length, 1);
      assert.ok(s.total_pages >= 100, `only ${s.total_pages} pages`);
      assert.equal(s.documents[0]!.new_pages, s.total_pages);
      assert.equal(s.documents[0]!.source, 'operations-manual.md');
      assert.ok(progress.length >= 1, 'a progress notification arrived');
      assert.deepEqual(progress.at(-1), {
        progress: Buffer.byteLength(doc),
        total: Buffer.byteLength(doc),
        message: `${Buffer.byteLength(doc)}/${Buffer.byteLength(doc)} bytes paged`,
      });
      await waitFor(() => updates.includes('vmem://page-table'), 'a page-table update after ingest');

      const table = JSON.parse(await readText(client, 'vmem://page-table')) as PageTableJson;
      assert.deepEqual(table.totals, { documents: 1, pages: s.total_pages });
      assert.equal(table.documents[0]!.id, s.documents[0]!.document_id);
      assert.equal(table.documents[0]!.uri, `vmem://documents/${s.documents[0]!.document_id}`);
      assert.equal(table.documents[0]!.pages, s.total_pages);
      // The document's pages come 100 per read; `next` leads through them in order.
      const first = JSON.parse(await readText(client, table.documents[0]!.uri)) as {
        pages: unknown[];
        next: string | null;
        total_pages: number;
      };
      assert.equal(first.pages.length, 100);
      assert.equal(first.total_pages, s.total_pages);
      assert.equal(first.next, `${table.documents[0]!.uri}?from=100`);
      const pages = await documentPages(client, s.documents[0]!.document_id);
      docPages = pages.map((p) => p.id);
      assert.equal(docPages.length, s.total_pages);
      assert.deepEqual(
        pages.map((p) => p.ordinal),
        docPages.map((_, i) => i),
      );
      for (const p of pages) {
        assert.deepEqual(p.levels, ['L3', 'L4'], 'freshly ingested pages are indexed and stored, not cached');
        assert.ok(p.tokens <= 2000 && p.tokens > 0);
        assert.equal(p.access_count, 0);
      }
      assert.equal(
        pages.reduce((n, p) => n + p.tokens, 0),
        s.total_tokens,
      );
      // Page texts straight from L4, without warming L2.
      const stored = await pager.l4.getPages(docPages);
      docPages.forEach((id, i) => texts.set(id, stored[i]!.text));
      assert.equal(docPages.map((id) => texts.get(id)).join(''), doc, 'the pages are the document');
    });

    let gold = '';
    await t.test('a fault is served from L4 the first time and from L1 the second', async () => {
      await client.subscribeResource({ uri: 'vmem://l1' });
      updates.length = 0;
      const golds = goldFor('Kestrel', 2003);
      assert.equal(golds.length, 1, 'the fact is on exactly one page');
      gold = golds[0]!;
      const first = await call(client, 'page_fault', faultArgs('Kestrel', 2003));
      assert.equal(first.s.query, faultArgs('Kestrel', 2003).query);
      assert.equal(first.s.pages.length, 1);
      const p = first.s.pages[0]!;
      assert.equal(p.page_id, gold, 'the fault finds the page that holds the answer');
      assert.equal(p.level, 'L4');
      assert.equal(p.text, texts.get(gold));
      assert.match(p.text!, factRe('Kestrel', 2003));
      assert.ok(typeof p.score === 'number' && p.score > 0);
      assert.equal(p.source, 'operations-manual.md');
      assert.equal(p.ordinal, docPages.indexOf(gold));
      assert.deepEqual(first.s.evicted, []);
      assert.deepEqual(first.s.l1, { used_tokens: p.tokens, budget_tokens: budget, pages: 1 });
      assertTextMatchesStructured(first.text, first.s);
      await waitFor(() => updates.includes('vmem://l1'), 'notifications/resources/updated for vmem://l1 after a fault');

      const second = await call(client, 'page_fault', faultArgs('Kestrel', 2003));
      assert.equal(second.s.pages[0]!.page_id, gold);
      assert.equal(second.s.pages[0]!.level, 'L1');
      assert.equal(second.s.pages[0]!.text, undefined, 'a resident page is not repeated');
      assert.deepEqual(second.s.l1, first.s.l1);
      assertTextMatchesStructured(second.text, second.s);

      const table = JSON.parse(await readText(client, 'vmem://page-table')) as PageTableJson;
      const e = (await allPages(client)).get(gold)!;
      assert.deepEqual(e.levels, ['L1', 'L2', 'L3', 'L4']);
      assert.equal(e.fault_count, 1);
      assert.equal(e.access_count, 2);
      assert.equal(e.last_access, new Date(clock.now()).toISOString());
      assert.deepEqual(table.l1, { used_tokens: p.tokens, budget_tokens: budget, pages: 1, uri: 'vmem://l1' });
      assert.equal(l1Ids(await readText(client, 'vmem://l1')).join(), gold);
    });

    let pinnedId = '';
    await t.test('filling L1 past its budget evicts least recently used pages, leaving handles', async () => {
      const facts: [string, number][] = [
        ['Heron', 1952],
        ['Osprey', 1958],
        ['Plover', 1964],
        ['Curlew', 1970],
        ['Merlin', 1976],
        ['Dunlin', 1982],
        ['Avocet', 1988],
        ['Godwit', 1994],
        ['Shrike', 2008],
        ['Linnet', 2014],
        ['Siskin', 2020],
        ['Heron', 2026],
      ];
      const model = [gold]; // expected L1 order, least recently used first
      let sawEviction = false;
      for (const [station, year] of facts) {
        const golds = goldFor(station, year);
        assert.equal(golds.length, 1);
        const r = await call(client, 'page_fault', faultArgs(station, year));
        const p = r.s.pages[0]!;
        assert.equal(p.page_id, golds[0], `fault for ${station} ${year} finds its page`);
        assert.ok(!model.includes(p.page_id), 'fixture: every fact is on a new page');
        assert.ok(p.level === 'L4' && p.text !== undefined);
        model.push(p.page_id);
        const expectedEvicted: string[] = [];
        let used = model.reduce((n, id) => n + pager.table.get(id)!.tokens, 0);
        while (used > budget) {
          const victim = model.shift()!;
          expectedEvicted.push(victim);
          used -= pager.table.get(victim)!.tokens;
        }
        assert.deepEqual(
          r.s.evicted.map((h) => h.page_id),
          expectedEvicted,
          'evicts the least recently used pages, oldest first',
        );
        for (const h of r.s.evicted) {
          sawEviction = true;
          assert.equal(h.reload, `load_page {"page_ids":["${h.page_id}"]}`);
          assert.equal(h.tokens, pager.table.get(h.page_id)!.tokens);
          assert.ok(h.gist.length > 10 && h.gist.length <= 120);
          assert.equal(h.source, 'operations-manual.md');
        }
        assert.ok(r.s.l1.used_tokens <= budget, 'L1 never exceeds its budget');
        assert.equal(r.s.l1.used_tokens, used);
        assertTextMatchesStructured(r.text, r.s);
        assert.deepEqual(l1Ids(await readText(client, 'vmem://l1')), model, 'vmem://l1 lists residents in LRU order');
      }
      assert.ok(sawEviction, 'the workload overflowed L1');
      assert.ok(!l1Ids(await readText(client, 'vmem://l1')).includes(gold), 'the first page was evicted');

      // An evicted page comes back through its handle, pinned, and survives further faults.
      const loaded = await call(client, 'load_page', { page_ids: [gold], pin: true });
      assert.equal(loaded.s.pages[0]!.page_id, gold);
      assert.equal(loaded.s.pages[0]!.pinned, true);
      assert.equal(loaded.s.pages[0]!.level, 'L2', 'an evicted page is still warm in L2');
      assert.equal(loaded.s.pages[0]!.text, texts.get(gold));
      assertTextMatchesStructured(loaded.text, loaded.s);
      pinnedId = gold;
      for (const [station, year] of [
        ['Kestrel', 1951],
        ['Kestrel', 1961],
        ['Kestrel', 1971],
        ['Kestrel', 1981],
        ['Kestrel', 1991],
        ['Kestrel', 2001],
        ['Kestrel', 2011],
        ['Kestrel', 2021],
        ['Osprey', 1999],
      ] as const) {
        const r = await call(client, 'page_fault', faultArgs(station, year));
        assert.ok(!r.s.evicted.some((h) => h.page_id === pinnedId), 'a pinned page is never evicted by a fault');
        assert.ok(r.s.l1.used_tokens <= budget);
      }
      const l1 = await readText(client, 'vmem://l1');
      assert.ok(l1Ids(l1).includes(pinnedId));
      assert.ok(
        l1.includes(
          `## ${pinnedId} · operations-manual.md #${docPages.indexOf(pinnedId)} · ${pager.table.get(pinnedId)!.tokens} tokens · pinned\n`,
        ),
      );
      assert.equal((await allPages(client)).get(pinnedId)!.pinned, true);
      // load_page of a resident page returns its text again, from L1.
      const again = await call(client, 'load_page', { page_ids: [pinnedId] });
      assert.equal(again.s.pages[0]!.level, 'L1');
      assert.equal(again.s.pages[0]!.text, texts.get(pinnedId));
      assert.equal(again.s.pages[0]!.pinned, true, 'loading without pin keeps the pin');
    });

    let snapshot: SerializeJson | undefined;
    let l1AtSnapshot = '';
    await t.test('serialize in one session, restore in a second session with an identical L1', async () => {
      l1AtSnapshot = await readText(client, 'vmem://l1');
      const idsAtSnapshot = l1Ids(l1AtSnapshot);
      assert.ok(idsAtSnapshot.length >= 5);
      const before = listChanged;
      const ser = await call<SerializeJson>(client, 'serialize_context', { note: 'handoff' });
      snapshot = ser.s;
      assert.match(ser.s.snapshot_id, /^s[0-9a-f]{20}$/);
      assert.equal(ser.s.uri, `vmem://snapshots/${ser.s.snapshot_id}`);
      assert.deepEqual(
        ser.s.snapshot.pages.map((p) => p.id),
        idsAtSnapshot,
        'the snapshot lists L1 in LRU order',
      );
      assert.equal(ser.s.snapshot.note, 'handoff');
      assert.equal(ser.s.snapshot.session, a.session.id);
      assert.equal(ser.s.snapshot_bytes, Buffer.byteLength(JSON.stringify(ser.s.snapshot)));
      assert.ok(ser.s.snapshot_bytes < 3000, 'pointers, not text');
      assert.equal(ser.s.page_tokens, a.session.l1.usedTokens);
      for (const p of ser.s.snapshot.pages) {
        assert.equal(p.sha256, pager.table.get(p.id)!.sha256);
        assert.equal(p.pinned, p.id === pinnedId ? true : undefined);
      }
      assert.ok(ser.text.includes(ser.s.snapshot_id));
      await waitFor(() => listChanged > before, 'resources/list_changed after a snapshot');
      const listed = await a.client.listResources();
      assert.ok(
        listed.resources.some((r) => r.uri === ser.s.uri),
        'snapshots are listed',
      );
      const stored = JSON.parse(await readText(client, ser.s.uri)) as Snapshot;
      assert.deepEqual(stored, ser.s.snapshot);

      const b = await connect(pager, 'agent-b');
      defer(() => b.close());
      assert.equal(await readText(b.client, 'vmem://l1'), '(L1 is empty)', 'each session has its own L1');
      const restored = await call(b.client, 'restore_context', { snapshot_id: ser.s.snapshot_id });
      assert.equal(restored.s.snapshot_id, ser.s.snapshot_id);
      assert.deepEqual(
        restored.s.pages.map((p) => p.page_id),
        idsAtSnapshot,
      );
      assert.deepEqual(restored.s.skipped, []);
      assert.deepEqual(restored.s.evicted, []);
      for (const p of restored.s.pages) {
        assert.equal(p.level, 'L2', 'agent A warmed L2 for agent B');
        assert.equal(p.text, texts.get(p.page_id));
      }
      assertTextMatchesStructured(restored.text, restored.s);
      assert.equal(await readText(b.client, 'vmem://l1'), l1AtSnapshot, 'identical L1, pins included');
      assert.deepEqual(restored.s.l1, {
        used_tokens: a.session.l1.usedTokens,
        budget_tokens: budget,
        pages: idsAtSnapshot.length,
      });

      // The snapshot object itself (as JSON text) restores too, and replaces what was there.
      const c = await connect(pager, 'agent-c');
      defer(() => c.close());
      await call(c.client, 'page_fault', faultArgs('Merlin', 2029));
      const fromObject = await call(c.client, 'restore_context', { snapshot: JSON.stringify(ser.s.snapshot) });
      assert.equal(fromObject.s.evicted.length, 1, 'the page that was resident is handed back');
      assert.equal(await readText(c.client, 'vmem://l1'), l1AtSnapshot);
    });

    await t.test('a restore into a smaller L1 keeps the most recently used pages and hands back the rest', async () => {
      const small = await connect(pager, 'small', new Session(5000));
      defer(() => small.close());
      const cl = small.client;
      const r = await call(cl, 'restore_context', { snapshot_id: snapshot!.snapshot_id });
      // Expected: walk from the most recently used end, taking every page that still fits.
      let room = 5000;
      const keep = new Set<string>();
      for (const p of [...snapshot!.snapshot.pages].reverse()) {
        if (p.tokens > room) continue;
        keep.add(p.id);
        room -= p.tokens;
      }
      const expected = snapshot!.snapshot.pages.filter((p) => keep.has(p.id)).map((p) => p.id);
      assert.deepEqual(
        r.s.pages.map((p) => p.page_id),
        expected,
      );
      assert.deepEqual(
        r.s.skipped.map((h) => h.page_id),
        snapshot!.snapshot.pages.filter((p) => !keep.has(p.id)).map((p) => p.id),
      );
      assert.ok(r.s.l1.used_tokens <= 5000);
      assert.deepEqual(l1Ids(await readText(cl, 'vmem://l1')), expected);
    });

    await t.test('pages and snapshots read as resources without touching L1', async () => {
      const l1Before = await readText(client, 'vmem://l1');
      const someId = docPages[50]!;
      assert.ok(!l1Ids(l1Before).includes(someId));
      const page = await client.readResource({ uri: `vmem://pages/${someId}` });
      assert.equal(page.contents[0]!.mimeType, 'text/plain');
      assert.equal((page.contents[0] as { text: string }).text, texts.get(someId));
      assert.equal(await readText(client, 'vmem://l1'), l1Before);
      const snap = await client.readResource({ uri: snapshot!.uri });
      assert.equal(snap.contents[0]!.mimeType, 'application/json');
      await assert.rejects(client.readResource({ uri: `vmem://pages/p${'0'.repeat(20)}` }), /unknown page/);
      await assert.rejects(client.readResource({ uri: 'vmem://snapshots/s00000000000000000000' }), /unknown snapshot/);
    });

    await t.test('evict by ids (pinned included) and evict all', async () => {
      const ids = l1Ids(await readText(client, 'vmem://l1'));
      const notResident = docPages.find((id) => !ids.includes(id))!;
      const r = await call<{
        evicted: { page_id: string; reload: string }[];
        not_resident: string[];
        l1: PagingJson['l1'];
      }>(client, 'evict', { page_ids: [pinnedId, ids[0]!, notResident] });
      assert.deepEqual(
        r.s.evicted.map((h) => h.page_id),
        [pinnedId, ids[0]!].filter((v, i, arr) => arr.indexOf(v) === i),
      );
      assert.deepEqual(r.s.not_resident, [notResident]);
      const left = l1Ids(await readText(client, 'vmem://l1'));
      assert.deepEqual(
        left,
        ids.filter((id) => id !== pinnedId && id !== ids[0]),
      );
      assert.equal(r.s.l1.pages, left.length);
      assert.ok(r.text.includes(`Not in L1: ${notResident}`));
      const all = await call<{ evicted: { page_id: string }[]; not_resident: string[]; l1: PagingJson['l1'] }>(
        client,
        'evict',
        { all: true },
      );
      assert.deepEqual(
        all.s.evicted.map((h) => h.page_id),
        left,
      );
      assert.deepEqual(all.s.l1, { used_tokens: 0, budget_tokens: budget, pages: 0 });
      assert.equal(await readText(client, 'vmem://l1'), '(L1 is empty)');
      // Another session's L1 is untouched.
      assert.equal(pager.table.get(pinnedId)!.id, pinnedId);
    });

    await t.test('unsubscribing stops updates', async () => {
      await client.unsubscribeResource({ uri: 'vmem://l1' });
      await client.unsubscribeResource({ uri: 'vmem://page-table' });
      updates.length = 0;
      await call(client, 'page_fault', faultArgs('Kestrel', 2003));
      await client.listTools(); // a round trip after the fault: any notification it caused has arrived
      assert.deepEqual(updates, []);
    });
  });

  test('end to end at 200-token pages: a directory ingest, L2 shared by sessions, L2 expiry', async (t) => {
    const defer = deferrals(t);
    const { dir, cleanup } = tempDir();
    const src = tempDir('vmem-src-');
    defer(cleanup);
    defer(src.cleanup);
    const clock = fakeClock();
    const pager = await openPager(
      dir,
      { '--page-tokens': '200', '--l1-tokens': '1000', '--l2-ttl': '60' },
      { now: clock.now, l2: new MemoryL2(4096, clock.now) },
    );
    const sessions = await Promise.all([connect(pager, 'one'), connect(pager, 'two'), connect(pager, 'three')]);
    defer(async () => {
      for (const s of sessions) await s.close();
      await pager.close();
    });
    const [one, two, three] = sessions.map((s) => s.client) as [Client, Client, Client];

    // Eight chapters as files in a directory, plus a binary file that is skipped.
    const all = chapters(8).split(/\n\n(?=# Chapter: )/);
    all.forEach((text, i) => fs.writeFileSync(join(src.dir, `chapter-${i}.md`), text));
    fs.writeFileSync(join(src.dir, 'image.bin'), Buffer.from([0, 1, 2, 3, 0, 255]));
    const progress: Progress[] = [];
    const ing = await one.callTool({ name: 'ingest', arguments: { path: src.dir } }, undefined, {
      onprogress: (p) => void progress.push(p),
    });
    assert.equal(ing.isError, undefined, JSON.stringify(ing.content));
    const s = ing.structuredContent as unknown as IngestJson;
    assert.equal(s.documents.length, 8);
    assert.ok(s.total_pages >= 100, `only ${s.total_pages} pages`);
    assert.deepEqual(
      s.documents.map((d) => d.source),
      all.map((_, i) => join(src.dir.split('/').at(-1)!, `chapter-${i}.md`)),
    );
    assert.equal(progress.length, 8, 'one progress notification per document');
    const total = all.reduce((n, x) => n + Buffer.byteLength(x), 0);
    assert.ok(progress.every((p, i) => p.total === total && (i === 0 || p.progress > progress[i - 1]!.progress)));
    assert.equal(progress.at(-1)!.progress, total);
    for (const d of s.documents)
      assert.ok(pager.table.document(d.document_id)!.pageIds.every((id) => pager.table.get(id)!.tokens <= 200));

    const q = { query: 'white whale albino shark polar bear whiteness', max_pages: 2 };
    const r1 = await call(one, 'page_fault', q);
    assert.equal(r1.s.pages.length, 2);
    assert.deepEqual(
      r1.s.pages.map((p) => p.level),
      ['L4', 'L4'],
    );
    assert.ok(r1.s.pages[0]!.text!.includes('Polar bear'));
    const r2 = await call(two, 'page_fault', q);
    assert.deepEqual(
      r2.s.pages.map((p) => p.page_id),
      r1.s.pages.map((p) => p.page_id),
    );
    assert.deepEqual(
      r2.s.pages.map((p) => p.level),
      ['L2', 'L2'],
      'a second session is served from the shared L2',
    );
    assert.deepEqual(
      r2.s.pages.map((p) => p.text),
      r1.s.pages.map((p) => p.text),
    );
    clock.advance(61_000);
    const r3 = await call(three, 'page_fault', q);
    assert.deepEqual(
      r3.s.pages.map((p) => p.level),
      ['L4', 'L4'],
      'after the L2 TTL the pages come from L4 again',
    );
    // max_tokens caps one call: the best page fits, the second does not and comes back as a handle.
    await call(one, 'evict', { all: true });
    const capped = await call(one, 'page_fault', { ...q, max_tokens: r1.s.pages[0]!.tokens });
    assert.deepEqual(
      capped.s.pages.map((p) => p.page_id),
      [r1.s.pages[0]!.page_id],
    );
    assert.deepEqual(
      capped.s.skipped.map((h) => h.page_id),
      [r1.s.pages[1]!.page_id],
    );
    assertTextMatchesStructured(capped.text, capped.s);
    // Re-ingesting the directory changes nothing.
    const again = (await call<IngestJson>(one, 'ingest', { path: src.dir })).s;
    assert.deepEqual(
      again.documents.map((d) => d.new_pages),
      Array(8).fill(0),
    );
  });
});
