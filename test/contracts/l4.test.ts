/**
 * One contract for every L4Store backend: FsL4 (files in a temp data dir) and S3L4 (objects on s3rver, each
 * test on its own key prefix). L4 is the source of truth, so the contract is about never losing or
 * mis-serving a page: round trips of any text, order, idempotent writes, concurrent writers, leftovers of a
 * crashed write, and pages altered in storage.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { sha256 } from '../../src/core/hash.ts';
import { manifestId } from '../../src/core/manifest.ts';
import { type Page, pageOf } from '../../src/core/page.ts';
import { CorruptPageError } from '../../src/errors.ts';
import { tempPath } from '../../src/store/atomic-file.ts';
import { FsL4 } from '../../src/tiers/l4/fs.ts';
import { S3L4 } from '../../src/tiers/l4/s3.ts';
import { type L4Store, RECORD_KINDS } from '../../src/tiers/l4/store.ts';
import { deadPid, tempDir } from '../helpers.ts';
import { withHarness } from '../support/contract.ts';
import { S3_MISSING, S3RVER_CREDENTIALS, startS3, type TestS3 } from '../support/s3.ts';

interface Harness {
  store: L4Store;
  /** Another instance on the same storage (as another process would open it). */
  another(): L4Store;
  /** Damages a stored page's bytes behind the store's back. */
  tamper(id: string, edit: (raw: string) => string): void | Promise<void>;
  /** Leaves what a write killed half-way would leave. */
  crashMidWrite(page: Page): void;
  /** Opens the storage again, as the next process to use it would. */
  reopen(): Promise<L4Store>;
  /** What crashed writes left behind, if the backend can leave anything (temp files). */
  leftovers(): string[];
  cleanup(): Promise<void>;
}

function page(text: string, ordinal = 0): Page {
  const chunk = { ordinal, text, tokens: text.length, charStart: 0, charEnd: text.length, lineStart: 1, lineEnd: 1 };
  return pageOf(chunk, { documentId: 'd1', source: 'doc.md' });
}

const TEXTS = [
  'plain text',
  'Résumé — 日本語 👩‍👩‍👧‍👦 🇫🇷',
  '*2\r\n$3\r\nGET\r\n',
  '{"json": "inside"}\n\u0000NUL',
  'x'.repeat(200_000),
];
const PAGES = TEXTS.map((t, i) => page(t, i));

export function l4Contract(name: string, make: () => Promise<Harness>, skipReason?: () => string | undefined): void {
  describe(`L4 contract: ${name}`, () => {
    const test = (title: string, fn: (h: Harness) => Promise<void>) =>
      it(title, { timeout: 30_000 }, (t) => withHarness(t, make, skipReason, fn));

    test('pages round-trip byte for byte, in the order asked, with misses as undefined', async ({ store }) => {
      await store.putPages(PAGES);
      const missing = page('never stored');
      const got = await store.getPages([PAGES[3]!.id, missing.id, ...PAGES.map((p) => p.id)]);
      assert.deepEqual(got, [PAGES[3], undefined, ...PAGES]);
      assert.equal(await store.hasPage(PAGES[0]!.id), true);
      assert.equal(await store.hasPage(missing.id), false);
      assert.deepEqual((await store.listPageIds()).sort(), PAGES.map((p) => p.id).sort());
    });

    test('deleted pages and records are gone; deleting an absent one is no error; a deleted page can be stored again', async ({
      store,
    }) => {
      await store.putPages(PAGES);
      await store.putRecord('summaries', PAGES[0]!.id, '{"text":"s"}');
      await store.deletePages([PAGES[0]!.id, page('never stored').id]);
      await store.deleteRecord('summaries', PAGES[0]!.id);
      await store.deleteRecord('summaries', PAGES[1]!.id);
      assert.deepEqual(await store.getPages([PAGES[0]!.id, PAGES[1]!.id]), [undefined, PAGES[1]]);
      assert.equal(await store.getRecord('summaries', PAGES[0]!.id), undefined);
      await store.putPages([PAGES[0]!]);
      assert.deepEqual(await store.getPages([PAGES[0]!.id]), [PAGES[0]]);
    });

    test('storing a page again is a no-op that keeps the first copy', async ({ store }) => {
      const p = PAGES[1]!;
      await store.putPages([p]);
      // Same id and text, another origin (a second document holding the same page): the first origin stays.
      await store.putPages([{ ...p, source: 'other.md', ordinal: 9 }, p]);
      assert.deepEqual(await store.getPages([p.id]), [p]);
      assert.equal((await store.listPageIds()).length, 1);
    });

    test('another instance sees every page; concurrent writers of the same pages leave each intact', async (h) => {
      const other = h.another();
      await Promise.all([h.store.putPages(PAGES), other.putPages([...PAGES].reverse()), h.store.putPages(PAGES)]);
      assert.deepEqual(await other.getPages(PAGES.map((p) => p.id)), PAGES);
      assert.deepEqual((await h.store.listPageIds()).sort(), PAGES.map((p) => p.id).sort());
    });

    test('a write killed half-way leaves no page behind, its leftovers go when the store is opened again, and the next write of it succeeds', async (h) => {
      const p = PAGES[0]!;
      h.crashMidWrite(p);
      assert.deepEqual(await h.store.getPages([p.id]), [undefined]);
      assert.deepEqual(await h.store.listPageIds(), []);
      await h.store.putPages([PAGES[1]!]); // a live writer's own temp files come and go meanwhile
      const store = await h.reopen();
      assert.deepEqual(h.leftovers(), []);
      await store.putPages([p]);
      assert.deepEqual(await store.getPages([p.id]), [p]);
    });

    test('a page altered on disk is refused, even with its recorded hash rewritten to match', async (h) => {
      const [p] = PAGES;
      await h.store.putPages([p!]);
      await h.tamper(p!.id, (raw) => raw.replace('plain', 'PLAIN'));
      await assert.rejects(
        h.store.getPages([p!.id]),
        (err: Error) => err instanceof CorruptPageError && err.message.includes(p!.id) && /re-ingest/.test(err.message),
      );
      const forged = { ...p!, text: 'PLAIN text', sha256: sha256('PLAIN text') };
      await h.tamper(p!.id, () => JSON.stringify(forged));
      await assert.rejects(h.store.getPages([p!.id]), CorruptPageError);
    });

    test('a page whose text is not well-formed is neither stored nor served: its hash would address other bytes', async (h) => {
      // sha256 hashes UTF-8, where the lone surrogate becomes U+FFFD: this page claims the address of the well-formed text.
      const good = page('walrus \ufffd marmalade');
      const lone = { ...good, text: 'walrus \ud800 marmalade' };
      await assert.rejects(
        h.store.putPages([lone]),
        (err: Error) => !(err instanceof CorruptPageError) && err.message.includes(good.id),
      );
      assert.deepEqual(await h.store.listPageIds(), [], 'nothing was stored');
      await h.store.putPages([good]);
      await h.tamper(good.id, () => JSON.stringify(lone));
      await assert.rejects(h.store.getPages([good.id]), CorruptPageError);
    });

    test(`records of every kind (${RECORD_KINDS.join(', ')}) round-trip, list, are replaced whole, and stay apart`, async ({
      store,
    }) => {
      for (const kind of RECORD_KINDS) {
        assert.equal(await store.getRecord(kind, 's0000'), undefined);
        assert.deepEqual(await store.listRecords(kind), []);
        await store.putRecord(kind, 's0001', `{"a":1,"kind":"${kind}"}`);
        await store.putRecord(kind, 's0002', '{"b":"日本"}');
        await store.putRecord(kind, 's0001', `{"a":2,"kind":"${kind}"}`);
      }
      for (const kind of RECORD_KINDS) {
        assert.equal(await store.getRecord(kind, 's0001'), `{"a":2,"kind":"${kind}"}`);
        assert.equal(await store.getRecord(kind, 's0002'), '{"b":"日本"}');
        assert.deepEqual((await store.listRecords(kind)).sort(), ['s0001', 's0002']);
      }
      // A manifest id (as ingest makes them) is a valid record id.
      const id = manifestId(Date.now(), 'deadbeef');
      await store.putRecord('manifests', id, '{}');
      assert.ok((await store.listRecords('manifests')).includes(id));
      assert.deepEqual(await store.listPageIds(), [], 'records are not pages');
    });

    test('ids that could leave the store are refused', async ({ store }) => {
      for (const bad of ['../etc/passwd', 'a/b', '', 'x']) {
        await assert.rejects(store.getPages([bad]), /invalid page id/);
        await assert.rejects(store.putRecord('snapshots', bad, '{}'), /invalid snapshots id/);
      }
    });
  });
}

