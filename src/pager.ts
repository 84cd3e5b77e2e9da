import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import { Catalog } from './catalog.js';
import { type Compressors, openCompressors } from './compress/index.js';
import type { SamplingCompressor } from './compress/sampling.js';
import { type Config, settingName } from './config.js';
import type { ResendPolicy } from './core/l1.js';
import type { Handle, Level, Resolution } from './core/page.js';
import type { PageEntry, PageSummary, PageTable } from './core/page-table.js';
import type { Snapshot } from './core/snapshot.js';
import { tokenizer } from './core/tokenizer.js';
import { HashingEmbedder } from './embed/hashing.js';
import type { SourceFile } from './ingest/sources.js';
import { loadOptional } from './optional.js';
import { type DocumentPages, type IngestResult, indexDocuments, ingest } from './paging/ingest.js';
import { Paging } from './paging/paging.js';
import { ReadPath } from './paging/read-path.js';
import { Snapshots } from './paging/snapshots.js';
import { indexItemsIn, Summaries } from './paging/summaries.js';
import { handleIn, levelsOf, type PagingResult, type Pressure, pressureOf } from './paging/views.js';
import { Session } from './session.js';

import { tempDirOf } from './store/atomic-file.js';
import type { Summarizer } from './summarizer.js';
import { MemoryL2 } from './tiers/l2/memory.js';
import type { L2Store } from './tiers/l2/store.js';
import { EmbeddedIndex } from './tiers/l3/embedded.js';
import type { L3Index } from './tiers/l3/index.js';
import { FsL4 } from './tiers/l4/fs.js';
import type { L4Store } from './tiers/l4/store.js';
import type { Networked } from './tiers/status.js';

export type { IngestResult } from './paging/ingest.js';
export type { PagingResult, Pressure, ServedPage } from './paging/views.js';

/** A change in a networked level's reachability. */
export interface Health {
  level: Level;
  up: boolean;
  message: string;
}

/** What vmem does without each networked level. */
const MEANWHILE: Partial<Record<Level, string>> = {
  L2: 'pages are served from L4',
  L3: 'page_fault ranks with the local lexical index alone, and pages indexed meanwhile are added once it is back',
};

function healthOf(level: Level, backend: string, up: boolean, err?: Error): Health {
  const message = up
    ? `${level} (${backend}) is reachable again; serving from it`
    : `${level} (${backend}) is unreachable${err ? ` (${err.message})` : ''}; ${MEANWHILE[level] ?? 'serving from the levels below it'} while vmem reconnects`;
  return { level, up, message };
}

/** L2 from the configuration: Redis when a URL is set (loaded only then), else the in-process map. */
async function openL2(config: Config): Promise<L2Store> {
  if (!config.redisUrl) return new MemoryL2(config.l2MaxPages);
  const { RedisL2 } = await loadOptional(
    'ioredis',
    `${settingName('redisUrl')} is set`,
    () => import('./tiers/l2/redis.js'),
  );
  return RedisL2.open(config.redisUrl, { prefix: `${config.namespace}:` });
}

/**
 * L3 from the configuration: the embedded index, fused with vectors on Chroma when a URL is set
 * (the Chroma client is loaded only then).
 */
async function openL3(config: Config, l4: L4Store): Promise<L3Index> {
  const embedder = new HashingEmbedder();
  const lexical = await EmbeddedIndex.open(join(config.dataDir, 'l3', 'embedded.jsonl'), embedder, {
    tmpDir: tempDirOf(config.dataDir),
  });
  if (!config.chromaUrl) return lexical;
  const { ChromaIndex, collectionName } = await loadOptional(
    'chromadb',
    `${settingName('chromaUrl')} is set`,
    () => import('./tiers/l3/chroma.js'),
  );
  const { HybridIndex } = await import('./tiers/l3/hybrid.js');
  const url = config.chromaUrl;
  return HybridIndex.open({
    lexical,
    connect: () => ChromaIndex.open({ url, collection: collectionName(config.namespace), embedder }),
    texts: (items) => indexItemsIn(l4, items),
  });
}

