import { rename } from 'node:fs/promises';
import { basename } from 'node:path';
import { Catalog, statsIn } from './catalog.js';
import { type Config, settingName } from './config.js';
import { parseManifest } from './core/manifest.js';
import type { Page } from './core/page.js';
import type { DocumentEntry, PageSummary } from './core/page-table.js';
import { CATALOG_FILE, dataDirLayout } from './data-dir.js';
import { ConfigError } from './errors.js';
import { loadOptional } from './optional.js';
import { Pager, type PagerParts } from './pager.js';
import type { DocumentPages } from './paging/ingest.js';
import { exists } from './store/atomic-file.js';
import type { L4Store } from './tiers/l4/store.js';
import { openL4 } from './wiring.js';

const BATCH = 256;

export interface ReindexResult {
  pages: number;
  documents: number;
  /** Pages whose file no longer matches its content address: left out, named here. */
  corrupt: string[];
  /** Where the previous derived files were moved. */
  backups: string[];
  /** What the rebuild could not restore as it was, and why; for the user. */
  notes: string[];
}

/** Renames the namespace's Chroma collection out of the way, as the files are; the rebuild creates a new one. */
async function retireChroma(config: Config, stamp: string): Promise<string[]> {
  const { ChromaIndex, collectionName } = await loadOptional(
    'chromadb',
    `${settingName('chromaUrl')} is set`,
    () => import('./tiers/l3/chroma.js'),
  );
  const name = collectionName(config.namespace);
  const backup = `${name}.bak-${stamp}`;
  try {
    return (await ChromaIndex.retire(config.chromaUrl!, name, backup))
      ? [`${config.chromaUrl} collection ${backup}`]
      : [];
  } catch (err) {
    throw new ConfigError(
      `cannot reach Chroma at ${config.chromaUrl} (${(err as Error).message}); start it, or unset VMEM_CHROMA_URL to rebuild the local index only`,
    );
  }
}

/** Documents rebuilt from L4, in the order the page table recorded them, each with the pages it brought first. */
interface Rebuilt {
  documents: DocumentPages[];
  notes: string[];
}

/**
 * The documents L4 records: those of the ingest manifests, in the order they were written. Documents of a
 * store written before ingest kept manifests are rebuilt from their pages' first origins, which cannot
 * restore a document whose pages all came first in another one, nor a shared page in a later document.
 */
async function documentsOf(l4: L4Store, pages: Map<string, Page>): Promise<Rebuilt> {
  const notes: string[] = [];
  // A document listed again (an ingest killed after its manifest, before the page table recorded it, then run
  // again) stands where it was listed last: where the page table recorded it.
  const listed = new Map<string, DocumentEntry>();
  /** Every document a manifest names, listed or removed: only the others are rebuilt from their pages' origins. */
  const named = new Set<string>();
  const unreadable: string[] = [];
  for (const id of (await l4.listRecords('manifests')).sort()) {
    const manifest = parseManifest((await l4.getRecord('manifests', id)) ?? '');
    if (!manifest) unreadable.push(id);
    for (const gone of manifest?.removed ?? []) {
      listed.delete(gone);
      named.add(gone);
    }
    for (const d of manifest?.documents ?? []) {
      named.add(d.id);
      listed.delete(d.id);
      listed.set(d.id, d);
    }
  }
  if (unreadable.length)
    notes.push(
      `${unreadable.length} manifest(s) unreadable (${unreadable.join(', ')}): their documents were rebuilt from their pages' first origins`,
    );

  const byOrigin = new Map<string, Page[]>();
  for (const p of pages.values()) {
    if (named.has(p.documentId)) continue;
    const ps = byOrigin.get(p.documentId);
    if (ps) ps.push(p);
    else byOrigin.set(p.documentId, [p]);
  }
  const legacy: DocumentEntry[] = [...byOrigin.values()].map((ps) => {
    ps.sort((a, b) => a.ordinal - b.ordinal);
    const first = ps[0]!;
    return {
      id: first.documentId,
      source: first.source,
      tokens: ps.reduce((n, p) => n + p.tokens, 0),
      bytes: ps.reduce((n, p) => n + Buffer.byteLength(p.text), 0),
      pageIds: ps.map((p) => p.id),
      ingestedAt: Date.now(),
    };
  });
  if (legacy.length) {
    notes.push(
      `${legacy.length} document(s) predate ingest manifests and were rebuilt from their pages' first origins: a document whose pages all came first in another is missing, and pages shared with earlier documents are missing from later ones; re-ingest their sources to restore them exactly`,
    );
  }

  const documents: Rebuilt['documents'] = [];
  const incomplete: string[] = [];
  const added = new Set<string>();
  // Stores written before manifests were older than any manifest: their documents come first, as they did.
  for (const doc of legacy.concat([...listed.values()])) {
    if (doc.pageIds.some((id) => !pages.has(id))) {
      incomplete.push(`${doc.source} (${doc.id})`);
      continue;
    }
    const fresh: Page[] = [];
    for (const id of doc.pageIds) {
      if (!added.has(id)) fresh.push(pages.get(id)!);
      added.add(id);
    }
    documents.push({ doc, pages: fresh });
  }
  if (incomplete.length)
    notes.push(
      `${incomplete.length} document(s) left out, their pages missing or corrupt in L4: ${incomplete.join(', ')}; re-ingest their sources`,
    );
  return { documents, notes };
}

