import { access, readdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pageIdOf, sha256 } from '../../core/hash.js';
import type { Page } from '../../core/page.js';
import { dataDirLayout } from '../../data-dir.js';
import { CorruptPageError } from '../../errors.js';
import { readFileIfExists, sweepTemp, syncDir, writeFileAtomic } from '../../store/atomic-file.js';
import type { L4Store, RecordKind } from './store.js';

const ID = /^[a-z0-9]{4,64}$/;
/** Pages written at once. */
const WRITERS = 16;

/**
 * Whether `page` is exactly what `id` addresses. Its text must be well-formed: sha256 hashes UTF-8, where a
 * lone surrogate becomes U+FFFD, so a text holding one would share the address of another text.
 */
function addresses(page: Page, id: string): boolean {
  if (page.id !== id || typeof page.text !== 'string' || !page.text.isWellFormed()) return false;
  const hash = sha256(page.text);
  return hash === page.sha256 && pageIdOf(hash) === id;
}

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
    if (!ID.test(id)) throw new Error(`invalid page id ${JSON.stringify(id)}`);
    return this.layout.page(id);
  }

  private recordPath(kind: RecordKind, id: string): string {
    if (!ID.test(id)) throw new Error(`invalid ${kind} id ${JSON.stringify(id)}`);
    return this.layout.record(kind, id);
  }

  async putPages(pages: Page[]): Promise<void> {
    for (const p of pages) {
      if (!addresses(p, p.id))
        throw new Error(
          `refusing to store page ${p.id}: its text is not what its id addresses (ingest makes texts well-formed and hashes them)`,
        );
    }
    // A few writers at a time: enough to overlap the fsyncs, few enough that a batch of any size stays far
    // below the open-file limit (one writer per page made a 10,000-page batch fail with EMFILE under 256).
    let next = 0;
    const dirs = new Set<string>();
    const writer = async () => {
      for (let i = next++; i < pages.length; i = next++) {
        const p = pages[i]!;
        if (await this.hasPage(p.id)) continue;
        const path = this.pagePath(p.id);
        await writeFileAtomic(path, JSON.stringify(p), this.tmpDir, { syncDir: false });
        dirs.add(dirname(path));
      }
    };
    await Promise.all(Array.from({ length: Math.min(WRITERS, pages.length) }, writer));
    // Each shard written to once, and their parent (a shard may be new), rather than once per page.
    if (dirs.size) dirs.add(this.layout.pages);
    for (const dir of dirs) await syncDir(dir);
  }

  async getPages(ids: string[]): Promise<(Page | undefined)[]> {
    return Promise.all(
      ids.map(async (id) => {
        const raw = await readFileIfExists(this.pagePath(id));
        if (raw === undefined) return undefined;
        const page = JSON.parse(raw) as Page;
        // The source of truth checks itself: the id is the content's address, so a page whose text
        // changed on disk (even with its recorded hash rewritten to match) is never served.
        if (!addresses(page, id)) {
          throw new CorruptPageError(
            `page ${id} in ${this.pagePath(id)} does not match its hash; restore it from a backup or re-ingest its source`,
          );
        }
        return page;
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
