import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { Catalog } from './catalog.js';
import { EXTRACTIVE } from './compress/extractive.js';
import { type Compressors, openCompressors } from './compress/index.js';
import type { SamplingCompressor } from './compress/sampling.js';
import { type Config, settingName } from './config.js';
import { chunkText } from './core/chunker.js';
import { CONTROL_CHARACTER, documentIdOf, pageIdOf, sha256 } from './core/hash.js';
import type { ResendPolicy, Resident } from './core/l1.js';
import { type Manifest, manifestId } from './core/manifest.js';
import { gistOf, type Handle, handleOf, type Level, type Page, type Resolution } from './core/page.js';
import type { DocumentEntry, PageEntry, PageSummary, PageTable } from './core/page-table.js';
import { SNAPSHOT_VERSION, type Snapshot, snapshotSchema } from './core/snapshot.js';
import { tokenizer } from './core/tokenizer.js';
import { dataDirLayout } from './data-dir.js';
import { HashingEmbedder } from './embed/hashing.js';
import { InputError, InternalError, MissingPageError } from './errors.js';
import type { SourceFile } from './ingest/sources.js';
import { loadOptional } from './optional.js';
import { Session } from './session.js';
import { tempDirOf } from './store/atomic-file.js';
import { Summarizer } from './summarizer.js';
import { MemoryL2 } from './tiers/l2/memory.js';
import type { L2Store } from './tiers/l2/store.js';
import { EmbeddedIndex } from './tiers/l3/embedded.js';
import type { IndexItem, L3Index } from './tiers/l3/index.js';
import { FsL4 } from './tiers/l4/fs.js';
import type { L4Store } from './tiers/l4/store.js';
import type { Networked } from './tiers/status.js';

/**
 * A page as a tool result shows it. `text` is absent when the page is resident and its text was sent
 * recently enough that the model should still see it (`sentSecondsAgo` says when).
 */
export interface ServedPage {
  pageId: string;
  source: string;
  ordinal: number;
  tokens: number;
  level: Level;
  pinned: boolean;
  lines: [number, number];
  /** The page in full, or its summary; `tokens` counts what was served. */
  resolution: Resolution;
  score?: number;
  text?: string;
  sentSecondsAgo?: number;
}

/** L1 pressure, carried by every tool result. */
export interface Pressure {
  used: number;
  budget: number;
  pages: number;
}

export interface PagingResult {
  pages: ServedPage[];
  /** Pages pushed out of L1 to make room. */
  evicted: Handle[];
  /** Pages that were asked for (or ranked) but did not fit; each handle says how to get it. */
  skipped: Handle[];
  l1: Pressure;
}

export interface IngestResult {
  documentId: string;
  source: string;
  pages: number;
  newPages: number;
  tokens: number;
}

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
  const lexical = await EmbeddedIndex.open(dataDirLayout(config.dataDir).lexicalIndex, embedder, {
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
    texts: async (ids) => [
      ...(
        await readIntact(
          l4,
          ids.filter((id) => !id.endsWith(SUMMARY_KEY)),
        )
      ).map((p) => ({ meta: p, text: p.text })),
      ...(await readSummaries(l4, ids.filter((id) => id.endsWith(SUMMARY_KEY)).map(pageOfKey))),
    ],
  });
}

/** The L3 items of stored summaries (for catching Chroma up). */
async function readSummaries(l4: L4Store, pageIds: string[]): Promise<IndexItem[]> {
  const items: IndexItem[] = [];
  for (const id of pageIds) {
    const raw = await l4.getRecord('summaries', id);
    const [page] = raw === undefined ? [] : await readIntact(l4, [id]);
    if (raw !== undefined && page) items.push(summaryItem(page, JSON.parse(raw) as PageSummary));
  }
  return items;
}