/**
 * Rebuilds the page table and the L3 index (pages and summaries) from L4 alone (the source of truth), e.g. after an
 * embedder change or a lost index. Run it with no vmem process serving the same data dir.
 * Documents come from the ingest manifests L4 keeps, pages from the page files, summaries from their records.
 * Access statistics are not L4's: they are carried over from the previous page table when it is readable.
 * The previous files (and Chroma collection) are kept beside the new ones with a `.bak-<time>` suffix.
 */
export async function reindex(
  config: Config,
  onProgress?: (done: number, total: number) => void,
  parts: PagerParts = {},
): Promise<ReindexResult> {
  // The L4 the pager is given (the configured one unless a caller brings its own): read here, written by the pager.
  const l4 = parts.l4 ?? (await openL4(config));
  const layout = dataDirLayout(config.dataDir);
  const ids = await l4.listPageIds();
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const backups: string[] = [];
  const notes: string[] = [];
  if (config.chromaUrl) backups.push(...(await retireChroma(config, stamp)));
  // Opened once before it is set aside: a page table still in an earlier vmem's log is imported, so its
  // statistics are carried over like any other's. One that cannot be opened is set aside as it is.
  const found = await Promise.all([layout.catalog, layout.legacyCatalog].map(exists));
  if (!config.catalogUrl && found.some(Boolean))
    await Catalog.open(config.dataDir).then(
      (c) => c.close(),
      (err: unknown) =>
        notes.push(`the previous page table (${CATALOG_FILE}) could not be opened: ${(err as Error).message}`),
    );
  for (const from of [...layout.derived, layout.legacyCatalog]) {
    const to = `${from}.bak-${stamp}`;
    // A database's write-ahead log and index go with it, under the names SQLite looks for beside the new name.
    for (const suffix of ['', '-wal', '-shm']) {
      try {
        await rename(from + suffix, to + suffix);
        if (!suffix) backups.push(to);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
  }
  const pages = new Map<string, Page>();
  const corrupt: string[] = [];
  const pager = await Pager.open(config, { ...parts, l4, freshCatalog: true });
  let documents: Rebuilt['documents'];
  try {
    for (let i = 0; i < ids.length; i += BATCH) {
      const batch = await pager.read.pages(ids.slice(i, i + BATCH), { strict: true });
      for (const p of batch.pages) pages.set(p.id, p);
      corrupt.push(...batch.corrupt);
      onProgress?.(Math.min(i + BATCH, ids.length), ids.length);
    }
    const rebuilt = await documentsOf(l4, pages);
    documents = rebuilt.documents;
    notes.push(...rebuilt.notes);
    await pager.index(documents);
    // Summaries are L4 records beside the pages: they come back into the page table and L3 too.
    for (const id of await l4.listRecords('summaries')) {
      const raw = await l4.getRecord('summaries', id);
      if (raw !== undefined && pager.table.has(id)) await pager.saveSummary(id, JSON.parse(raw) as PageSummary);
    }
    const previousFile = config.catalogUrl ? layout.replica : layout.catalog;
    const previous = `${previousFile}.bak-${stamp}`;
    if (backups.includes(previous)) {
      try {
        for (const batch of statsIn(previous)) await pager.addStats(batch);
      } catch (err) {
        // The page table is rebuilt; the statistics of one that cannot be read are what is lost.
        notes.push(`access statistics could not be carried over from ${previous}: ${(err as Error).message}`);
      }
    } else
      notes.push(
        `access statistics start from zero: there was no previous page table (${basename(previousFile)}) to carry them over from`,
      );
    // Shared over the network: every node follows the rebuilt page table from now on.
    await pager.publishCatalog();
  } finally {
    await pager.close();
  }
  return { pages: pages.size, documents: documents.length, corrupt, backups, notes };
}
