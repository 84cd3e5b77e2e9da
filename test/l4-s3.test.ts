/**
 * L4 on S3 beyond the contract (test/contracts/l4.test.ts runs that on s3rver too): the object layout, listing
 * across several ListObjectsV2 pages, deletion, and vmem end to end with VMEM_L4_URL=s3://… — ingesting and
 * faulting through the MCP tools, the storage stopped mid-run (L2's pages still served, the rest and ingest
 * refused as the operator's problem) and started again (vmem resumes by itself).
 *
 * The server is s3rver, started in this process on a free port; each test has its own key prefix.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { type Page, pageOf } from '../src/core/page.ts';
import { L4UnavailableError } from '../src/errors.ts';
import { Pager } from '../src/pager.ts';
import { S3L4 } from '../src/tiers/l4/s3.ts';
import { call, callErr, chapters, connect, deferrals, tablePages, tempDir, testConfig } from './helpers.ts';
import { S3_MISSING, S3RVER_CREDENTIALS, startS3, type TestS3 } from './support/s3.ts';
import { waitFor } from './support/wait.ts';

function page(text: string, ordinal = 0): Page {
  const chunk = { ordinal, text, tokens: text.length, charStart: 0, charEnd: text.length, lineStart: 1, lineEnd: 1 };
  return pageOf(chunk, { documentId: 'd1', source: 'doc.md' });
}

let s3: TestS3 | undefined;
before(async () => {
  s3 = await startS3();
});
after(async () => {
  await s3?.cleanup();
});

describe('L4 on S3 (s3rver)', () => {
  const test = (title: string, fn: (server: TestS3, t: import('node:test').TestContext) => Promise<void>) =>
    it(title, { timeout: 60_000 }, async (t) => (s3 ? fn(s3, t) : t.skip(S3_MISSING)));

  test('a page is one object at <prefix>/pages/<id>.json and round-trips', async (server, t) => {
    const options = server.options();
    const store = await S3L4.open(options);
    t.after(() => store.close());
    const p = page('the walrus and the carpenter');
    await store.putPages([p]);
    assert.deepEqual(await store.getPages([p.id]), [p]);
    const raw = new S3Client({
      endpoint: server.endpoint,
      forcePathStyle: true,
      region: 'us-east-1',
      credentials: S3RVER_CREDENTIALS,
    });
    t.after(() => raw.destroy());
    const head = await raw.send(
      new HeadObjectCommand({ Bucket: server.bucket, Key: `${options.prefix}/pages/${p.id}.json` }),
    );
    assert.equal(head.ContentLength, Buffer.byteLength(JSON.stringify(p)));
  });

  test('listing follows ListObjectsV2 continuation tokens across pages of 2 keys', async (server, t) => {
    const store = await S3L4.open(server.options({ listPageSize: 2 }));
    t.after(() => store.close());
    const pages = Array.from({ length: 7 }, (_, i) => page(`page number ${i}`, i));
    await store.putPages(pages);
    for (let i = 0; i < 5; i++) await store.putRecord('summaries', `s000${i}`, '{}');
    assert.deepEqual((await store.listPageIds()).sort(), pages.map((p) => p.id).sort());
    assert.deepEqual(await store.listRecords('summaries'), ['s0000', 's0001', 's0002', 's0003', 's0004']);
    assert.deepEqual(await store.listRecords('snapshots'), []);
  });

  test('deletePages and deleteRecord remove objects; deleting what is absent is no error', async (server, t) => {
    const store = await S3L4.open(server.options());
    t.after(() => store.close());
    const [a, b] = [page('first'), page('second')];
    await store.putPages([a, b]);
    await store.putRecord('snapshots', 'snap1', '{}');
    await store.deletePages([a.id, page('never stored').id]);
    await store.deleteRecord('snapshots', 'snap1');
    await store.deleteRecord('snapshots', 'snap1');
    assert.deepEqual(await store.listPageIds(), [b.id]);
    assert.deepEqual(await store.getPages([a.id, b.id]), [undefined, b]);
    assert.equal(await store.getRecord('snapshots', 'snap1'), undefined);
  });

  test('a bucket that does not exist stops vmem at start with the setting and the fix', async (server) => {
    await assert.rejects(
      S3L4.open(server.options({ bucket: 'no-such-bucket', setting: 'VMEM_L4_URL / --l4-url' })),
      (err: Error) =>
        err instanceof L4UnavailableError &&
        err.message.includes('VMEM_L4_URL / --l4-url names an existing bucket') &&
        err.message.includes('s3://no-such-bucket/'),
    );
  });

  it('a server that accepts connections but never answers fails each request at its deadline', async (t) => {
    const hung = net.createServer(() => {});
    await new Promise<void>((r) => hung.listen(0, '127.0.0.1', r));
    t.after(() => hung.close());
    const { port } = hung.address() as net.AddressInfo;
    const options = {
      bucket: 'vmem-test',
      prefix: 'hung',
      endpoint: `http://127.0.0.1:${port}`,
      credentials: S3RVER_CREDENTIALS,
      timeoutMs: 300,
    };
    const started = Date.now();
    const store = await S3L4.open(options); // unreachable at start: vmem starts and reports it
    t.after(() => store.close());
    assert.equal(store.available(), false);
    await assert.rejects(
      store.getPages([page('anything').id]),
      (err: Error) => err instanceof L4UnavailableError && /no answer within 300 ms/.test(err.message),
    );
    assert.ok(Date.now() - started < 5_000, `took ${Date.now() - started} ms`);
  });

  test('vmem on s3://: ingest and fault; storage stopped (L2 still serves, the rest is refused as the operator’s problem), then back without a restart', async (server, t) => {
    const defer = deferrals(t);
    const { dir, cleanup } = tempDir();
    defer(cleanup);
    // The SDK's default credential chain reads the standard environment, as it would in production.
    process.env.AWS_ACCESS_KEY_ID = S3RVER_CREDENTIALS.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = S3RVER_CREDENTIALS.secretAccessKey;
    const prefix = server.options().prefix;
    const pager = await Pager.open(
      testConfig(dir, { '--l4-url': `s3://${server.bucket}/${prefix}`, '--s3-endpoint': server.endpoint }),
    );
    defer(() => pager.close());
    assert.equal(pager.l4.name, 's3');
    const one = await connect(pager, 'one');
    defer(one.close);

    await call(one.client, 'ingest', { text: chapters(3), source: 'moby.md' });
    const ids = tablePages(pager.table).map((p) => p.id);
    assert.ok(ids.length >= 3, `${ids.length} pages`);
    assert.deepEqual((await pager.l4.listPageIds()).sort(), [...ids].sort(), 'every page is an object in the bucket');
    // One page read once (so L2 holds it), another never read.
    const [cached, uncached] = ids as [string, string];
    const first = await call(one.client, 'load_page', { page_ids: [cached] });
    assert.equal(first.s.pages[0]?.level, 'L4');
    await waitFor(async () => (await pager.l2.getMany([cached]))[0] !== undefined, 'the page to reach L2');

    await server.stop();
    const two = await connect(pager, 'two');
    defer(two.close);
    const fromL2 = await call(two.client, 'load_page', { page_ids: [cached] });
    assert.equal(fromL2.s.pages[0]?.level, 'L2');
    assert.ok(fromL2.s.pages[0]?.text?.length, 'the cached page came with its text');

    const refused = await callErr(two.client, 'load_page', { page_ids: [uncached] });
    assert.match(refused, /needs its operator \(not caused by your input\)/);
    assert.match(refused, /L4 \(s3:\/\/vmem-test\/.* on http:\/\/127\.0\.0\.1:\d+\) is unreachable/);
    const ingestRefused = await callErr(two.client, 'ingest', {
      text: 'A new document while L4 is down.',
      source: 'new.md',
    });
    assert.match(ingestRefused, /L4 .* is unreachable/);
    assert.equal(pager.l4.name, 's3');
    assert.deepEqual(
      pager.outages().map((h) => h.level),
      ['L4'],
      'L4 is reported down',
    );

    await server.restart();
    const back = await call(two.client, 'load_page', { page_ids: [uncached] });
    assert.equal(back.s.pages[0]?.level, 'L4');
    const fault = await call(one.client, 'page_fault', { query: 'whale ship captain' });
    assert.ok(fault.s.pages.length > 0, 'page_fault brings pages from L4 on S3');
    await call(two.client, 'ingest', { text: 'A new document once L4 is back.', source: 'new.md' });
    assert.equal((await pager.l4.listPageIds()).length, ids.length + 1);
    assert.deepEqual(pager.outages(), [], 'L4 is reported back');
  });
});
