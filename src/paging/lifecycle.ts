import type { Catalog } from '../catalog.js';
import { type Locks, lockNames } from '../cluster/locks.js';
import type { Page } from '../core/page.js';
import type { DocumentEntry } from '../core/page-table.js';
import { InputError } from '../errors.js';
import type { L2Store } from '../tiers/l2/store.js';
import type { L3Index } from '../tiers/l3/index.js';
import type { L4Store } from '../tiers/l4/store.js';
import { putManifest } from './ingest.js';
import type { Snapshots } from './snapshots.js';

/** What forgetting and collecting change. */
export interface LifecycleLevels {
  catalog: Catalog;
  /** Where the lifecycle lock lives: the data dir's files, or the shared Redis (see wiring.ts openLocks). */
  locks: Locks;
  l2: L2Store;
  l3: L3Index;
  l4: L4Store;
  now: () => number;
}

export interface ForgetResult {
  /** The documents removed: every version of a source, or the one superseded version named. */
  documents: { id: string; source: string; current: boolean }[];
  /** Pages that left every level (no other document holds them). */
  pagesRemoved: number;
  /** Pages kept because another document still holds them. */
  pagesShared: number;
}

export interface CollectResult {
  documents: number;
  pagesRemoved: number;
  /** Superseded versions kept because an unexpired snapshot points at one of their pages. */
  keptForSnapshots: number;
}

/** Pages purged per batch, so a purge of any size holds bounded memory. */
const PURGE_BATCH = 500;

/**
 * Documents that change or go away. The page table decides, in one transaction, which pages leave (see
 * Catalog.removeDocuments and addDocuments); this class then takes them out of L2, L3 and L4, holding a lock
 * (shared by every process on the store, see cluster/locks.ts) that ingest also takes for the pages it brings back meanwhile (`revive`): the purge removes a
 * page only if the page table still lacks it, so a page re-ingested during a purge is never lost. Each
 * purge finishes whatever an earlier one left undone (a process killed halfway), before its own.
 */
export class Lifecycle {
  constructor(private readonly levels: LifecycleLevels) {}

  /**
   * The documents `target` names: a source (every version of it), or a document id (a current one: every
   * version of its source, so that no older version resurfaces; a superseded one: that version alone).
   */
  resolve(target: string, field: string): DocumentEntry[] {
    const table = this.levels.catalog.table;
    const trimmed = target.trim();
    if (!trimmed)
      throw new InputError(field, 'is empty; give a source (as `vmem ls` lists it) or a document id (d + 16 hex)');
    const doc = /^d[0-9a-f]{16}$/.test(trimmed) ? table.document(trimmed) : undefined;
    if (doc) return doc.supersededBy ? [doc] : table.versionsOf(doc.source);
    const versions = table.versionsOf(target);
    if (versions.length) return versions;
    throw new InputError(
      field,
      `no document or source ${JSON.stringify(target)} in this store; give a source or document id as \`vmem ls\` or vmem://sources lists them`,
    );
  }

  /** Removes documents from every level: the page table (which every process follows), then L2, L3, L4. */
  async forget(target: string, field = 'target'): Promise<ForgetResult> {
    // An earlier forget cut short after the page table is finished first: run again, it completes.
    await this.purge();
    const table = this.levels.catalog.table;
    const known = !!table.document(target.trim()) || table.versionsOf(target).length > 0;
    if (!known && table.wasForgotten(target.trim())) return { documents: [], pagesRemoved: 0, pagesShared: 0 };
    const docs = this.resolve(target, field);
    await this.recordRemoval(docs.map((d) => d.id));
    const removed = await this.levels.catalog.removeDocuments(
      docs.map((d) => d.id),
      'forgotten',
    );
    await this.purge();
    const held = new Set(docs.flatMap((d) => d.pageIds));
    return {
      documents: docs.map((d) => ({ id: d.id, source: d.source, current: !d.supersededBy })),
      pagesRemoved: removed.length,
      pagesShared: held.size - removed.length,
    };
  }

