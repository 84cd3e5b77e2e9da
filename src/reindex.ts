import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError, type Config } from './config.js';
import type { DocumentEntry, PageSummary } from './core/page-table.js';
import type { Page } from './core/page.js';
import { Pager } from './pager.js';
import { CorruptPageError, FsL4 } from './tiers/l4/fs.js';

/** Files derived from L4, rebuilt by reindex. */
const DERIVED = ['catalog.jsonl', join('l3', 'embedded.jsonl')];
const BATCH = 256;

export interface ReindexResult {
  pages: number;
  documents: number;
  /** Pages whose file no longer matches its content address: left out, named here. */
  corrupt: string[];
  /** Where the previous derived files were moved. */
  backups: string[];
}

/** Renames the namespace's Chroma collection out of the way, as the files are; the rebuild creates a new one. */
async function retireChroma(config: Config, stamp: string): Promise<string[]> {
  const { ChromaIndex, collectionName } = await import('./tiers/l3/chroma.js');
  const name = collectionName(config.namespace);
  const backup = `${name}.bak-${stamp}`;
  try {
    return (await ChromaIndex.retire(config.chromaUrl!, name, backup)) ? [`${config.chromaUrl} collection ${backup}`] : [];
  } catch (err) {
    throw new ConfigError(`cannot reach Chroma at ${config.chromaUrl} (${(err as Error).message}); start it, or unset VMEM_CHROMA_URL to rebuild the local index only`);
  }
}

/**
 * Rebuilds the page table and the L3 index (pages and summaries) from L4 alone (the source of truth), e.g. after an
 * embedder change or a lost index. Run it with no vmem process serving the same data dir.
 * The previous files (and Chroma collection) are kept beside the new ones with a `.bak-<time>` suffix.
 */
export async function reindex(config: Config, onProgress?: (done: number, total: number) => void): Promise<ReindexResult> {
  const l4 = new FsL4(config.dataDir);
  const ids = await l4.listPageIds();
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const backups: string[] = [];
  if (config.chromaUrl) backups.push(...(await retireChroma(config, stamp)));
  for (const f of DERIVED) {
    const from = join(config.dataDir, f);
    const to = `${from}.bak-${stamp}`;
    try {
      await rename(from, to);
      backups.push(to);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  const pages: Page[] = [];
  const corrupt: string[] = [];
  for (let i = 0; i < ids.length; i += BATCH) {
    const batch = ids.slice(i, i + BATCH);
    for (const id of batch) {
      try {
        const [p] = await l4.getPages([id]);
        if (p) pages.push(p);
      } catch (err) {
        if (!(err instanceof CorruptPageError)) throw err;
        corrupt.push(id);
      }
    }
    onProgress?.(Math.min(i + BATCH, ids.length), ids.length);
  }
  // A document's pages are those whose first origin it is, in ordinal order.
  const byDoc = new Map<string, Page[]>();
  for (const p of pages) byDoc.set(p.documentId, [...(byDoc.get(p.documentId) ?? []), p]);
  const documents: { doc: DocumentEntry; pages: Page[] }[] = [...byDoc.values()].map((ps) => {
    ps.sort((a, b) => a.ordinal - b.ordinal);
    const first = ps[0]!;
    return {
      doc: {
        id: first.documentId,
        source: first.source,
        tokens: ps.reduce((n, p) => n + p.tokens, 0),
        bytes: ps.reduce((n, p) => n + Buffer.byteLength(p.text), 0),
        pageIds: ps.map((p) => p.id),
        ingestedAt: Date.now(),
      },
      pages: ps,
    };
  });
  const pager = await Pager.open(config);
  try {
    await pager.index(documents);
    // Summaries are L4 records beside the pages: they come back into the page table and L3 too.
    for (const id of await l4.listRecords('summaries')) {
      const raw = await l4.getRecord('summaries', id);
      if (raw !== undefined && pager.table.has(id)) await pager.saveSummary(id, JSON.parse(raw) as PageSummary);
    }
  } finally {
    await pager.close();
  }
  return { pages: pages.length, documents: documents.length, corrupt, backups };
}
