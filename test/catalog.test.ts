/**
 * The catalog: the page table in one SQLite database shared by every process on a data dir. What the table holds
 * is what the database holds: a write reaches it only once its transaction committed; other processes' commits
 * are seen without a restart; a page table written by an earlier vmem as catalog.jsonl is imported once.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Catalog } from '../src/catalog.ts';
import type { DocumentEntry, PageEntry, PageSummary } from '../src/core/page-table.ts';
import { type Database, openDatabase, type SqlValue, type Statement } from '../src/store/sqlite.ts';
import { connect, deferrals, openPager, REPO, readText, tableDocuments, tablePages, tempDir } from './helpers.ts';
import { CLI, ENV } from './support/spawn.ts';
import { waitFor } from './support/wait.ts';

const page = (id: string, documentId = 'd1', ordinal = 0): PageEntry => ({
  id,
  sha256: id.padEnd(64, '0'),
  tokens: 10,
  documentId,
  source: `${documentId}.md`,
  ordinal,
  charStart: 0,
  charEnd: 40,
  lineStart: 1,
  lineEnd: 2,
  gist: `page ${id}`,
  stored: true,
  indexed: true,
  accessCount: 0,
  faultCount: 0,
  lastAccess: 0,
});
const docOf = (id: string, pageIds: string[]): DocumentEntry => ({
  id,
  source: `${id}.md`,
  tokens: 10 * pageIds.length,
  bytes: 40 * pageIds.length,
  pageIds,
  ingestedAt: 1,
});
const doc = docOf('d1', ['p1']);

/** A connection whose next `failures` writes fail as a full disk does. */
function failingDb(state: { failures: number }) {
  return (file: string): Database => {
    const db = openDatabase(file);
    const prepare = db.prepare.bind(db);
    return Object.assign(Object.create(db) as Database, {
      exec: (sql: string) => db.exec(sql),
      close: () => db.close(),
      prepare: (sql: string): Statement => {
        const st = prepare(sql);
        if (!/^\s*(INSERT|UPDATE)/i.test(sql)) return st;
        return {
          get: (...p: SqlValue[]) => st.get(...p),
          all: (...p: SqlValue[]) => st.all(...p),
          run: (...p: SqlValue[]) => {
            if (state.failures > 0) {
              state.failures--;
              throw Object.assign(new Error('SQLITE_FULL: database or disk is full'), { code: 'SQLITE_FULL' });
            }
            return st.run(...p);
          },
        };
      },
    });
  };
}

/** Runs `code` in another Node process (the same Node as this one), with `Catalog` imported; resolves its stderr. */
function inAnotherProcess(code: string): { child: ChildProcess; done: Promise<string> } {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--input-type=module',
      '-e',
      `import { Catalog } from './src/catalog.ts';\nconst page = ${page.toString()};\nconst docOf = ${docOf.toString()};\n${code}`,
    ],
    { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => void (stderr += d.toString()));
  const done = new Promise<string>((resolve, reject) =>
    child.on('exit', (status) =>
      status === 0 ? resolve(stderr) : reject(new Error(`the other process exited ${status}: ${stderr}`)),
    ),
  );
  return { child, done };
}

/** Lines written to console.error while `body` runs. */
async function stderrOf<T>(body: () => Promise<T>): Promise<{ result: T; lines: string[] }> {
  const lines: string[] = [];
  const error = console.error;
  console.error = (...args: unknown[]) => void lines.push(args.map(String).join(' '));
  try {
    return { result: await body(), lines };
  } finally {
    console.error = error;
  }
}

