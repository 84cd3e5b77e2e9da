/** The snapshot protocol: its published JSON Schema, provenance, expiry, and restores that are all or nothing. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { snapshotJsonSchema } from '../src/core/snapshot.ts';
import { deferrals, demoDoc, fakeClock, openPager, REPO, tempDir } from './helpers.ts';

test('schemas/snapshot-v1.schema.json is the schema vmem validates with (regenerate with npm run schemas)', () => {
  const published = JSON.parse(readFileSync(join(REPO, 'schemas', 'snapshot-v1.schema.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  assert.deepEqual(published, snapshotJsonSchema());
  assert.equal(published.$schema, 'https://json-schema.org/draft/2020-12/schema');
  const page = (
    published.properties as Record<string, { items: { required: string[]; properties: Record<string, unknown> } }>
  ).pages!.items;
  assert.deepEqual(page.required.sort(), ['id', 'sha256', 'tokens']);
  assert.ok(!('text' in page.properties), 'a snapshot never carries page text');
  const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
  assert.ok(readme.includes(JSON.stringify(published, null, 2)), 'the README shows the same schema');
});

test('a snapshot records its provenance; past expires_at it restores nothing', async (t) => {
  const defer = deferrals(t);
  const { dir, cleanup } = tempDir();
  defer(cleanup);
  const clock = fakeClock();
  const pager = await openPager(
    dir,
    { '--page-tokens': '500', '--l1-tokens': '4000', '--namespace': 'team-a' },
    { now: clock.now },
  );
  defer(() => pager.close());
  await pager.ingest([{ source: 'manual.md', text: demoDoc() }]);
  const a = pager.newSession();
  await pager.fault(a, 'maintenance code for pump station Kestrel in 2003', { maxPages: 2 });
  const { snapshot, snapshotId } = await pager.serialize(a, 'for B', 60);
  assert.equal(snapshot.namespace, 'team-a');
  assert.equal(snapshot.session, a.id);
  assert.equal(snapshot.created_at, new Date(clock.now()).toISOString());
  assert.equal(snapshot.expires_at, new Date(clock.now() + 60_000).toISOString());

  const b = pager.newSession();
  await pager.fault(b, 'maintenance code for pump station Osprey in 2011', { maxPages: 1 });
  const before = b.l1.list().map((r) => r.pageId);
  clock.advance(59_000);
  await pager.restore(b, { snapshotId });
  assert.deepEqual(
    b.l1.list().map((r) => r.pageId),
    a.l1.list().map((r) => r.pageId),
    'restores before it expires',
  );
  await pager.restore(b, { snapshot: { ...snapshot, pages: [] } }); // back to an empty L1
  await pager.fault(b, 'maintenance code for pump station Osprey in 2011', { maxPages: 1 });
  clock.advance(2_000);
  await assert.rejects(
    pager.restore(b, { snapshotId }),
    /snapshot_id: the snapshot expired at .*; nothing was restored/,
  );
  await assert.rejects(pager.restore(b, { snapshot }), /snapshot\.expires_at: the snapshot expired/);
  assert.deepEqual(
    b.l1.list().map((r) => r.pageId),
    before,
    'L1 is unchanged',
  );
});