/** A summary as L3 indexes it: the page's metadata under the summary's key. */
function summaryItem(meta: Omit<PageEntry, 'text'> | Page, summary: PageSummary): IndexItem {
  const { id, sha256, tokens: _tokens, documentId, source, ordinal, charStart, charEnd, lineStart, lineEnd } = meta;
  return {
    meta: {
      id: `${id}${SUMMARY_KEY}`,
      sha256,
      tokens: summary.tokens,
      documentId,
      source,
      ordinal,
      charStart,
      charEnd,
      lineStart,
      lineEnd,
    },
    text: summary.text,
  };
}

/** The pages of `ids` that L4 holds intact; a corrupt or missing page is left out (reindex names them). */
async function readIntact(l4: L4Store, ids: string[]): Promise<Page[]> {
  try {
    return (await l4.getPages(ids)).filter((p): p is Page => !!p);
  } catch {
    const one = await Promise.all(
      ids.map((id) =>
        l4.getPages([id]).then(
          ([p]) => p,
          () => undefined,
        ),
      ),
    );
    return one.filter((p): p is Page => !!p);
  }
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

/** L3 indexes a page's summary under the page id plus this, so a fault can match a page through its summary. */
const SUMMARY_KEY = '~summary';
const pageOfKey = (key: string) => (key.endsWith(SUMMARY_KEY) ? key.slice(0, -SUMMARY_KEY.length) : key);
/** Bytes of documents chunked before their pages are written together. */
const INGEST_BATCH_BYTES = 1 << 20;

/** A page's entry in the page table, as ingest creates it. */
function entryOf({ text, ...meta }: Page): PageEntry {
  return { ...meta, gist: gistOf(text), stored: true, indexed: true, accessCount: 0, faultCount: 0, lastAccess: 0 };
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

  private constructor(
    readonly config: Config,
    private readonly catalog: Catalog,
    readonly l2: L2Store,
    readonly l3: L3Index,
    readonly l4: L4Store,
    compressors: Compressors & { retryMs?: number },
    private readonly now: () => number,
    private readonly resend: ResendPolicy,
  ) {
    super();
    this.table = catalog.table;
    this.sampling = compressors.sampling;
    this.summarizer = new Summarizer(
      {
        text: async (id) => (this.table.has(id) ? (await this.l4.getPages([id]))[0]?.text : undefined),
        summarized: async (id) =>
          !!this.table.get(id)?.summary || (await this.l4.getRecord('summaries', id)) !== undefined,
        save: (id, summary) => this.saveSummary(id, summary),
      },
      {
        ...compressors,
        tokenizer: tokenizer(config.encoding),
        ratio: config.compressRatio,
        concurrency: config.compressConcurrency,
        claimsDir: dataDirLayout(config.dataDir).claims,
        tmpDir: tempDirOf(config.dataDir),
      },
    );
    this.summarizer.on('failed', (id: string, err: Error) =>
      console.error(`vmem: summarizing page ${id} failed (${err.message}); it stays uncompressed and is retried later`),
    );
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
    // A lone surrogate has no UTF-8 form: hashing would see U+FFFD while the page file kept the surrogate,
    // so two different texts would share a page id. Made well-formed here, what is hashed is what is stored.
    const docs = input.map((d) => ({ source: d.source.toWellFormed(), text: d.text.toWellFormed() }));
    for (const [i, d] of docs.entries()) {
      const field = docs.length > 1 ? `text (${d.source})` : 'text';
      if (!d.text.trim()) throw new InputError(field, 'is empty; pass the document text, or a path to a text file');
      const bytes = Buffer.byteLength(d.text);
      if (bytes > this.config.maxIngestBytes) {
        throw new InputError(
          field,
          `is ${bytes} bytes, over the ${this.config.maxIngestBytes}-byte limit (VMEM_MAX_INGEST_BYTES); split it into several documents`,
        );
      }
      const sourceField = `source${docs.length > 1 ? ` #${i}` : ''}`;
      if (!d.source.trim()) throw new InputError(sourceField, 'must name the document');
      if (CONTROL_CHARACTER.test(d.source)) {
        throw new InputError(
          sourceField,
          `${JSON.stringify(d.source)} holds a control character (U+0000–U+001F or U+007F: a tab, newline, NUL…); name the document without one (rename the file, or pass another source)`,
        );
      }
    }
    const total = docs.reduce((n, d) => n + Buffer.byteLength(d.text), 0);
    const enc = tokenizer(this.config.encoding);
    const results: IngestResult[] = [];
    let done = 0;
    // Pages are written in batches, each L4 first, then L3, then the catalog, while the next batch is
    // being chunked: the disk's fsyncs overlap the tokenizer's work instead of adding to it.
    let batch: { doc: DocumentEntry; pages: Page[] }[] = [];
    let batchBytes = 0;
    let writing = Promise.resolve();
    let failure: unknown;
    const claimed = new Set<string>();
    const write = (b: typeof batch) => {
      writing = writing
        .then(async () => {
          if (failure !== undefined) return;
          await this.l4.putPages(b.flatMap((x) => x.pages));
          // Which documents hold which pages, in L4 too: pages are shared, so their own origins cannot say.
          const manifest: Manifest = { version: 1, documents: b.map((x) => x.doc) };
          await this.l4.putRecord(
            'manifests',
            manifestId(this.now(), randomBytes(4).toString('hex')),
            JSON.stringify(manifest),
          );
          await this.index(b);
          for (const x of b) {
            done += x.doc.bytes;
            await onProgress?.(done, total);
          }
        })
        .catch((err: unknown) => void (failure ??= err));
    };
    for (const d of docs) {
      if (failure !== undefined) break;
      const documentId = documentIdOf(d.source, d.text);
      const bytes = Buffer.byteLength(d.text);
      const known = this.table.document(documentId);
      if (known) {
        // Same source, same bytes: already paged; nothing to write.
        results.push({ documentId, source: d.source, pages: known.pageIds.length, newPages: 0, tokens: known.tokens });
        done += bytes;
        await onProgress?.(done, total);
        continue;
      }
      const pages: Page[] = chunkText(d.text, this.config.pageTokens, enc).map((c) => {
        const hash = sha256(c.text);
        return { id: pageIdOf(hash), sha256: hash, documentId, source: d.source, ...c };
      });
      const fresh = pages.filter((p) => !this.table.has(p.id) && !claimed.has(p.id) && claimed.add(p.id));
      const tokens = pages.reduce((n, p) => n + p.tokens, 0);
      batch.push({
        doc: {
          id: documentId,
          source: d.source,
          tokens,
          bytes,
          pageIds: pages.map((p) => p.id),
          ingestedAt: this.now(),
        },
        pages: fresh,
      });
      results.push({ documentId, source: d.source, pages: pages.length, newPages: fresh.length, tokens });
      batchBytes += bytes;
      if (batchBytes >= INGEST_BATCH_BYTES) {
        write(batch);
        batch = [];
        batchBytes = 0;
      }
      await new Promise((r) => setImmediate(r)); // let the writes and other requests progress
    }
    if (batch.length) write(batch);
    await writing;
    if (failure !== undefined) throw failure;
    this.emit('pages');
    return results;
  }

  /** Makes documents whose pages L4 already holds findable: L3 first, then the page table. */
  async index(docs: { doc: DocumentEntry; pages: Page[] }[]): Promise<void> {
    const pages = docs.flatMap((x) => x.pages);
    await this.l3.upsert(pages.map((p) => ({ meta: p, text: p.text })));
    await this.l3.flush();
    await this.catalog.addDocuments(docs.map((x) => ({ doc: x.doc, pages: x.pages.map(entryOf) })));
  }

  /**
   * Stores a page's summary in L4 (durably, first), then L3, then the page table. An extractive summary
   * is sentences of the page, which L3 already indexes: indexing it again only lets short excerpts
   * outrank whole pages (SQuAD recall@1 88.7% → 88.1% with every page's summary indexed), so only
   * abstractive summaries, whose wording may match a query the page's does not, go to L3.
   */
  async saveSummary(pageId: string, summary: PageSummary): Promise<void> {
    const entry = this.table.get(pageId);
    if (!entry) return;
    await this.l4.putRecord('summaries', pageId, JSON.stringify(summary));
    if (summary.by !== EXTRACTIVE) {
      await this.l3.upsert([summaryItem(entry, summary)]);
      await this.l3.flush();
    }
    await this.catalog.addSummary(pageId, summary);
    this.emit('pages');
  }

  /** Pages leaving an L1: those without a summary yet get one, in the background. */
  private evicted(pageIds: string[]): void {
    const fresh = pageIds.filter((id) => !this.table.get(id)?.summary);
    if (fresh.length) this.summarizer.enqueue(fresh);
  }

  // ---------------------------------------------------------------- paging

  /**
   * Ranks pages for `query` and brings the best into the session's L1, evicting LRU pages as needed.
   * A resident page's text is left out only while the model can be assumed to still see it (the resend
   * policy) and `resend` is not set; its entry then says how to get the text back.
   */
  async fault(
    session: Session,
    query: string,
    opts: { maxPages?: number; maxTokens?: number; resolution?: Resolution; resend?: boolean } = {},
  ): Promise<PagingResult & { query: string }> {
    if (!query.trim())
      throw new InputError('query', 'is empty; say what you are missing, e.g. "the 2015 revenue figures"');
    const maxPages = opts.maxPages ?? 3;
    const maxTokens = opts.maxTokens ?? this.config.l1Tokens;
    // A page matched through its summary counts once, with its better score. Asking for twice as many
    // hits leaves room for both keys of a page.
    const scores = new Map<string, number>();
    for (const h of await this.l3.query(query, 2 * maxPages)) {
      const id = pageOfKey(h.pageId);
      if (this.table.has(id) && !scores.has(id)) scores.set(id, h.score);
    }
    const ranked = [...scores.keys()].slice(0, maxPages).map((id) => this.table.get(id)!);
    const best = ranked[0];
    const smallest =
      best && Math.min(best.tokens, opts.resolution !== 'full' && best.summary ? best.summary.tokens : Infinity);
    if (best && !session.l1.has(best.id) && smallest! > maxTokens) {
      throw new InputError(
        'max_tokens',
        `is ${maxTokens}, smaller than the best matching page (${smallest} tokens, ${best.id}); raise max_tokens to at least ${smallest}`,
      );
    }
    const result = await this.bringIn(session, ranked, {
      maxTokens,
      pin: false,
      resend: opts.resend ?? false,
      resolution: opts.resolution ?? 'auto',
    });
    for (const p of result.pages) p.score = scores.get(p.pageId);
    return { query, ...result };
  }

  /**
   * Loads pages by id (e.g. from a handle); always returns their text: in full, or with `resolution`
   * 'summary' the summary of each page that has one (the full text of those that do not yet).
   */
  async load(
    session: Session,
    pageIds: string[],
    opts: { pin?: boolean; maxTokens?: number; resolution?: Resolution } = {},
  ): Promise<PagingResult> {
    const entries = this.entriesFor(pageIds, 'page_ids');
    const maxTokens = opts.maxTokens ?? this.config.l1Tokens;
    const resolution = opts.resolution ?? 'full';
    const size = (e: PageEntry) => (resolution === 'summary' && e.summary ? e.summary.tokens : e.tokens);
    const tooBig = entries.find((e) => !session.l1.has(e.id) && size(e) > maxTokens);
    if (tooBig)
      throw new InputError(
        'max_tokens',
        `is ${maxTokens}, smaller than page ${tooBig.id} (${size(tooBig)} tokens); raise max_tokens to at least ${size(tooBig)}`,
      );
    return this.bringIn(session, entries, { maxTokens, pin: opts.pin ?? false, resend: true, resolution });
  }

  /** Removes pages from the session's L1 (all of them if `pageIds` is 'all'); returns their handles. */
  evict(session: Session, pageIds: string[] | 'all'): { evicted: Handle[]; notResident: string[]; l1: Pressure } {
    const ids =
      pageIds === 'all'
        ? session.l1.list().map((r) => r.pageId)
        : this.entriesFor(pageIds, 'page_ids').map((e) => e.id);
    const evicted: Handle[] = [];
    const notResident: string[] = [];
    for (const id of ids) {
      if (session.l1.remove(id)) evicted.push(this.handle(id));
      else notResident.push(id);
    }
    this.evicted(evicted.map((h) => h.pageId));
    if (evicted.length) session.changed();
    return { evicted, notResident, l1: this.pressure(session) };
  }

  /** Stores a snapshot of the session's L1 (pointers and hashes, least recently used first) under a content id. */
  async serialize(
    session: Session,
    note?: string,
    expiresInSeconds?: number,
  ): Promise<{ snapshotId: string; snapshot: Snapshot; pageTokens: number }> {
    const snapshot: Snapshot = {
      version: SNAPSHOT_VERSION,
      created_at: new Date(this.now()).toISOString(),
      namespace: this.config.namespace,
      session: session.id,
      ...(note ? { note } : {}),
      ...(expiresInSeconds ? { expires_at: new Date(this.now() + expiresInSeconds * 1000).toISOString() } : {}),
      pages: session.l1.list().map((r) => ({
        id: r.pageId,
        sha256: this.table.get(r.pageId)!.sha256,
        tokens: r.tokens,
        ...(r.resolution === 'summary' ? { resolution: 'summary' as const } : {}),
        ...(r.pinned ? { pinned: true } : {}),
      })),
    };
    const parsed = snapshotSchema.safeParse(snapshot);
    if (!parsed.success)
      throw new InternalError(`serialize built a snapshot its schema refuses: ${parsed.error.message}`);
    const json = JSON.stringify(snapshot);
    const snapshotId = `s${sha256(json).slice(0, 20)}`;
    await this.l4.putRecord('snapshots', snapshotId, json);
    this.emit('snapshots');
    return { snapshotId, snapshot, pageTokens: snapshot.pages.reduce((n, p) => n + p.tokens, 0) };
  }

  /** A stored snapshot, or undefined. */
  async getSnapshot(snapshotId: string): Promise<Snapshot | undefined> {
    if (!/^s[0-9a-f]{20}$/.test(snapshotId)) return undefined;
    const raw = await this.l4.getRecord('snapshots', snapshotId);
    return raw === undefined ? undefined : snapshotSchema.parse(JSON.parse(raw));
  }

  async listSnapshots(): Promise<string[]> {
    return this.l4.listRecords('snapshots');
  }

  /**
   * Replaces the session's L1 with the snapshot's pages, verifying every hash first: a snapshot
   * that does not verify changes nothing. If the budget is smaller than the snapshot, the most
   * recently used pages are restored and the rest come back as handles.
   */
  async restore(
    session: Session,
    from: { snapshotId?: string; snapshot?: unknown },
  ): Promise<PagingResult & { snapshotId?: string }> {
    let snapshot: Snapshot;
    if (from.snapshotId !== undefined) {
      const found = await this.getSnapshot(from.snapshotId);
      if (!found)
        throw new InputError(
          'snapshot_id',
          `no snapshot ${JSON.stringify(from.snapshotId)}; use an id returned by serialize_context or listed under vmem://snapshots/`,
        );
      snapshot = found;
    } else if (from.snapshot !== undefined) {
      let candidate = from.snapshot;
      if (typeof candidate === 'string') {
        try {
          candidate = JSON.parse(candidate);
        } catch {
          throw new InputError('snapshot', 'is not valid JSON; pass the snapshot object serialize_context returned');
        }
      }
      const parsed = snapshotSchema.safeParse(candidate);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        const at = issue.path.map((k) => (typeof k === 'number' ? `[${k}]` : `.${String(k)}`)).join('');
        throw new InputError(`snapshot${at}`, `${issue.message}; pass the snapshot object serialize_context returned`);
      }
      snapshot = parsed.data;
    } else {
      throw new InputError('snapshot_id', 'give snapshot_id or snapshot');
    }
    if (snapshot.expires_at && Date.parse(snapshot.expires_at) <= this.now()) {
      throw new InputError(
        from.snapshotId !== undefined ? 'snapshot_id' : 'snapshot.expires_at',
        `the snapshot expired at ${snapshot.expires_at}; nothing was restored`,
      );
    }

    snapshot.pages.forEach((p, i) => {
      const e = this.table.get(p.id);
      if (!e)
        throw new InputError(
          `snapshot.pages[${i}].id`,
          `unknown page ${p.id}: this store never ingested it; restore into a vmem that shares the snapshot's store`,
        );
      if (p.resolution === 'summary' && !e.summary) {
        throw new InputError(
          `snapshot.pages[${i}].resolution`,
          `is summary, but page ${p.id} has no summary in this store; nothing was restored`,
        );
      }
      // Sizes come from the page table, never from the snapshot: a forged size must not overfill L1.
      const tokens = p.resolution === 'summary' ? e.summary!.tokens : e.tokens;
      if (tokens !== p.tokens)
        throw new InputError(
          `snapshot.pages[${i}].tokens`,
          `is ${p.tokens}, but page ${p.id} has ${tokens} tokens at this resolution; the snapshot was altered; nothing was restored`,
        );
      if (e.sha256 !== p.sha256) {
        throw new InputError(
          `snapshot.pages[${i}].sha256`,
          `does not match page ${p.id}: the snapshot was altered or points at other content; nothing was restored`,
        );
      }
    });
    // Full pages are read and hashed again: the snapshot restores exactly the bytes it points at.
    const full = snapshot.pages.filter((p) => p.resolution !== 'summary');
    const fetched = await this.fetch(
      full.map((p) => p.id),
      'snapshot.pages',
    );
    const texts = new Map(full.map((p, i) => [p.id, fetched[i]!]));
    snapshot.pages.forEach((p, i) => {
      const got = texts.get(p.id);
      if (got && sha256(got.text) !== p.sha256) {
        throw new InputError(
          `snapshot.pages[${i}].sha256`,
          `does not match page ${p.id}: the snapshot was altered or points at other content; nothing was restored`,
        );
      }
    });

    // Choose from the most recently used end, then admit oldest first so the LRU order is the snapshot's.
    const chosen = new Set<number>();
    let room = session.l1.budget;
    for (let i = snapshot.pages.length - 1; i >= 0; i--) {
      const p = snapshot.pages[i]!;
      if (p.tokens <= room) {
        chosen.add(i);
        room -= p.tokens;
      }
    }
    const evicted = session.l1.list().map((r) => {
      session.l1.remove(r.pageId);
      return this.handle(r.pageId);
    });
    this.evicted(evicted.map((h) => h.pageId));
    const pages: ServedPage[] = [];
    const skipped: Handle[] = [];
    snapshot.pages.forEach((p, i) => {
      if (!chosen.has(i)) {
        skipped.push(this.handle(p.id));
        return;
      }
      const resolution = p.resolution ?? 'full';
      const got = texts.get(p.id) ?? { text: this.table.get(p.id)!.summary!.text, level: 'L4' as Level };
      session.l1.admit({ pageId: p.id, tokens: p.tokens, pinned: p.pinned ?? false, resolution, text: got.text });
      session.l1.markSent(p.id, this.now());
      pages.push(this.served(p.id, got.level, p.pinned ?? false, got.text, resolution));
      this.catalog.recordAccess(p.id, this.now(), true);
    });
    session.changed();
    return { snapshotId: from.snapshotId, pages, evicted, skipped, l1: this.pressure(session) };
  }

  // ---------------------------------------------------------------- views

  pressure(session: Session): Pressure {
    return { used: session.l1.usedTokens, budget: session.l1.budget, pages: session.l1.list().length };
  }

  /** The handle an evicted or skipped page leaves: id, origin, size, gist, how to load it. */
  handle(pageId: string): Handle {
    const e = this.table.get(pageId)!;
    return handleOf(e, e.gist, e.summary);
  }

  /** Levels that hold each page right now, as seen from a session; one L2 round trip for all of them. */
  async levels(session: Session | undefined, pageIds: string[]): Promise<Level[][]> {
    const inL2 = await this.l2.hasMany(pageIds);
    return pageIds.map((id, i) => {
      const e = this.table.get(id);
      if (!e) return [];
      const levels: Level[] = [];
      if (session?.l1.has(id)) levels.push('L1');
      if (inL2[i]) levels.push('L2');
      if (e.indexed) levels.push('L3');
      if (e.stored) levels.push('L4');
      return levels;
    });
  }

  /** A page's entry and text, from the highest level below L1 that holds it, without touching any L1. */
  async readPage(pageId: string): Promise<{ entry: PageEntry; text: string; level: Level } | undefined> {
    const entry = this.table.get(pageId);
    if (!entry) return undefined;
    const [got] = await this.fetch([pageId], 'page_id');
    return { entry, text: got!.text, level: got!.level };
  }

  async close(): Promise<void> {
    await this.summarizer.close();
    await this.catalog.close();
    await this.l3.close();
    await this.l2.close();
  }

  // ---------------------------------------------------------------- internals

  private entriesFor(pageIds: string[], field: string): PageEntry[] {
    if (!pageIds.length) throw new InputError(field, 'is empty; pass at least one page id');
    const out: PageEntry[] = [];
    const seen = new Set<string>();
    pageIds.forEach((id, i) => {
      const e = this.table.get(id);
      if (!e)
        throw new InputError(
          `${field}[${i}]`,
          `unknown page id ${JSON.stringify(id)}; take ids from page_fault results, handles, or vmem://page-table`,
        );
      if (!seen.has(id)) out.push(e);
      seen.add(id);
    });
    return out;
  }

  /**
   * Page texts from the highest level below L1 that holds them: one L2 round trip, then L4 for the
   * misses, which then warm L2. The L2 read also resets its hits' TTL.
   */
  private async fetch(ids: string[], field: string): Promise<{ text: string; level: Level }[]> {
    if (!ids.length) return [];
    const cached = await this.l2.getMany(ids, this.config.l2TtlSeconds);
    const misses = ids.filter((_, i) => cached[i] === undefined);
    const fromL4 = misses.length ? await this.l4.getPages(misses) : [];
    const byId = new Map<string, string>();
    fromL4.forEach((p, i) => {
      if (p) byId.set(misses[i]!, p.text);
    });
    const out = ids.map((id, i) => {
      const c = cached[i];
      if (c !== undefined) return { text: c, level: 'L2' as Level };
      const t = byId.get(id);
      if (t === undefined)
        throw new MissingPageError(`page ${id} (${field}[${i}]) is not stored in L4; re-ingest its source`);
      return { text: t, level: 'L4' as Level };
    });
    // Warming L2 is off the hot path: the caller has its pages after one L2 round trip (plus L4 for misses). Commands on one connection stay in order, so this process's
    // next read sees them; a cache write that fails loses nothing.
    if (byId.size)
      void this.l2
        .setMany(
          [...byId].map(([id, value]) => ({ id, value })),
          this.config.l2TtlSeconds,
        )
        .catch(() => {});
    return out;
  }

  /**
   * Admits `entries` (best first) into the session's L1 within `maxTokens` for this call and the L1
   * budget, never evicting pages of this same call. The best ends most recently used.
   * Resolution 'full' admits pages in full; 'summary' admits the summary of each page that has one;
   * 'auto' (faults) admits a page in full when it fits and otherwise its summary when that fits.
   * A page resident as a summary is replaced by the full page only when 'full' is asked for.
   * A resident page's text goes out again when `resend` is set or the model may no longer see it,
   * within `maxTokens`; otherwise its entry carries no text, and says how to get it.
   */
  private async bringIn(
    session: Session,
    entries: PageEntry[],
    opts: { maxTokens: number; pin: boolean; resend: boolean; resolution: Resolution | 'auto' },
  ): Promise<PagingResult> {
    const l1 = session.l1;
    const at = this.now();
    const keep = new Set(entries.map((e) => e.id));
    const chosen = new Map<string, Resolution>();
    const resent = new Set<string>();
    const skipped: Handle[] = [];
    let room = opts.maxTokens;
    let pinnedOrKept = 0;
    for (const r of l1.list()) if (r.pinned || keep.has(r.pageId)) pinnedOrKept += r.tokens;
    const fits = (tokens: number) => tokens <= room && pinnedOrKept + tokens <= l1.budget;
    for (const e of entries) {
      const resident = l1.get(e.id);
      const upgrade = resident?.resolution === 'summary' && opts.resolution === 'full';
      if (resident && !upgrade) {
        // Already counted in L1; sending its text again only costs this call's room.
        if ((opts.resend || !l1.seen(e.id, at, this.resend)) && resident.tokens <= room) {
          resent.add(e.id);
          room -= resident.tokens;
        }
        continue;
      }
      const summaryFirst = opts.resolution === 'summary' && e.summary;
      const resolution: Resolution | undefined =
        !summaryFirst && fits(e.tokens)
          ? 'full'
          : e.summary && opts.resolution !== 'full' && fits(e.summary.tokens)
            ? 'summary'
            : undefined;
      if (!resolution) {
        skipped.push(this.handle(e.id));
        continue;
      }
      const tokens = resolution === 'summary' ? e.summary!.tokens : e.tokens;
      chosen.set(e.id, resolution);
      room -= tokens;
      pinnedOrKept += tokens;
    }
    const full = [...chosen].filter(([, r]) => r === 'full').map(([id]) => id);
    const fetched = await this.fetch(full, 'page_ids');
    const fetchedById = new Map(full.map((id, i) => [id, fetched[i]!]));

    const evictedResidents: Resident[] = [];
    const served = new Map<string, ServedPage>();
    // Admit worst first so the best page ends up most recently used.
    for (const e of [...entries].reverse()) {
      const resolution = chosen.get(e.id);
      const resident = l1.get(e.id);
      if (resident && !resolution) {
        if (opts.pin) l1.setPinned(e.id, true);
        l1.touch(e.id);
        const sentAt = resident.sent?.at;
        if (resent.has(e.id)) l1.markSent(e.id, at);
        else l1.markOmitted(e.id);
        served.set(e.id, {
          ...this.served(
            e.id,
            'L1',
            resident.pinned,
            resent.has(e.id) ? resident.text : undefined,
            resident.resolution,
          ),
          ...(resent.has(e.id)
            ? {}
            : { sentSecondsAgo: sentAt === undefined ? undefined : Math.round((at - sentAt) / 1000) }),
        });
        this.catalog.recordAccess(e.id, at, false);
        continue;
      }
      if (!resolution) continue;
      const got = resolution === 'full' ? fetchedById.get(e.id)! : { text: e.summary!.text, level: 'L4' as Level };
      const tokens = resolution === 'full' ? e.tokens : e.summary!.tokens;
      const pinned = opts.pin || !!resident?.pinned;
      if (resident) l1.remove(e.id); // a summary making way for its page: not an eviction
      const evicted = l1.admit({ pageId: e.id, tokens, pinned, resolution, text: got.text }, keep);
      if (!evicted) {
        if (resident) l1.admit(resident, keep); // put the summary back where it was
        skipped.push(this.handle(e.id));
        continue;
      }
      l1.markSent(e.id, at);
      evictedResidents.push(...evicted);
      served.set(e.id, this.served(e.id, got.level, pinned, got.text, resolution));
      this.catalog.recordAccess(e.id, at, true);
    }
    this.evicted(evictedResidents.map((r) => r.pageId));
    session.changed();
    return {
      pages: entries.map((e) => served.get(e.id)).filter((p): p is ServedPage => !!p),
      evicted: evictedResidents.map((r) => this.handle(r.pageId)),
      skipped,
      l1: this.pressure(session),
    };
  }

  private served(
    pageId: string,
    level: Level,
    pinned: boolean,
    text: string | undefined,
    resolution: Resolution,
  ): ServedPage {
    const e = this.table.get(pageId)!;
    const tokens = resolution === 'summary' ? e.summary!.tokens : e.tokens;
    return {
      pageId,
      source: e.source,
      ordinal: e.ordinal,
      tokens,
      level,
      pinned,
      lines: [e.lineStart, e.lineEnd],
      resolution,
      ...(text !== undefined ? { text } : {}),
    };
  }
}
