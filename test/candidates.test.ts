import assert from 'node:assert/strict';
import { describe, type TestContext, test } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { tokenizer } from '../src/core/tokenizer.ts';
import { InputError } from '../src/errors.ts';
import {
  CANDIDATE_GIST_CHARS,
  CANDIDATE_LINE_CHARS,
  CANDIDATE_SOURCE_CHARS,
  DEFAULT_CANDIDATES,
  MAX_CANDIDATES,
} from '../src/paging/candidates.ts';
import { call, callErr, chapters, connectedStore, type PagingJson } from './helpers.ts';

interface CandidateJson {
  page_id: string;
  source: string;
  ordinal: number;
  tokens: number;
  gist: string;
  score: number;
  reload: string;
}
type FaultJson = PagingJson & { candidates: CandidateJson[] };

/** Longer than a candidate shows: its end, the file name, is what must survive. */
const SOURCE = 'library/classics/herman-melville/moby-dick-or-the-whale/first-chapters.md';
const QUERY = 'whale ship sea voyage harpoon';

/** Two chapters in 200-token pages (dozens of pages, many of them about the sea). */
async function store(t: TestContext) {
  const s = await connectedStore(t, { '--page-tokens': '200', '--l1-tokens': '2000' });
  await call(s.client, 'ingest', { text: chapters(2), source: SOURCE });
  return s;
}

const fault = (client: Client, args: Record<string, unknown>) => call<FaultJson>(client, 'page_fault', args);

describe('page_fault candidates', () => {
  test('the next best pages, best first, none of them admitted, as many as asked, each on one short line', async (t) => {
    const { client } = await store(t);
    const r = await fault(client, { query: QUERY, max_pages: 2, candidates: 5 });
    assert.equal(r.s.pages.length, 2);
    assert.equal(r.s.candidates.length, 5);
    const admitted = new Set(r.s.pages.map((p) => p.page_id));
    assert.ok(
      r.s.candidates.every((c) => !admitted.has(c.page_id)),
      'no candidate is a page brought in',
    );
    assert.equal(new Set(r.s.candidates.map((c) => c.page_id)).size, 5, 'no candidate twice');
    const scores = r.s.candidates.map((c) => c.score);
    assert.deepEqual(
      scores,
      [...scores].sort((a, b) => b - a),
      'best first',
    );
    const lowestPage = Math.min(...r.s.pages.map((p) => p.score!));
    assert.ok(scores[0]! <= lowestPage, `candidates rank after the pages (${scores[0]} > ${lowestPage})`);

    const enc = tokenizer('o200k_base');
    const lines = r.text.split('\n');
    assert.match(r.text, /Next best matches, not loaded \(load_page one by id if the pages above do not answer\):/);
    for (const c of r.s.candidates) {
      assert.ok(
        c.source.length <= CANDIDATE_SOURCE_CHARS && c.source.startsWith('…') && c.source.endsWith('first-chapters.md'),
      );
      assert.ok(c.gist.length > 0 && c.gist.length <= CANDIDATE_GIST_CHARS, c.gist);
      assert.equal(c.reload, `load_page {"page_ids":["${c.page_id}"]}`);
      const line = lines.find((l) => l.startsWith(`- ${c.page_id} · `));
      assert.ok(line, `the text lists candidate ${c.page_id}`);
      assert.equal(
        line,
        `- ${c.page_id} · ${c.source} #${c.ordinal} · ${c.tokens} tokens · score ${c.score.toFixed(3)} · ${c.gist}`,
      );
      assert.ok(line.length <= CANDIDATE_LINE_CHARS, `${line.length} characters: ${line}`);
      // Ids and paths cost more tokens per character than prose: a line here is about a third of its characters.
      assert.ok(enc.count(line) <= CANDIDATE_LINE_CHARS / 3, `${enc.count(line)} tokens: ${line}`);
    }
  });

  test(`${DEFAULT_CANDIDATES} by default; 0 turns them off`, async (t) => {
    const { client } = await store(t);
    const byDefault = await fault(client, { query: QUERY });
    assert.equal(byDefault.s.candidates.length, DEFAULT_CANDIDATES);
    await call(client, 'evict', { all: true });
    const none = await fault(client, { query: QUERY, candidates: 0 });
    assert.deepEqual(none.s.candidates, []);
    assert.ok(none.s.pages.length > 0);
    assert.doesNotMatch(none.text, /Next best matches/);
  });

  test("a candidate's id loads with load_page, and a page in L1 is no longer offered", async (t) => {
    const { client } = await store(t);
    const first = await fault(client, { query: QUERY, max_pages: 1, candidates: 3 });
    const pick = first.s.candidates[1]!;
    const loaded = await call(client, 'load_page', { page_ids: [pick.page_id] });
    assert.equal(loaded.s.pages[0]!.page_id, pick.page_id);
    assert.ok(loaded.s.pages[0]!.text!.length > 0);
    const again = await fault(client, { query: QUERY, max_pages: 1, candidates: 3 });
    const offered = again.s.candidates.map((c) => c.page_id);
    assert.ok(!offered.includes(pick.page_id), 'the loaded page is not offered again');
    assert.deepEqual(offered.slice(0, 1), [first.s.candidates[0]!.page_id], 'the others keep their order');
  });

  test('bad counts are the caller’s error, naming candidates and its bounds', async (t) => {
    const { client, pager } = await store(t);
    for (const candidates of [-1, MAX_CANDIDATES + 1, 1.5]) {
      const msg = await callErr(client, 'page_fault', { query: QUERY, candidates });
      assert.match(msg, /Input validation error.*candidates/s);
    }
    const session = pager.newSession();
    for (const candidates of [-1, MAX_CANDIDATES + 1, 2.5, Number.NaN]) {
      await assert.rejects(pager.fault(session, QUERY, { candidates }), (err: unknown) => {
        assert.ok(err instanceof InputError);
        assert.equal(err.field, 'candidates');
        assert.match(err.message, new RegExp(`from 0 \\(none\\) to ${MAX_CANDIDATES}`));
        return true;
      });
    }
  });
});