describe('catalog', () => {
  test('a failed write leaves the table as it was; the retry records the document, and a restart finds it', async (t) => {
    const defer = deferrals(t);
    const { dir, cleanup } = tempDir('vmem-catalog-');
    defer(cleanup);
    const state = { failures: 1 };
    const catalog = await Catalog.open(dir, { openDb: failingDb(state) });
    defer(() => catalog.close());

    await assert.rejects(catalog.addDocuments([{ doc, pages: [page('p1')] }]), /SQLITE_FULL/);
    assert.equal(catalog.table.document('d1'), undefined, 'a document whose write failed is "already paged"');
    assert.equal(catalog.table.has('p1'), false, 'a page whose write failed is known');
    assert.equal(catalog.table.pageCount, 0);

    await catalog.addDocuments([{ doc, pages: [page('p1')] }]);
    assert.deepEqual(catalog.table.document('d1'), doc);
    assert.deepEqual(catalog.table.get('p1'), page('p1'));

    const summary = { text: 'short', tokens: 1, by: 'test', at: 2 };
    state.failures = 1;
    await assert.rejects(catalog.addSummary('p1', summary), /SQLITE_FULL/);
    assert.equal(catalog.table.get('p1')!.summary, undefined, 'a summary whose write failed is in the table');
    await catalog.addSummary('p1', summary);
    assert.deepEqual(catalog.table.get('p1')!.summary, summary);
    await catalog.addSummary('p1', { ...summary, text: 'later' });
    assert.deepEqual(catalog.table.get('p1')!.summary, summary, 'the first summary stays');

    state.failures = 1;
    await assert.rejects(catalog.addStats([['p1', 3, 1, 5]]), /SQLITE_FULL/);
    assert.equal(catalog.table.get('p1')!.accessCount, 0, 'statistics whose write failed are counted');

    // Accesses are seen at once by this process, and kept for the next flush when one fails.
    catalog.recordAccess('p1', 7, true);
    state.failures = 1;
    await assert.rejects(catalog.flush(), /SQLITE_FULL/);
    assert.equal(catalog.table.get('p1')!.accessCount, 1);
    await catalog.flush();

    const reopened = await Catalog.open(dir);
    defer(() => reopened.close());
    assert.deepEqual(reopened.table.document('d1'), doc);
    assert.deepEqual(reopened.table.get('p1'), {
      ...page('p1'),
      summary,
      accessCount: 1,
      faultCount: 1,
      lastAccess: 7,
    });
    assert.deepEqual(reopened.table.totals(), {
      documents: 1,
      pages: 1,
      tokens: 10,
      summaries: 1,
      summaryTokens: 1,
      accesses: 1,
      faults: 1,
    });
  });

  test('another process’s writes are seen without a restart (with a change event), statistics of processes add up, and a reopened catalog holds them all', async (t) => {
    const defer = deferrals(t);
    const { dir, cleanup } = tempDir('vmem-catalog-');
    defer(cleanup);
    const catalog = await Catalog.open(dir);
    defer(() => catalog.close());
    await catalog.addDocuments([{ doc, pages: [page('p1')] }]);
    let changes = 0;
    catalog.on('changed', () => changes++);

    // Two processes at once: both record the same new document (it is recorded once) and access p1 50 times each.
    const writer = (n: number) =>
      inAnotherProcess(`
        const c = await Catalog.open(${JSON.stringify(dir)});
        await c.addDocuments([{ doc: docOf('d2', ['p2', 'p3']), pages: [page('p2', 'd2', 0), page('p3', 'd2', 1)] }]);
        for (let i = 0; i < 50; i++) {
          c.recordAccess('p1', ${n} * 1000 + i, i % 5 === 0);
          if (i % 10 === 9) await c.flush();
        }
        await c.addSummary('p2', { text: 'from ${n}', tokens: 2, by: 'test', at: ${n} });
        await c.close();
      `).done;
    await Promise.all([writer(1), writer(2)]);
    await waitFor(() => changes > 0, 'the change event of the other processes’ writes');

    assert.deepEqual(
      tableDocuments(catalog.table).map((d) => d.id),
      ['d1', 'd2'],
    );
    assert.deepEqual(catalog.table.document('d2'), docOf('d2', ['p2', 'p3']));
    const p1 = catalog.table.get('p1')!;
    assert.deepEqual([p1.accessCount, p1.faultCount, p1.lastAccess], [100, 20, 2049], 'deltas add up');
    assert.match(catalog.table.get('p2')!.summary!.text, /^from [12]$/);
    assert.equal(catalog.table.totals().summaries, 1, 'one summary: the first stays');

    await catalog.addDocuments([{ doc: docOf('d3', ['p4']), pages: [page('p4', 'd3')] }]);
    await catalog.close();
    const reopened = await Catalog.open(dir);
    defer(() => reopened.close());
    assert.deepEqual(
      tablePages(reopened.table).map((p) => [p.id, p.accessCount]),
      [
        ['p1', 100],
        ['p2', 0],
        ['p3', 0],
        ['p4', 0],
      ],
    );
    assert.deepEqual(reopened.table.totals(), {
      documents: 3,
      pages: 4,
      tokens: 40,
      summaries: 1,
      summaryTokens: 2,
      accesses: 100,
      faults: 20,
    });
  });
});

