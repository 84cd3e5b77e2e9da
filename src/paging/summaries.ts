import type { Catalog } from '../catalog.js';
import type { Locks } from '../cluster/locks.js';
import { EXTRACTIVE } from '../compress/extractive.js';
import type { Compressors } from '../compress/index.js';
import type { Config } from '../config.js';
import type { PageMeta } from '../core/page.js';
import type { PageSummary } from '../core/page-table.js';
import { tokenizer } from '../core/tokenizer.js';
import { Summarizer } from '../summarizer.js';
import type { IndexItem, ItemKind, L3Index } from '../tiers/l3/index.js';
import type { L4Store } from '../tiers/l4/store.js';
import { intactPages, type ReadPath } from './read-path.js';

/** A summary as L3 indexes it: the page's metadata, the summary's size and text. */
export function summaryItem(meta: PageMeta, summary: PageSummary): IndexItem {
  const { id, sha256, documentId, source, ordinal, charStart, charEnd, lineStart, lineEnd } = meta;
  return {
    kind: 'summary',
    meta: { id, sha256, tokens: summary.tokens, documentId, source, ordinal, charStart, charEnd, lineStart, lineEnd },
    text: summary.text,
  };
}

/** L3 items (pages and stored summaries) read back from L4, e.g. to catch Chroma up; those L4 lacks are left out. */
export async function indexItemsIn(l4: L4Store, items: { pageId: string; kind: ItemKind }[]): Promise<IndexItem[]> {
  const pages = (
    await intactPages(
      l4,
      items.filter((it) => it.kind === 'page').map((it) => it.pageId),
    )
  ).pages;
  const out: IndexItem[] = pages.map((p) => ({ meta: p, text: p.text }));
  for (const { pageId } of items.filter((it) => it.kind === 'summary')) {
    const raw = await l4.getRecord('summaries', pageId);
    const [page] = raw === undefined ? [] : (await intactPages(l4, [pageId])).pages;
    if (raw !== undefined && page) out.push(summaryItem(page, JSON.parse(raw) as PageSummary));
  }
  return out;
}

/** What summaries read and write. */
export interface SummaryLevels {
  config: Pick<Config, 'encoding' | 'compressRatio' | 'compressConcurrency'>;
  catalog: Catalog;
  read: ReadPath;
  l3: L3Index;
  l4: L4Store;
  /** Where summary claims live (see Summarizer). */
  locks: Locks;
  /** A summary was stored and recorded. */
  onSaved(): void;
}

/**
 * Summaries of evicted pages: queued on a page's first eviction, made in the background by the Summarizer,
 * stored in L4 (durably, first), then L3, then the page table.
 */
export class Summaries {
  /** Compresses pages after their first eviction, in the background. */
  readonly summarizer: Summarizer;

  constructor(
    private readonly levels: SummaryLevels,
    compressors: Compressors & { retryMs?: number },
  ) {
    const { config, catalog, read, l4, locks } = levels;
    const table = catalog.table;
    this.summarizer = new Summarizer(
      {
        text: async (id) => (table.has(id) ? (await read.texts([id]))[0]?.text : undefined),
        summarized: async (id) => !!table.get(id)?.summary || (await l4.getRecord('summaries', id)) !== undefined,
        save: (id, summary) => this.save(id, summary),
      },
      {
        ...compressors,
        tokenizer: tokenizer(config.encoding),
        ratio: config.compressRatio,
        concurrency: config.compressConcurrency,
        claims: locks,
      },
    );
    this.summarizer.on('failed', (id: string, err: Error) =>
      console.error(`vmem: summarizing page ${id} failed (${err.message}); it stays uncompressed and is retried later`),
    );
  }

  /** Pages leaving an L1: those without a summary yet get one, in the background. */
  evicted(pageIds: string[]): void {
    const fresh = pageIds.filter((id) => !this.levels.catalog.table.get(id)?.summary);
    if (fresh.length) this.summarizer.enqueue(fresh);
  }

  /**
   * Stores a page's summary in L4 (durably, first), then L3, then the page table. An extractive summary
   * is sentences of the page, which L3 already indexes: indexing it again only lets short excerpts
   * outrank whole pages (SQuAD recall@1 88.7% → 88.1% with every page's summary indexed), so only
   * abstractive summaries, whose wording may match a query the page's does not, go to L3.
   */
  async save(pageId: string, summary: PageSummary): Promise<void> {
    const { catalog, l3, l4 } = this.levels;
    const entry = catalog.table.get(pageId);
    if (!entry) return;
    await l4.putRecord('summaries', pageId, JSON.stringify(summary));
    if (summary.by !== EXTRACTIVE) {
      await l3.upsert([summaryItem(entry, summary)]);
      await l3.flush();
    }
    await catalog.addSummary(pageId, summary);
    this.levels.onSaved();
  }

  close(): Promise<void> {
    return this.summarizer.close();
  }
}
