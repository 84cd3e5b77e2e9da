import { access, readdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { mapBounded } from '../../bounded.js';
import type { Page } from '../../core/page.js';
import { dataDirLayout } from '../../data-dir.js';
import { readFileIfExists, sweepTemp, syncDir, writeFileAtomic } from '../../store/atomic-file.js';
import { assertStorable, checkedId, verifiedPage } from './address.js';
import type { L4Store, RecordKind } from './store.js';

/** Pages written at once. */
const WRITERS = 16;

/** L4 on the local filesystem: one JSON file per page, fanned out by id prefix, written atomically. */
export class FsL4 implements L4Store {
  readonly name = 'fs';
  private readonly tmpDir: string;
  private readonly layout: ReturnType<typeof dataDirLayout>;

  constructor(readonly root: string) {
    this.layout = dataDirLayout(root);
    this.tmpDir = this.layout.tmp;
  }

  /**
   * Opens the store, first removing the temp files of writes a crash cut short (their writer is gone):
   * they all live in the data dir's temp directory, so this never walks the pages.
   */
  static async open(root: string): Promise<FsL4> {
    const store = new FsL4(root);
    await sweepTemp(store.tmpDir);
    return store;
  }

  private pagePath(id: string): string {
    return this.layout.page(checkedId('page', id));
  }

  private recordPath(kind: RecordKind, id: string): string {
    return this.layout.record(kind, checkedId(kind, id));
  }

  async putPages(pages: Page[]): Promise<void> {
    assertStorable(pages);
    // A few writers at a time: enough to overlap the fsyncs, few enough that a batch of any size stays far
    // below the open-file limit (one writer per page made a 10,000-page batch fail with EMFILE under 256).
    const dirs = new Set<string>();
    await mapBounded(pages, WRITERS, async (p) => {
      if (await this.hasPage(p.id)) return;
      const path = this.pagePath(p.id);
      await writeFileAtomic(path, JSON.stringify(p), this.tmpDir, { syncDir: false });
      dirs.add(dirname(path));
    });
    // Each shard written to once, and their parent (a shard may be new), rather than once per page.
    if (dirs.size) dirs.add(this.layout.pages);
    for (const dir of dirs) await syncDir(dir);
  }

  async getPages(ids: string[]): Promise<(Page | undefined)[]> {
    return Promise.all(
      ids.map(async (id) => {
        const path = this.pagePath(id);
        const raw = await readFileIfExists(path);
        return raw === undefined ? undefined : verifiedPage(raw, id, path);
      }),
    );
  }

  async hasPage(id: string): Promise<boolean> {
    return access(this.pagePath(id)).then(
      () => true,
      () => false,
    );
  }

  async listPageIds(): Promise<string[]> {
    const dir = this.layout.pages;
    const shards = await readdir(dir).catch(() => [] as string[]);
    const ids: string[] = [];
    for (const s of shards) {
      for (const f of await readdir(join(dir, s))) if (f.endsWith('.json')) ids.push(f.slice(0, -5));
    }
    return ids;
  }

  async deletePages(ids: string[]): Promise<void> {
    for (const id of ids) await rm(this.pagePath(id), { force: true });
  }

  async putRecord(kind: RecordKind, id: string, json: string): Promise<void> {
    await writeFileAtomic(this.recordPath(kind, id), json, this.tmpDir);
  }

  async getRecord(kind: RecordKind, id: string): Promise<string | undefined> {
    return readFileIfExists(this.recordPath(kind, id));
  }

  async listRecords(kind: RecordKind): Promise<string[]> {
    const files = await readdir(this.layout.records(kind)).catch(() => [] as string[]);
    return files.filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5));
  }

  async deleteRecord(kind: RecordKind, id: string): Promise<void> {
    await rm(this.recordPath(kind, id), { force: true });
  }
}
