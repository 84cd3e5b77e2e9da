import type { PageTable, StatsRow } from './catalog.js';
import type { SamplingCompressor } from './compress/sampling.js';
import type { Config } from './config.js';
import type { Level, Page } from './core/page.js';
import type { PageEntry, PageSummary } from './core/page-table.js';
import type { Snapshot } from './core/snapshot.js';
import type { EventBus } from './events.js';
import { type Backend, backendsOf, type Health, outagesOf } from './health.js';
import type { SourceFile } from './ingest/sources.js';
import { type DocumentPages, type IngestResult, indexDocuments, ingest } from './paging/ingest.js';
import { type CollectResult, type ForgetResult, Lifecycle } from './paging/lifecycle.js';
import { Paging } from './paging/paging.js';
import type { ReadPath } from './paging/read-path.js';
import { ReplicaIndexer } from './paging/replica-index.js';
import { Snapshots } from './paging/snapshots.js';
import { Summaries } from './paging/summaries.js';
import { levelsOf, pressureOf } from './paging/views.js';
import { Session } from './session.js';
import type { Summarizer } from './summarizer.js';
import type { L2Store } from './tiers/l2/store.js';
import type { L3Index } from './tiers/l3/index.js';
import type { L4Store } from './tiers/l4/store.js';
import { openStore, type Store, type StoreParts } from './wiring.js';

export type { Health } from './health.js';
export type { Candidate } from './paging/candidates.js';
export type { IngestResult } from './paging/ingest.js';
export type { CollectResult, ForgetResult } from './paging/lifecycle.js';
export type { FaultResult } from './paging/paging.js';
export type { PagingResult, Pressure, ServedPage } from './paging/views.js';
export { defaultResendPolicy, type StoreParts as PagerParts } from './wiring.js';

/**
 * What the CLI and the MCP tools call: one object over the store a configuration opens (see openStore), shared
 * by every session of a process; each Session brings its own L1. The work is done in src/paging/.
 */
export class Pager {
  readonly config: Config;
  /** The page table, shared with the other processes on this store. */
  readonly table: PageTable;
  readonly l2: L2Store;
  readonly l3: L3Index;
  readonly l4: L4Store;
  /** The store's events ('pages', 'snapshots', 'health'), fanned out to sessions by PagerEvents. */
  readonly events: EventBus;
  /** Page text from L2, else L4 (which then warms L2). */
  readonly read: ReadPath;
  /** Compresses pages after their first eviction, in the background. */
  readonly summarizer: Summarizer;
  /** Set when summaries come from the host's model: each MCP session attaches its server to it. */
  readonly sampling?: SamplingCompressor;
  private readonly paging: Paging;
  private readonly snapshots: Snapshots;
  private readonly summaries: Summaries;
  private readonly lifecycle: Lifecycle;
  /** Shared page table: indexes here what other nodes brought. */
  private readonly replicaIndexer?: ReplicaIndexer;
  /** This process's sessions, held weakly: a closed session is collected, and forgotten pages leave the rest. */
  private readonly sessions = new Set<WeakRef<Session>>();

  private constructor(private readonly store: Store) {
    const { config, catalog, l2, l3, l4, events, read } = store;
    this.config = config;
    this.table = catalog.table;
    this.l2 = l2;
    this.l3 = l3;
    this.l4 = l4;
    this.events = events;
    this.sampling = store.compressors.sampling;
    this.read = read;
    const onSaved = () => events.emit('pages');
    this.summaries = new Summaries({ config, catalog, read, l3, l4, locks: store.locks, onSaved }, store.compressors);
    this.summarizer = this.summaries.summarizer;
    const evicted = (ids: string[]) => this.summaries.evicted(ids);
    const levels = { ...store, table: this.table, evicted };
    this.paging = new Paging(levels);
    this.snapshots = new Snapshots(levels);
    this.lifecycle = new Lifecycle(store);
    // Pages forgotten or collected, by this process or another: they leave every session's L1 and this
    // process's L2 (a shared L2 was purged by the process that dropped them; deleting again is harmless).
    catalog.on('dropped', (pageIds: string[]) => {
      for (const ref of this.sessions) {
        const s = ref.deref();
        if (!s) {
          this.sessions.delete(ref);
          continue;
        }
        let changed = false;
        for (const id of pageIds) changed = !!s.l1.remove(id) || changed;
        if (changed) s.changed();
      }
      void l2.deleteMany(pageIds).catch(() => {});
      events.emit('pages');
    });
    if (catalog.shared) {
      const indexer = new ReplicaIndexer(store);
      this.replicaIndexer = indexer;
      // Other nodes' changes: what they brought is indexed here, what they dropped or superseded leaves this L3.
      catalog.on('remote', () => {
        indexer.kick();
        void this.lifecycle.purge().catch((err: unknown) => console.error('vmem: purging failed:', err));
      });
      indexer.kick();
    }
  }

