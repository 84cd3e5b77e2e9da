/**
 * The embedded L3 on SQLite: segment merges keep the ranking, a second connection (as another process
 * has) sees what the first committed, and a data dir of the previous format is imported once.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { splitSentences } from '../src/core/sentences.ts';
import { analyze } from '../src/embed/analyzer.ts';
import { HashingEmbedder } from '../src/embed/hashing.ts';
import { EmbeddedIndex } from '../src/tiers/l3/embedded.ts';
import type { IndexItem } from '../src/tiers/l3/index.ts';
import { chapters, tempDir } from './helpers.ts';

/** Pages of the fixture's chapters, a paragraph each, as L3 items. */
function items(n: number): IndexItem[] {
  return chapters(8)
    .split(/\n\s*\n/)
    .filter((p) => p.trim().length > 200)
    .slice(0, n)
    .map((text, i) => ({
      meta: { id: `p${String(i).padStart(4, '0')}` } as IndexItem['meta'],
      text,
    }));
}

const QUERIES = ['whale ship harpoon', 'Queequeg bed landlord', 'sermon pulpit ladder', 'the sea and the land'];

test('postings merged across segments rank exactly as postings written at once', async (t) => {
  const tmp = tempDir('vmem-lexical-');
  t.after(() => tmp.cleanup());
  const all = items(120);
  assert.ok(all.length >= 100, 'enough paragraphs for three levels of segments');
  const once = await EmbeddedIndex.open(join(tmp.dir, 'once.db'));
  const piecewise = await EmbeddedIndex.open(join(tmp.dir, 'piecewise.db'));
  t.after(async () => {
    await once.close();
    await piecewise.close();
  });
  await once.upsert(all);
  // One page per upsert: 120 segments, merged ten at a time into level 1 and then level 2.
  for (const it of all) await piecewise.upsert([it]);
  assert.equal(piecewise.size(), all.length);
  for (const q of QUERIES) assert.deepEqual(await piecewise.query(q, 5), await once.query(q, 5), q);
});

test('a second connection finds what the first committed, at its next query', async (t) => {
  const tmp = tempDir('vmem-lexical-');
  t.after(() => tmp.cleanup());
  const file = join(tmp.dir, 'lexical.db');
  const writer = await EmbeddedIndex.open(file);
  const reader = await EmbeddedIndex.open(file);
  t.after(async () => {
    await writer.close();
    await reader.close();
  });
  assert.deepEqual(await reader.query('Queequeg', 3), []);
  await writer.upsert(items(40));
  assert.equal(reader.size(), 40);
  const hits = await reader.query('Queequeg bed landlord', 3);
  assert.equal(hits.length, 3);
  assert.ok(reader.has(hits[0]!.pageId));
});

test('the previous format (JSON lines) is imported once, said on stderr, and kept aside', async (t) => {
  const tmp = tempDir('vmem-lexical-');
  t.after(() => tmp.cleanup());
  mkdirSync(join(tmp.dir, 'l3'));
  const legacy = join(tmp.dir, 'l3', 'embedded.jsonl');
  const embedder = new HashingEmbedder();
  const old = items(30);
  const lines = [
    { format: 'vmem-l3-embedded/3', embedder: embedder.name, dim: embedder.dim },
    ...old.map((it) => ({
      id: it.meta.id,
      s: splitSentences(it.text).map((s) => analyze(s).join(' ')),
      v: '',
    })),
  ];
  writeFileSync(legacy, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
  const said: string[] = [];
  const error = console.error;
  console.error = (...args: unknown[]) => void said.push(args.join(' '));
  let imported: EmbeddedIndex;
  try {
    imported = await EmbeddedIndex.open(join(tmp.dir, 'l3', 'lexical.db'), { legacy });
  } finally {
    console.error = error;
  }
  t.after(() => imported.close());
  assert.equal(imported.size(), 30);
  assert.ok(!existsSync(legacy) && existsSync(`${legacy}.migrated`), 'the old log is set aside, not deleted');
  assert.equal(said.length, 1);
  assert.match(said[0]!, /moved the L3 index from embedded\.jsonl into lexical\.db \(30 items\)/);
  // Ranked as if the pages had been indexed by this version.
  const fresh = await EmbeddedIndex.open(join(tmp.dir, 'fresh.db'));
  t.after(() => fresh.close());
  await fresh.upsert(old);
  for (const q of QUERIES) assert.deepEqual(await imported.query(q, 5), await fresh.query(q, 5), q);
});