l4Contract('files', async () => {
  const { dir, cleanup } = tempDir('vmem-l4-');
  const store = new FsL4(dir);
  const pathOf = (id: string) => join(dir, 'pages', id.slice(1, 3), `${id}.json`);
  return {
    store,
    another: () => new FsL4(dir),
    tamper: (id, edit) => fs.writeFileSync(pathOf(id), edit(fs.readFileSync(pathOf(id), 'utf8'))),
    crashMidWrite: (p) => {
      // writeFileAtomic's temp file, written but never renamed into place, by a writer that is gone.
      const tmp = tempPath(join(dir, 'tmp')).replace(/^(.*\/)\d+\./, `$1${deadPid()}.`);
      fs.mkdirSync(join(dir, 'tmp'), { recursive: true });
      fs.writeFileSync(tmp, JSON.stringify(p).slice(0, 10));
    },
    reopen: () => FsL4.open(dir),
    leftovers: () => (fs.existsSync(join(dir, 'tmp')) ? fs.readdirSync(join(dir, 'tmp')) : []),
    cleanup: async () => cleanup(),
  };
});

let s3: TestS3 | undefined;
before(async () => {
  s3 = await startS3();
});
after(async () => {
  await s3?.cleanup();
});

l4Contract(
  's3 (s3rver)',
  async () => {
    const server = s3!;
    const options = server.options();
    const store = await S3L4.open(options);
    const raw = new S3Client({
      endpoint: server.endpoint,
      forcePathStyle: true,
      region: 'us-east-1',
      credentials: S3RVER_CREDENTIALS,
    });
    const key = (id: string) => `${options.prefix}/pages/${id}.json`;
    return {
      store,
      another: () => new S3L4(options),
      // Behind the store's back: a plain GetObject and PutObject of the same key.
      tamper: async (id, edit) => {
        const got = await raw.send(new GetObjectCommand({ Bucket: server.bucket, Key: key(id) }));
        const body = edit(await got.Body!.transformToString('utf-8'));
        await raw.send(new PutObjectCommand({ Bucket: server.bucket, Key: key(id), Body: body }));
      },
      // A PUT is all or nothing on S3: a writer killed mid-upload leaves no object and no temp file behind.
      crashMidWrite: () => {},
      reopen: () => S3L4.open(options),
      leftovers: () => [],
      cleanup: async () => {
        raw.destroy();
        store.close();
      },
    };
  },
  () => (s3 ? undefined : S3_MISSING),
);