/**
 * A page counts as seen for VMEM_RESEND_AFTER seconds, until an L1 budget of other text was sent after
 * it, and for one re-fault: the next one sends it again. Chosen on the scripted-host figures in BENCHMARKS.md.
 */
export function defaultResendPolicy(config: Pick<Config, 'resendAfterSeconds' | 'l1Tokens'>): ResendPolicy {
  return { maxAgeMs: config.resendAfterSeconds * 1000, maxTokensSince: config.l1Tokens, maxOmissions: 1 };
}

export interface PagerParts {
  /** The compressor (and, for tests, how soon a failed summary is retried). */
  compressors?: Compressors & { retryMs?: number };
  l2?: L2Store;
  l3?: L3Index;
  l4?: L4Store;
  /** Epoch milliseconds; injectable for tests. */
  now?: () => number;
  /** When resident pages are sent again (default: from the configuration). */
  resend?: ResendPolicy;
}

/**
 * The one place that moves pages between levels. Shared by every session of a process:
 * L2–L4 and the page table are shared, each Session brings its own L1.
 * Emits 'pages' when the page table gains pages or documents.
 */
export class Pager extends EventEmitter {
  /** The page table, shared with the other processes on this store. */
  readonly table: PageTable;

  /** Compresses pages after their first eviction, in the background. */
  readonly summarizer: Summarizer;
  /** Set when summaries come from the host's model: each MCP session attaches its server to it. */
  readonly sampling?: SamplingCompressor;
  /** Page text from L2, else L4 (which then warms L2). */
  readonly read: ReadPath;
  private readonly paging: Paging;
  private readonly snapshots: Snapshots;
  private readonly summaries: Summaries;

  private constructor(
    readonly config: Config,
    readonly catalog: Catalog,
    readonly l2: L2Store,
    readonly l3: L3Index,
    readonly l4: L4Store,
    compressors: Compressors & { retryMs?: number },
    readonly now: () => number,
    private readonly resend: ResendPolicy,
  ) {
    super();
    this.table = catalog.table;
    this.read = new ReadPath(l2, l4, config.l2TtlSeconds);
    this.paging = new Paging({
      config,
      table: this.table,
      catalog,
      read: this.read,
      l3,
      now,
      resend,
      evicted: (ids) => this.evicted(ids),
    });
    this.snapshots = new Snapshots({
      config,
      table: this.table,
      catalog,
      read: this.read,
      l4,
      now,
      evicted: (ids) => this.evicted(ids),
    });
    this.sampling = compressors.sampling;
    this.summaries = new Summaries(
      { config, catalog, read: this.read, l3, l4, onSaved: () => this.emit('pages') },
      compressors,
    );
    this.summarizer = this.summaries.summarizer;
  }

  static async open(config: Config, parts: PagerParts = {}): Promise<Pager> {
    // First, so that a compressor's configuration error stops vmem before anything is opened.
    const compressors = parts.compressors ?? (await openCompressors(config, tokenizer(config.encoding)));
    const catalog = await Catalog.open(config.dataDir);
    const l4 = parts.l4 ?? (await FsL4.open(config.dataDir));
    const l3 = parts.l3 ?? (await openL3(config, l4));
    const l2 = parts.l2 ?? (await openL2(config));
    const resend = parts.resend ?? defaultResendPolicy(config);
    const pager = new Pager(config, catalog, l2, l3, l4, compressors, parts.now ?? Date.now, resend);
    catalog.on('changed', () => pager.emit('pages'));
    pager.watchHealth('L2', l2);
    pager.watchHealth('L3', l3);
    return pager;
  }

  /** Networked levels unreachable right now. */
  outages(): Health[] {
    const down: Health[] = [];
    for (const [level, store] of [
      ['L2', this.l2],
      ['L3', this.l3],
    ] as const) {
      if (store.available && !store.available()) down.push(healthOf(level, store.name, false));
    }
    return down;
  }

