/**
 * The catalog: the page table shared through an append-only log. What the table holds is what the log holds:
 * a record reaches the table only once its append is durable.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Catalog, type CatalogRecord } from '../src/catalog.ts';
import type { DocumentEntry, PageEntry } from '../src/core/page-table.ts';
import { CATALOG_FILE } from '../src/data-dir.ts';
import { tempDirOf } from '../src/store/atomic-file.ts';
import { JsonlLog } from '../src/store/jsonl-log.ts';
import { deferrals, tempDir } from './helpers.ts';

/** A catalog log whose next `failures` appends fail as a full disk does. */
class FailingLog extends JsonlLog<CatalogRecord> {
  constructor(
    dataDir: string,
    public failures: number,
  ) {
    super(join(dataDir, CATALOG_FILE), tempDirOf(dataDir));
  }
  override async append(records: CatalogRecord[]): Promise<void> {
    if (this.failures > 0) {
      this.failures--;
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    }
    return super.append(records);
  }
}

const page = (id: string): PageEntry => ({
  id,
  sha256: id.padEnd(64, '0'),
  tokens: 10,
  documentId: 'd1',
  source: 'a.md',
  ordinal: 0,
  charStart: 0,
  charEnd: 40,
  lineStart: 1,
  lineEnd: 2,
  gist: 'a page',
  stored: true,
  indexed: true,
  accessCount: 0,
  faultCount: 0,
  lastAccess: 0,
});
const doc: DocumentEntry = { id: 'd1', source: 'a.md', tokens: 10, bytes: 40, pageIds: ['p1'], ingestedAt: 1 };

describe('catalog', () => {
  test('a failed append leaves the table as it was; the retry records the document, and a restart finds it', async (t) => {
    const defer = deferrals(t);
    const { dir, cleanup } = tempDir('vmem-catalog-');
    defer(cleanup);
    const log = new FailingLog(dir, 1);
    const catalog = await Catalog.open(dir, log);
    defer(() => catalog.close());

    await assert.rejects(catalog.addDocuments([{ doc, pages: [page('p1')] }]), /ENOSPC/);
    assert.equal(catalog.table.document('d1'), undefined, 'a document whose record failed is "already paged"');
    assert.equal(catalog.table.has('p1'), false, 'a page whose record failed is known');

    await catalog.addDocuments([{ doc, pages: [page('p1')] }]);
    assert.ok(catalog.table.document('d1'));
    assert.ok(catalog.table.has('p1'));

    const summary = { text: 'short', tokens: 1, by: 'test', at: 2 };
    log.failures = 1;
    await assert.rejects(catalog.addSummary('p1', summary), /ENOSPC/);
    assert.equal(catalog.table.get('p1')!.summary, undefined, 'a summary whose record failed is in the table');
    await catalog.addSummary('p1', summary);
    assert.deepEqual(catalog.table.get('p1')!.summary, summary);

    log.failures = 1;
    await assert.rejects(catalog.addStats([['p1', 3, 1, 5]]), /ENOSPC/);
    assert.equal(catalog.table.get('p1')!.accessCount, 0, 'statistics whose record failed are counted');

    const reopened = await Catalog.open(dir);
    defer(() => reopened.close());
    assert.ok(reopened.table.document('d1'));
    assert.deepEqual(reopened.table.get('p1')!.summary, summary);
    assert.equal(reopened.table.get('p1')!.accessCount, 0);
  });
});