/** A catalog.jsonl as vmem wrote it before catalog.db, with the record shapes it used. */
function legacyLog(dir: string): string {
  const w = 'writer-1';
  const summary = (text: string, at: number): PageSummary => ({ text, tokens: 3, by: 'extractive', at });
  const records = [
    { t: 'doc', w, doc: docOf('d1', ['p1', 'p2']), pages: [page('p1'), page('p2', 'd1', 1)] },
    // The same bytes under another name: its pages are known already, and keep their first origin.
    { t: 'doc', w, doc: docOf('d2', ['p1', 'p2']), pages: [] },
    { t: 'stats', w, s: [['p1', 2, 1, 100]] },
    { t: 'doc', w: 'writer-2', doc: docOf('d3', ['p3', 'p1']), pages: [page('p3', 'd3')] },
    {
      t: 'stats',
      w: 'writer-2',
      s: [
        ['p1', 3, 2, 90],
        ['p3', 1, 1, 300],
        ['unknown', 9, 9, 9],
      ],
    },
    { t: 'summary', w, id: 'p1', summary: summary('first', 1) },
    { t: 'summary', w: 'writer-2', id: 'p1', summary: summary('second', 2) },
    { t: 'summary', w, id: 'p3', summary: summary('third', 3) },
  ];
  const path = join(dir, 'catalog.jsonl');
  // A last line torn by a crash is skipped, as the log's readers did.
  fs.writeFileSync(path, `${records.map((r) => JSON.stringify(r)).join('\n')}\n{"t":"stats","w":"x","s":[["p1",`);
  return path;
}

