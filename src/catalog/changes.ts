import type { DocumentEntry, DroppedPage, PageEntry, PageSummary } from '../core/page-table.js';
import { ConfigError, InternalError } from '../errors.js';
import type { ItemKind } from '../tiers/l3/index.js';
import { documentOfRow, num, type Statements, type StatsRow } from './schema.js';

/**
 * A change to the page table: what every write is, applied to the database in one transaction. A page table of
 * one data dir applies its changes as they are made; one shared over the network (catalog/shared-log.ts) appends
 * them to a log that every node applies in the same order, so every node's copy ends the same. Everything a change
 * depends on is in it (times included), so applying it again elsewhere gives the same result.
 */
export type Change =
  | { t: 'add'; docs: { doc: DocumentEntry; pages: PageEntry[] }[] }
  | { t: 'remove'; ids: string[]; reason: DroppedPage['reason']; at: number }
  | { t: 'summary'; pageId: string; summary: PageSummary }
  | { t: 'stats'; rows: StatsRow[] };

/** What applying a change found: pages to store and index again (add), pages that left the store (remove). */
export interface Outcome {
  revived: string[];
  dropped: string[];
}

/**
 * How a change is applied here. `foreign`: another node made it, so this data dir's L3 has not indexed what it
 * brings; the pages and summaries it makes findable are queued for this node to index (`to_index`).
 */
export interface ApplyContext {
  foreign: boolean;
}

export function applyChange(sql: Statements, change: Change, ctx: ApplyContext): Outcome {
  switch (change.t) {
    case 'add':
      return applyAdd(sql, change.docs, ctx);
    case 'remove':
      return { revived: [], dropped: applyRemove(sql, change) };
    case 'summary':
      if (applySummary(sql, change.pageId, change.summary) && ctx.foreign) queue(sql, change.pageId, 'summary');
      return { revived: [], dropped: [] };
    case 'stats':
      applyStats(sql, change.rows);
      return { revived: [], dropped: [] };
    default:
      // Written by a later vmem sharing the page table: this node cannot follow it until it is upgraded.
      throw new ConfigError(
        `the shared page table holds a change this vmem does not know (${JSON.stringify((change as { t?: unknown }).t)}): upgrade vmem on this node to the version the others run`,
      );
  }
}

const queue = (sql: Statements, pageId: string, kind: ItemKind) => sql.queueIndex.run(pageId, kind);

/** See Catalog.addDocuments. */
function applyAdd(sql: Statements, docs: { doc: DocumentEntry; pages: PageEntry[] }[], ctx: ApplyContext): Outcome {
  const revived = new Set<string>();
  let pages = 0;
  let tokens = 0;
  let documents = 0;
  for (const { doc, pages: entries } of docs) {
    const inserted = new Set<string>();
    for (const p of entries) {
      const { gist, stored, indexed, accessCount: _a, faultCount: _f, lastAccess: _l, summary: _s, ...meta } = p;
      delete (meta as Partial<PageEntry>).supersededBy;
      if (num(sql.insertPage.run(p.id, JSON.stringify(meta), gist, p.tokens, +stored, +indexed).changes)) {
        pages++;
        tokens += p.tokens;
        inserted.add(p.id);
        if (ctx.foreign) queue(sql, p.id, 'page');
        if (sql.everDropped.get(p.id)) revived.add(p.id);
      } else sql.mergeLevels.run(+stored, +indexed, p.id);
    }
    const { id, source, tokens: t, bytes, ingestedAt, pageIds } = doc;
    const known = sql.document.get(id);
    if (known && !known.superseded_by) continue; // current already: nothing changes
    if (known) sql.reinstate.run(id);
    else documents += num(sql.insertDocument.run(id, source, t, bytes, ingestedAt, JSON.stringify(pageIds)).changes);
    // References first, then the previous version's are released: a page both hold never reaches 0.
    for (const pageId of new Set(pageIds)) {
      const r = sql.refPage.get(known ? 0 : 1, 1, pageId);
      if (!r) throw new InternalError(`page ${pageId} of document ${id} is not in the page table`);
      if (num(r.current_refs) === 1 && !inserted.has(pageId)) {
        sql.setPageSuperseded.run(null, pageId);
        sql.unqueueUnindex.run(pageId);
        revived.add(pageId);
        if (ctx.foreign) queue(sql, pageId, 'page');
      }
    }
    for (const old of sql.currentOf.all(source)) {
      if (old.id === id) continue;
      sql.supersede.run(id, ingestedAt, String(old.id));
      release(sql, documentOfRow(old), id);
    }
  }
  sql.addTotals.run(documents, pages, tokens, 0, 0, 0, 0);
  return { revived: [...revived], dropped: [] };
}

/** A current document's pages lose it as a current holder; those left with none are `by`'s superseded pages. */
function release(sql: Statements, doc: DocumentEntry, by: string): void {
  for (const pageId of new Set(doc.pageIds)) {
    const r = sql.refPage.get(0, -1, pageId);
    if (r && num(r.current_refs) === 0) {
      sql.setPageSuperseded.run(by, pageId);
      sql.queueUnindex.run(pageId);
    }
  }
}

/** See Catalog.removeDocuments. Returns the dropped page ids. */
function applyRemove(sql: Statements, { ids, reason, at }: Extract<Change, { t: 'remove' }>): string[] {
  const dropped: string[] = [];
  let documents = 0;
  let pages = 0;
  let tokens = 0;
  let summaries = 0;
  let summaryTokens = 0;
  for (const id of ids) {
    const row = sql.document.get(id);
    if (!row) continue;
    const doc = documentOfRow(row);
    const current = !doc.supersededBy;
    sql.deleteDocument.run(id);
    documents++;
    for (const pageId of new Set(doc.pageIds)) {
      const r = sql.refPage.get(-1, current ? -1 : 0, pageId);
      if (!r) continue;
      if (num(r.refs) <= 0) {
        const gone = sql.deletePage.get(pageId)!;
        pages++;
        tokens += num(gone.tokens);
        if (gone.summary_tokens !== null) {
          summaries++;
          summaryTokens += num(gone.summary_tokens);
        }
        sql.unqueueUnindex.run(pageId);
        sql.addDrop.run(pageId, id, doc.source, reason, at);
        dropped.push(pageId);
      } else if (current && num(r.current_refs) === 0) {
        // Only another source's superseded version holds it now.
        const by = sql.supersededHolder.get(pageId)?.by;
        sql.setPageSuperseded.run(by === undefined ? id : String(by), pageId);
        sql.queueUnindex.run(pageId);
      }
    }
  }
  sql.addTotals.run(-documents, -pages, -tokens, -summaries, -summaryTokens, 0, 0);
  return dropped;
}

/** Records a page's summary unless it has one; whether it was recorded. */
function applySummary(sql: Statements, pageId: string, summary: PageSummary): boolean {
  if (!num(sql.setSummary.run(JSON.stringify(summary), summary.tokens, pageId).changes)) return false;
  sql.addTotals.run(0, 0, 0, 1, summary.tokens, 0, 0);
  return true;
}

/** Adds access statistics (deltas: every process's add up). */
export function applyStats(sql: Statements, rows: StatsRow[]): void {
  let accesses = 0;
  let faults = 0;
  for (const [id, a, f, at] of rows) {
    if (!num(sql.addStats.run(a, f, at, id).changes)) continue;
    accesses += a;
    faults += f;
  }
  sql.addTotals.run(0, 0, 0, 0, 0, accesses, faults);
}