  static async open(config: Config, parts: StoreParts = {}): Promise<Pager> {
    return new Pager(await openStore(config, parts));
  }

  /** The store's backends, each with whether this server can serve without it (see backendsOf). */
  backends(): Backend[] {
    return backendsOf({ ...this.store, sharedPageTable: this.store.catalog.shared });
  }

  /** Networked levels unreachable right now. */
  outages(): Health[] {
    return outagesOf(this.backends());
  }

  newSession(id?: string): Session {
    const session = new Session(this.config.l1Tokens, id);
    this.sessions.add(new WeakRef(session));
    return session;
  }

  /** The levels ingest writes to, with the pages a forget let go brought back (see Lifecycle.revive). */
  private get ingestLevels() {
    return { ...this.store, revive: (pages: Page[]) => this.lifecycle.revive(pages) };
  }

  /**
   * Pages documents into L4, then L3, then the page table (see ingest); a changed document supersedes its
   * source's current version. Superseded pages then leave L3.
   */
  async ingest(input: SourceFile[], onProgress?: Parameters<typeof ingest>[2]): Promise<IngestResult[]> {
    const results = await ingest(this.ingestLevels, input, onProgress);
    await this.lifecycle.purge();
    this.events.emit('pages');
    return results;
  }

  /** Makes documents whose pages L4 already holds findable: L3 first, then the page table. */
  async index(docs: DocumentPages[]): Promise<void> {
    await indexDocuments(this.ingestLevels, docs);
    await this.lifecycle.purge();
  }

  /**
   * Removes a source (every version) or a document from every level and every process's sessions; `field`
   * names the argument in errors. Finishes first any earlier forget that was cut short.
   */
  forget(target: string, field?: string): Promise<ForgetResult> {
    return this.lifecycle.forget(target, field);
  }

  /** Collects superseded versions superseded `graceMs` ago or earlier that no unexpired snapshot points into. */
  collect(graceMs: number): Promise<CollectResult> {
    return this.lifecycle.collect(this.snapshots, graceMs);
  }

  /** Finishes purges an earlier process left undone (it stopped between the page table and the levels). */
  purge(): Promise<void> {
    return this.lifecycle.purge();
  }

  /** Adds access statistics gathered elsewhere (reindex carrying them over). */
  addStats(rows: StatsRow[]): Promise<void> {
    return this.store.catalog.addStats(rows);
  }

  /** Makes the page table this pager rebuilt the one every node follows (reindex; nothing to do for one data dir). */
  publishCatalog(): Promise<void> {
    return this.store.catalog.publish();
  }

  saveSummary(pageId: string, summary: PageSummary): Promise<void> {
    return this.summaries.save(pageId, summary);
  }

  fault(session: Session, query: string, opts?: Parameters<Paging['fault']>[2]): ReturnType<Paging['fault']> {
    return this.paging.fault(session, query, opts);
  }

  load(session: Session, pageIds: string[], opts?: Parameters<Paging['load']>[2]): ReturnType<Paging['load']> {
    return this.paging.load(session, pageIds, opts);
  }

  evict(session: Session, pageIds: string[] | 'all'): ReturnType<Paging['evict']> {
    return this.paging.evict(session, pageIds);
  }

  async serialize(session: Session, note?: string, expiresInSeconds?: number): ReturnType<Snapshots['serialize']> {
    const result = await this.snapshots.serialize(session, note, expiresInSeconds);
    this.events.emit('snapshots');
    return result;
  }

  /** A stored snapshot, or undefined. */
  getSnapshot(snapshotId: string): Promise<Snapshot | undefined> {
    return this.snapshots.get(snapshotId);
  }

  listSnapshots(): Promise<string[]> {
    return this.snapshots.list();
  }

  restore(session: Session, from: { snapshotId?: string; snapshot?: unknown }): ReturnType<Snapshots['restore']> {
    return this.snapshots.restore(session, from);
  }

  pressure = pressureOf;

  /** Levels that hold each page right now, as seen from a session; one L2 round trip for all of them. */
  levels(session: Session | undefined, pageIds: string[]): Promise<Level[][]> {
    return levelsOf(this.table, this.l2, session, pageIds);
  }

  /** A page's entry and text, from the highest level below L1 that holds it, without touching any L1. */
  async readPage(pageId: string): Promise<{ entry: PageEntry; text: string; level: Level } | undefined> {
    const entry = this.table.get(pageId);
    if (!entry) return undefined;
    const [got] = await this.read.require([pageId], 'page_id');
    return { entry, text: got!.text, level: got!.level };
  }

  async close(): Promise<void> {
    await this.replicaIndexer?.close();
    await this.summaries.close();
    await this.store.catalog.close();
    await this.l3.close();
    await this.l2.close();
    await this.store.locks.close();
  }
}