  /** Reports each outage and recovery of a networked level once, as a 'health' event and on stderr. */
  private watchHealth(level: Level, store: Networked): void {
    if (!store.onStatus) return;
    const report = (up: boolean, err?: Error) => {
      const health = healthOf(level, store.name, up, err);
      console.error(`vmem: ${health.message}`);
      this.emit('health', health);
    };
    store.onStatus(report);
    if (store.available && !store.available()) report(false);
  }

  newSession(id?: string): Session {
    return new Session(this.config.l1Tokens, id);
  }

  // ---------------------------------------------------------------- ingest

  /**
   * Pages documents into L4 (durably, first: pages, then a manifest of the batch's documents), then L3,
   * then the page table. Re-ingesting the same source with the same bytes is a no-op that returns the same ids.
   */
  async ingest(
    input: SourceFile[],
    onProgress?: (doneBytes: number, totalBytes: number) => void | Promise<void>,
  ): Promise<IngestResult[]> {
    const results = await ingest(this, input, onProgress);
    this.emit('pages');
    return results;
  }

  /** Makes documents whose pages L4 already holds findable: L3 first, then the page table. */
  index(docs: DocumentPages[]): Promise<void> {
    return indexDocuments(this, docs);
  }

  /**
   * Stores a page's summary in L4 (durably, first), then L3, then the page table. An extractive summary
   * is sentences of the page, which L3 already indexes: indexing it again only lets short excerpts
   * outrank whole pages (SQuAD recall@1 88.7% → 88.1% with every page's summary indexed), so only
   * abstractive summaries, whose wording may match a query the page's does not, go to L3.
   */
  saveSummary(pageId: string, summary: PageSummary): Promise<void> {
    return this.summaries.save(pageId, summary);
  }

  /** Pages leaving an L1: those without a summary yet get one, in the background. */
  private evicted(pageIds: string[]): void {
    this.summaries.evicted(pageIds);
  }

  // ---------------------------------------------------------------- paging

  fault(
    session: Session,
    query: string,
    opts: { maxPages?: number; maxTokens?: number; resolution?: Resolution; resend?: boolean } = {},
  ): Promise<PagingResult & { query: string }> {
    return this.paging.fault(session, query, opts);
  }

  load(
    session: Session,
    pageIds: string[],
    opts: { pin?: boolean; maxTokens?: number; resolution?: Resolution } = {},
  ): Promise<PagingResult> {
    return this.paging.load(session, pageIds, opts);
  }

  evict(session: Session, pageIds: string[] | 'all'): { evicted: Handle[]; notResident: string[]; l1: Pressure } {
    return this.paging.evict(session, pageIds);
  }

  /** Stores a snapshot of the session's L1 (pointers and hashes, least recently used first) under a content id. */
  async serialize(
    session: Session,
    note?: string,
    expiresInSeconds?: number,
  ): Promise<{ snapshotId: string; snapshot: Snapshot; pageTokens: number }> {
    const result = await this.snapshots.serialize(session, note, expiresInSeconds);
    this.emit('snapshots');
    return result;
  }

  /** A stored snapshot, or undefined. */
  getSnapshot(snapshotId: string): Promise<Snapshot | undefined> {
    return this.snapshots.get(snapshotId);
  }

  listSnapshots(): Promise<string[]> {
    return this.snapshots.list();
  }

  restore(
    session: Session,
    from: { snapshotId?: string; snapshot?: unknown },
  ): Promise<PagingResult & { snapshotId?: string }> {
    return this.snapshots.restore(session, from);
  }

  // ---------------------------------------------------------------- views

  pressure(session: Session): Pressure {
    return pressureOf(session);
  }

  /** The handle an evicted or skipped page leaves: id, origin, size, gist, how to load it. */
  handle(pageId: string): Handle {
    return handleIn(this.table, pageId);
  }

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
    await this.summaries.close();
    await this.catalog.close();
    await this.l3.close();
    await this.l2.close();
  }
}
