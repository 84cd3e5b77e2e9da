import type { Catalog } from '../catalog.js';
import { keyOf, type L3Index } from '../tiers/l3/index.js';
import type { L4Store } from '../tiers/l4/store.js';
import { indexItemsIn } from './summaries.js';

/** Items indexed per batch. */
const BATCH = 200;
/** Delay before trying again items L4 could not give (unreachable, or a page it lacks for now). */
const RETRY_MS = 2000;

/**
 * This node's L3 kept up with a page table shared over the network: the pages and summaries other nodes brought
 * (queued by the catalog as it applies their changes) are read from L4 and added to the part of L3 in this data
 * dir (the embedded index; a shared Chroma was given them by the node that ingested them). Items the page table
 * no longer holds, or L3 holds already, are only taken off the queue; items L4 could not give stay queued and are
 * tried again. Runs one batch at a time, started by `kick` (the catalog applied other nodes' changes) and at open.
 */
export class ReplicaIndexer {
  private running: Promise<void> | undefined;
  private again = false;
  private retry: NodeJS.Timeout | undefined;
  private closed = false;
  private warned = false;

  constructor(private readonly levels: { catalog: Catalog; l3: L3Index; l4: L4Store }) {}

  /** Indexes what is queued; a call while a run is on makes it look again when done. */
  kick(): void {
    if (this.closed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.run()
      .catch((err: unknown) => this.warn(err))
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  /** Waits for the current run (tests, close). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    await this.idle();
  }

  private async run(): Promise<void> {
    const { catalog, l4 } = this.levels;
    const l3 = this.levels.l3.local?.() ?? this.levels.l3;
    const table = catalog.table;
    let skip = 0;
    for (;;) {
      const queued = catalog.indexQueue(BATCH + skip).slice(skip);
      if (!queued.length || this.closed) return;
      const wanted = queued.filter(
        (it) =>
          table.has(it.pageId) && (it.kind === 'summary' || table.isCurrent(it.pageId)) && !l3.has(it.pageId, it.kind),
      );
      const items = await indexItemsIn(l4, wanted);
      await l3.upsert(items);
      await l3.flush();
      const got = new Set(items.map((it) => keyOf(it.meta.id, it.kind)));
      const missing = wanted.filter((it) => !got.has(keyOf(it.pageId, it.kind)));
      const left = new Set(missing.map((it) => keyOf(it.pageId, it.kind)));
      await catalog.indexed(queued.filter((it) => !left.has(keyOf(it.pageId, it.kind))));
      if (missing.length) {
        // Left queued, after the rest: tried again soon.
        skip += missing.length;
        this.scheduleRetry(missing.length);
      }
    }
  }

  private scheduleRetry(missing: number): void {
    if (this.retry || this.closed) return;
    if (!this.warned) {
      this.warned = true;
      console.error(
        `vmem: ${missing} page(s) another node brought could not be read from L4 yet; they become findable here once they can`,
      );
    }
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.kick();
    }, RETRY_MS);
    this.retry.unref();
  }

  private warn(err: unknown): void {
    console.error('vmem: indexing pages another node brought failed (tried again at its next change):', err);
    this.scheduleRetry(0);
  }
}