  /**
   * Collects superseded versions superseded at least `graceMs` ago that no unexpired snapshot points into:
   * their rows, and their pages no other document holds. Explicit (`vmem gc`), not automatic: a session of
   * another process may still hold such a page, which it then loses (it learns of it within a second).
   */
  async collect(snapshots: Snapshots, graceMs: number): Promise<CollectResult> {
    const kept = new Set<string>();
    for (const id of await snapshots.list()) {
      const s = await snapshots.get(id).catch(() => undefined);
      if (s && !(s.expires_at && Date.parse(s.expires_at) <= this.levels.now()))
        for (const p of s.pages) kept.add(p.id);
    }
    const before = this.levels.now() - graceMs;
    const out: CollectResult = { documents: 0, pagesRemoved: 0, keptForSnapshots: 0 };
    for (let after = 0; ; ) {
      const batch = this.levels.catalog.superseded(before, after, 200);
      if (!batch.length) break;
      after = batch.at(-1)!.cursor;
      const collectable = batch.filter((d) => !d.pageIds.some((id) => kept.has(id)));
      out.keptForSnapshots += batch.length - collectable.length;
      await this.recordRemoval(collectable.map((d) => d.id));
      const removed = await this.levels.catalog.removeDocuments(
        collectable.map((d) => d.id),
        'collected',
      );
      out.documents += collectable.length;
      out.pagesRemoved += removed.length;
    }
    await this.purge();
    return out;
  }

  /**
   * Tells L4 first that documents leave (a manifest of removals), so that `vmem reindex`, which rebuilds the page
   * table from L4's manifests, does not bring them back; a forget cut short after this is finished by running it again.
   */
  private async recordRemoval(ids: string[]): Promise<void> {
    if (ids.length) await putManifest(this.levels.l4, this.levels.now(), { version: 1, documents: [], removed: ids });
  }

  /**
   * Takes dropped pages out of L2, L3 and L4 (their summaries too), and superseded versions' pages out of
   * L3, each only while the page table still says so.
   */
  async purge(): Promise<void> {
    const { catalog, l2, l3, l4 } = this.levels;
    // Most calls find nothing to do: two reads, no lock.
    if (!catalog.pendingPurges(1).length && !catalog.unindexQueue(1).length) return;
    await this.levels.locks.withLock(lockNames.lifecycle, async () => {
      // A page table shared over the network: what other nodes recorded before this lock was taken is seen
      // here first, so a page one of them has just ingested again is not judged gone.
      await catalog.sync();
      for (;;) {
        const pending = catalog.pendingPurges(PURGE_BATCH);
        if (!pending.length) break;
        const gone = [...new Set(pending.map((p) => p.pageId))].filter((id) => !catalog.table.has(id));
        await l3.remove(gone);
        await l3.flush();
        await l2.deleteMany(gone);
        await l4.deletePages(gone);
        for (const id of gone) await l4.deleteRecord('summaries', id);
        await catalog.purged(pending.map((p) => p.seq));
      }
      for (;;) {
        const queued = catalog.unindexQueue(PURGE_BATCH);
        if (!queued.length) break;
        await l3.remove(queued.filter((id) => catalog.table.has(id) && !catalog.table.isCurrent(id)));
        await l3.flush();
        await catalog.unqueue(queued);
      }
    });
  }

  /**
   * Makes pages stored and findable again after the page table took them back (see Catalog.addDocuments):
   * under the purge's lock, so that a purge that judged them gone before has finished, and one after sees them.
   */
  async revive(pages: Page[]): Promise<void> {
    if (!pages.length) return;
    const { l3, l4 } = this.levels;
    await this.levels.locks.withLock(lockNames.lifecycle, async () => {
      await l4.putPages(pages);
      await l3.upsert(pages.map((p) => ({ meta: p, text: p.text })));
      await l3.flush();
    });
  }
}