describe('catalog.jsonl of an earlier vmem', () => {
  test('is imported into catalog.db at the first open (documents, pages, summaries, statistics summed), then kept as catalog.jsonl.migrated', async (t) => {
    const defer = deferrals(t);
    const { dir, cleanup } = tempDir('vmem-catalog-');
    defer(cleanup);
    const path = legacyLog(dir);
    const bytes = fs.readFileSync(path);

    const { result: catalog, lines } = await stderrOf(() => Catalog.open(dir));
    defer(() => catalog.close());
    assert.deepEqual(lines, ['vmem: moved the page table from catalog.jsonl into catalog.db (3 documents, 3 pages)']);
    assert.equal(fs.existsSync(path), false);
    assert.deepEqual(fs.readFileSync(`${path}.migrated`), bytes, 'the log is kept as it was');

    assert.deepEqual(
      tableDocuments(catalog.table).map((d) => [d.id, d.pageIds]),
      [
        ['d1', ['p1', 'p2']],
        ['d2', ['p1', 'p2']],
        ['d3', ['p3', 'p1']],
      ],
    );
    const p1 = catalog.table.get('p1')!;
    assert.equal(p1.source, 'd1.md', 'a shared page keeps its first origin');
    assert.deepEqual([p1.accessCount, p1.faultCount, p1.lastAccess], [5, 3, 100], 'statistics summed');
    assert.equal(p1.summary!.text, 'first', 'the first summary stays');
    assert.deepEqual(catalog.table.get('p2'), page('p2', 'd1', 1));
    assert.deepEqual(catalog.table.totals(), {
      documents: 3,
      pages: 3,
      tokens: 30,
      summaries: 2,
      summaryTokens: 6,
      accesses: 6,
      faults: 4,
    });
    await catalog.close();

    const { result: again, lines: quiet } = await stderrOf(() => Catalog.open(dir));
    defer(() => again.close());
    assert.deepEqual(quiet, [], 'imported once');
    assert.equal(again.table.get('p1')!.accessCount, 5);
  });

  test('two processes opening the same old store at once import it once', { timeout: 60_000 }, async (t) => {
    const defer = deferrals(t);
    const { dir, cleanup } = tempDir('vmem-catalog-');
    defer(cleanup);
    const path = legacyLog(dir);
    const opener = () =>
      inAnotherProcess(`
        const c = await Catalog.open(${JSON.stringify(dir)});
        await c.close();
      `).done;
    const stderr = await Promise.all([opener(), opener(), opener()]);
    assert.equal(
      stderr.join('').match(/moved the page table/g)?.length,
      1,
      `one import, one message: ${JSON.stringify(stderr)}`,
    );
    assert.ok(fs.existsSync(`${path}.migrated`) && !fs.existsSync(path));
    const catalog = await Catalog.open(dir);
    defer(() => catalog.close());
    assert.equal(catalog.table.get('p1')!.accessCount, 5, 'statistics imported once');
    assert.equal(catalog.table.documentCount, 3);
  });
});

describe('a store of 5,000 pages', () => {
  test('a page-table read lists at most 100 documents and its totals; vmem stats gives the totals', {
    timeout: 60_000,
  }, async (t) => {
    const defer = deferrals(t);
    const { dir, cleanup } = tempDir('vmem-catalog-');
    defer(cleanup);
    const catalog = await Catalog.open(dir);
    const docs = Array.from({ length: 1000 }, (_, d) => {
      const ids = Array.from({ length: 5 }, (_, i) => `p${String(d * 5 + i).padStart(20, '0')}`);
      return { doc: docOf(`d${d}`, ids), pages: ids.map((id, i) => page(id, `d${d}`, i)) };
    });
    await catalog.addDocuments(docs);
    await catalog.addSummary(docs[0]!.pages[0]!.id, { text: 'gist', tokens: 4, by: 'extractive', at: 1 });
    await catalog.addStats([[docs[1]!.pages[0]!.id, 3, 2, 10]]);
    await catalog.close();

    const pager = await openPager(dir);
    defer(() => pager.close());
    const { client, close } = await connect(pager);
    defer(close);
    const read = async (uri: string) =>
      JSON.parse(await readText(client, uri)) as {
        totals: { documents: number; pages: number };
        documents: { id: string; pages: number }[];
        next: string | null;
      };
    const first = await read('vmem://page-table');
    assert.equal(first.documents.length, 100);
    assert.deepEqual(first.totals, { documents: 1000, pages: 5000 });
    assert.deepEqual(first.documents[0], { ...first.documents[0], id: 'd0', pages: 5 });
    assert.equal(first.next, 'vmem://page-table?from=100');
    const last = await read('vmem://page-table?from=900');
    assert.deepEqual(
      [last.documents.length, last.documents[0]!.id, last.documents.at(-1)!.id, last.next],
      [100, 'd900', 'd999', null],
    );
    assert.deepEqual((await read('vmem://page-table?from=5000')).documents, []);

    const r = spawnSync(process.execPath, [CLI, 'stats', '--data-dir', dir], { encoding: 'utf8', env: ENV });
    assert.equal(r.status, 0, r.stderr);
    const stats = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.deepEqual(
      [stats.documents, stats.pages, stats.tokens, stats.summaries, stats.faults],
      [1000, 5000, 50_000, { pages: 1, tokens: 4, compressor: 'extractive' }, 2],
    );
  });
});
