/**
 * Ids address exactly one thing: a document id one (source, text) pair, a page id the bytes stored under it.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { CONTROL_CHARACTER, documentIdOf } from '../src/core/hash.ts';
import { allPages, call, callErr, connectedStore } from './helpers.ts';

interface IngestJson {
  documents: { document_id: string; source: string; pages: number; new_pages: number }[];
}

const store = (t: import('node:test').TestContext) => connectedStore(t);

describe('document ids', () => {
  test('two different documents never share an id (a source with a control character is no document name)', () => {
    // Every (source, text) pair of strings up to 3 characters over an alphabet holding NUL and a newline:
    // the id hashes source + NUL + text, so a NUL in a source would make ("a\0b", "c") collide with ("a", "b\0c").
    const alphabet = ['a', 'b', '\0', '\n'];
    let strings = [''];
    for (let len = 1, last = ['']; len <= 3; len++) {
      last = last.flatMap((s) => alphabet.map((c) => s + c));
      strings = strings.concat(last);
    }
    const owner = new Map<string, string>();
    let named = 0;
    for (const source of strings) {
      for (const text of strings) {
        const pair = JSON.stringify([source, text]);
        let id: string;
        try {
          id = documentIdOf(source, text);
        } catch (err) {
          assert.match(source, CONTROL_CHARACTER, `documentIdOf refused ${pair}: ${(err as Error).message}`);
          continue;
        }
        assert.equal(owner.get(id), undefined, `${pair} and ${owner.get(id)} share the document id ${id}`);
        owner.set(id, pair);
        named++;
      }
    }
    assert.equal(named, 15 * strings.length, 'every source without a control character gets an id');
  });

  test('ingest refuses a source holding a control character, naming the field and the fix; the other document keeps its id and text', async (t) => {
    const { client } = await store(t);
    const refused = { text: 'c', source: 'a\u0000b' };
    const msg = await callErr(client, 'ingest', refused);
    assert.match(msg, /source: "a\\u0000b" holds a control character.*rename the file, or pass another source/);
    const ok = (await call<IngestJson>(client, 'ingest', { text: 'b\u0000c', source: 'a' })).s.documents[0]!;
    assert.equal(ok.new_pages, 1, 'the document is new: nothing took its id');
    // Refused the other way round as well, once the colliding document is stored.
    assert.match(await callErr(client, 'ingest', refused), /source: .*control character/);
    for (const source of ['tab\there', 'line\nbreak', 'del\u007f'])
      assert.match(await callErr(client, 'ingest', { text: 'x', source }), /source: .*control character/);
    const loaded = await call(client, 'load_page', {
      page_ids: [
        (await call<{ pages: { page_id: string }[] }>(client, 'page_fault', { query: 'b c' })).s.pages[0]!.page_id,
      ],
    });
    assert.equal(loaded.s.pages[0]!.text, 'b\u0000c');
  });
});

describe('page ids', () => {
  test('a lone surrogate and U+FFFD never share a page id with different stored bytes: each page file holds exactly what its id addresses', async (t) => {
    const { dir, client } = await store(t);
    const texts = { 'lone.md': 'walrus \ud800 marmalade', 'replacement.md': 'walrus \ufffd marmalade' };
    const stored = new Map<string, string>();
    for (const [source, text] of Object.entries(texts)) {
      const doc = (await call<IngestJson>(client, 'ingest', { text, source })).s.documents[0]!;
      assert.equal(doc.pages, 1);
    }
    for (const id of (await allPages(client)).keys()) {
      // The bytes on disk, decoded as JSON: no escape may smuggle in what UTF-8 cannot carry.
      const text = (
        JSON.parse(fs.readFileSync(join(dir, 'pages', id.slice(1, 3), `${id}.json`), 'utf8')) as { text: string }
      ).text;
      const utf8 = Buffer.from(text, 'utf8');
      assert.equal(utf8.toString('utf8'), text, `page ${id} stores a text UTF-8 cannot carry: ${JSON.stringify(text)}`);
      assert.equal(
        `p${createHash('sha256').update(utf8).digest('hex').slice(0, 20)}`,
        id,
        `page ${id}: its stored bytes hash to another id`,
      );
      stored.set(id, text);
    }
    assert.deepEqual(
      [...stored.values()],
      ['walrus \ufffd marmalade'],
      'both documents hold the same, well-formed page',
    );
    // What comes back is exactly the stored bytes, by fault and by load, for either document.
    const fault = await call(client, 'page_fault', { query: 'walrus marmalade', max_pages: 1 });
    const [id] = [...stored.keys()];
    assert.equal(fault.s.pages[0]!.page_id, id);
    assert.equal(fault.s.pages[0]!.text, stored.get(id!));
    await call(client, 'evict', { all: true });
    assert.equal((await call(client, 'load_page', { page_ids: [id] })).s.pages[0]!.text, stored.get(id!));
  });
});
