import { randomBytes } from 'node:crypto';
import type { Catalog } from '../catalog.js';
import type { Config } from '../config.js';
import { chunkText } from '../core/chunker.js';
import { CONTROL_CHARACTER, documentIdOf } from '../core/hash.js';
import { type Manifest, manifestId } from '../core/manifest.js';
import { gistOf, type Page, pageOf } from '../core/page.js';
import type { DocumentEntry, PageEntry } from '../core/page-table.js';
import { breadcrumbsAt, markdownHeadings, pdfPagesOf } from '../core/structure.js';
import { type Tokenizer, tokenizer } from '../core/tokenizer.js';
import { InputError } from '../errors.js';
import type { SourceFile } from '../ingest/sources.js';
import type { L3Index } from '../tiers/l3/index.js';
import type { L4Store } from '../tiers/l4/store.js';

export interface IngestResult {
  documentId: string;
  source: string;
  pages: number;
  newPages: number;
  tokens: number;
}

/** A document and the pages it brings first (pages are shared: another document may have brought the rest). */
export interface DocumentPages {
  doc: DocumentEntry;
  pages: Page[];
  /**
   * Every page of the document, when the caller has them: the page table then takes back any that left it
   * meanwhile (a concurrent forget), and those a superseded version held alone become findable again.
   */
  all?: Page[];
}

/** What ingest writes to. */
export interface IngestLevels {
  config: Pick<Config, 'maxIngestBytes' | 'pageTokens' | 'encoding'>;
  catalog: Catalog;
  l3: L3Index;
  l4: L4Store;
  now: () => number;
  /** Stores and indexes again pages the page table took back (see Lifecycle.revive). */
  revive?: (pages: Page[]) => Promise<void>;
}

/** Bytes of documents chunked before their pages are written together. */
const INGEST_BATCH_BYTES = 1 << 20;

/** Writes a manifest to L4, named so that manifests sort in the order they were written. */
export async function putManifest(l4: L4Store, at: number, manifest: Manifest): Promise<void> {
  await l4.putRecord('manifests', manifestId(at, randomBytes(4).toString('hex')), JSON.stringify(manifest));
}

/** A page's entry in the page table, as ingest creates it. */
export function entryOf({ text, ...meta }: Page): PageEntry {
  return { ...meta, gist: gistOf(text), stored: true, indexed: true, accessCount: 0, faultCount: 0, lastAccess: 0 };
}

/**
 * The documents as ingest takes them: made well-formed (a lone surrogate has no UTF-8 form: hashing would see
 * U+FFFD while the page file kept the surrogate, so two different texts would share a page id; made well-formed
 * here, what is hashed is what is stored), each checked: not empty, within the size limit, a usable name.
 */
export function validDocuments(input: SourceFile[], maxIngestBytes: number): SourceFile[] {
  // toWellFormed keeps the length, so the offsets of PDF pages and headings still hold.
  const docs = input.map((d) => ({ ...d, source: d.source.toWellFormed(), text: d.text.toWellFormed() }));
  for (const [i, d] of docs.entries()) {
    const field = docs.length > 1 ? `text (${d.source})` : 'text';
    if (!d.text.trim()) throw new InputError(field, 'is empty; pass the document text, or a path to a text file');
    const bytes = Buffer.byteLength(d.text);
    if (bytes > maxIngestBytes) {
      throw new InputError(
        field,
        `is ${bytes} bytes, over the ${maxIngestBytes}-byte limit (VMEM_MAX_INGEST_BYTES); split it into several documents`,
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
  return docs;
}

/**
 * A document's pages, each with its structure: the PDF pages it covers and the headings above it (those the
 * format gave, else the Markdown headings of the text).
 */
export function pagesOf(doc: SourceFile, documentId: string, pageTokens: number, enc: Tokenizer): Page[] {
  const chunks = chunkText(doc.text, pageTokens, enc);
  const crumbs = breadcrumbsAt(
    doc.headings ?? markdownHeadings(doc.text),
    chunks.map((c) => c.charStart),
  );
  const starts = doc.pdfPageStarts;
  return chunks.map((c, i) =>
    pageOf(
      c,
      { documentId, source: doc.source },
      { breadcrumb: crumbs[i], ...(starts?.length ? { pdfPages: pdfPagesOf(starts, c.charStart, c.charEnd) } : {}) },
    ),
  );
}

/** Makes documents whose pages L4 already holds findable: L3 first, then the page table. */
export async function indexDocuments(
  levels: Pick<IngestLevels, 'catalog' | 'l3' | 'revive'>,
  docs: DocumentPages[],
): Promise<void> {
  const pages = docs.flatMap((x) => x.pages);
  await levels.l3.upsert(pages.map((p) => ({ meta: p, text: p.text })));
  await levels.l3.flush();
  const { revived } = await levels.catalog.addDocuments(
    docs.map((x) => ({ doc: x.doc, pages: (x.all ?? x.pages).map(entryOf) })),
  );
  if (!revived.length) return;
  const byId = new Map(docs.flatMap((x) => x.all ?? x.pages).map((p) => [p.id, p]));
  await levels.revive?.(revived.flatMap((id) => byId.get(id) ?? []));
}

/**
 * Pages documents into L4 (durably, first: pages, then a manifest of the batch's documents), then L3,
 * then the page table. Re-ingesting the same source with the same bytes is a no-op that returns the same ids;
 * with other bytes, the new version supersedes the current one (an earlier version's bytes make it current again).
 */
export async function ingest(
  levels: IngestLevels,
  input: SourceFile[],
  onProgress?: (doneBytes: number, totalBytes: number) => void | Promise<void>,
): Promise<IngestResult[]> {
  const { config, catalog, l4, now } = levels;
  const table = catalog.table;
  const docs = validDocuments(input, config.maxIngestBytes);
  const total = docs.reduce((n, d) => n + Buffer.byteLength(d.text), 0);
  const enc = tokenizer(config.encoding);
  const results: IngestResult[] = [];
  let done = 0;
  // Pages are written in batches, each L4 first, then L3, then the catalog, while the next batch is
  // being chunked: the disk's fsyncs overlap the tokenizer's work instead of adding to it.
  let batch: DocumentPages[] = [];
  let batchBytes = 0;
  let writing = Promise.resolve();
  let failure: unknown;
  const claimed = new Set<string>();
  const write = (b: DocumentPages[]) => {
    writing = writing
      .then(async () => {
        if (failure !== undefined) return;
        await l4.putPages(b.flatMap((x) => x.pages));
        // Which documents hold which pages, in L4 too: pages are shared, so their own origins cannot say.
        await putManifest(l4, now(), { version: 1, documents: b.map((x) => x.doc) });
        await indexDocuments(levels, b);
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
    const known = table.document(documentId);
    if (known && !known.supersededBy) {
      // Same source, same bytes: already paged; nothing to write.
      results.push({ documentId, source: d.source, pages: known.pageIds.length, newPages: 0, tokens: known.tokens });
      done += bytes;
      await onProgress?.(done, total);
      continue;
    }
    const pages = pagesOf(d, documentId, config.pageTokens, enc);
    const fresh = pages.filter((p) => !table.has(p.id) && !claimed.has(p.id) && claimed.add(p.id));
    const tokens = pages.reduce((n, p) => n + p.tokens, 0);
    batch.push({
      doc: { id: documentId, source: d.source, tokens, bytes, pageIds: pages.map((p) => p.id), ingestedAt: now() },
      pages: fresh,
      all: pages,
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
  return results;
}
