import type { Catalog, PageTable } from '../catalog.js';
import type { Config } from '../config.js';
import { planAdmission } from '../core/admission.js';
import type { ResendPolicy } from '../core/l1.js';
import type { Handle, Level, Resolution } from '../core/page.js';
import { droppedText, type PageEntry } from '../core/page-table.js';
import { InputError } from '../errors.js';
import type { Session } from '../session.js';
import type { L3Index } from '../tiers/l3/index.js';
import { type Candidate, candidateCount, candidateIn } from './candidates.js';
import type { ReadPath } from './read-path.js';
import { handleIn, type PagingResult, type Pressure, pressureOf, type ServedPage, servedPage } from './views.js';

/** What paging reads and records. */
export interface PagingLevels {
  config: Pick<Config, 'l1Tokens'>;
  table: PageTable;
  catalog: Pick<Catalog, 'recordAccess'>;
  read: ReadPath;
  l3: L3Index;
  now: () => number;
  /** When resident pages are sent again. */
  resend: ResendPolicy;
  /** Pages leaving an L1: summaries are made of them. */
  evicted(pageIds: string[]): void;
}

/** What page_fault returns: the pages it brought in, and the next best as candidates to load instead. */
export interface FaultResult extends PagingResult {
  query: string;
  /** Best first; none of them is in the session's L1. */
  candidates: Candidate[];
}

/** page_fault, load_page and evict on one session's L1, with their argument checks; admission is planned by planAdmission. */
export class Paging {
  constructor(private readonly levels: PagingLevels) {}

  /**
   * Ranks pages for `query` and brings the best into the session's L1, evicting LRU pages as needed.
   * A resident page's text is left out only while the model can be assumed to still see it (the resend
   * policy) and `resend` is not set; its entry then says how to get the text back. The `candidates` next
   * best pages (default DEFAULT_CANDIDATES) not in L1 come back as candidates, for the model to load instead.
   */
  async fault(
    session: Session,
    query: string,
    opts: {
      maxPages?: number;
      maxTokens?: number;
      resolution?: Resolution;
      resend?: boolean;
      candidates?: number;
    } = {},
  ): Promise<FaultResult> {
    const { table, l3 } = this.levels;
    if (!query.trim())
      throw new InputError('query', 'is empty; say what you are missing, e.g. "the 2015 revenue figures"');
    const maxPages = opts.maxPages ?? 3;
    const maxTokens = opts.maxTokens ?? this.levels.config.l1Tokens;
    const candidates = candidateCount(opts.candidates);
    // A page matched through its summary counts once, with its better score. Asking for twice as many
    // hits leaves room for both keys of a page.
    const scores = new Map<string, number>();
    for (const h of await l3.query(query, 2 * (maxPages + candidates))) {
      // Only current versions rank: L3 lets superseded pages go soon after, this covers the meantime.
      if (!scores.has(h.pageId) && table.isCurrent(h.pageId)) scores.set(h.pageId, h.score);
    }
    const order = [...scores.keys()];
    const ranked = order.slice(0, maxPages).map((id) => table.get(id)!);
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
    // The next best, taken after admission: a page the model holds already is no choice to offer.
    const offered = order
      .slice(maxPages)
      .filter((id) => !session.l1.has(id))
      .slice(0, candidates)
      .map((id) => candidateIn(table, id, scores.get(id)!));
    return { query, ...result, candidates: offered };
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
    const maxTokens = opts.maxTokens ?? this.levels.config.l1Tokens;
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
      if (session.l1.remove(id)) evicted.push(handleIn(this.levels.table, id));
      else notResident.push(id);
    }
    this.levels.evicted(evicted.map((h) => h.pageId));
    if (evicted.length) session.changed();
    return { evicted, notResident, l1: pressureOf(session) };
  }

  private entriesFor(pageIds: string[], field: string): PageEntry[] {
    if (!pageIds.length) throw new InputError(field, 'is empty; pass at least one page id');
    const out: PageEntry[] = [];
    const seen = new Set<string>();
    pageIds.forEach((id, i) => {
      const e = this.levels.table.get(id);
      if (!e) {
        const gone = this.levels.table.dropped(id);
        throw new InputError(
          `${field}[${i}]`,
          gone
            ? `${droppedText(gone)}; page_fault for what you need, or ingest the source again`
            : `unknown page id ${JSON.stringify(id)}; take ids from page_fault results, handles, or vmem://page-table`,
        );
      }
      if (!seen.has(id)) out.push(e);
      seen.add(id);
    });
    return out;
  }

  /**
   * Admits `entries` (best first) into the session's L1 as planAdmission plans it, within `maxTokens` for this
   * call and the L1 budget, never evicting pages of this same call; the best ends most recently used. A resident
   * page's text goes out again when `resend` is set or the model may no longer see it, within `maxTokens`;
   * otherwise its entry carries no text, and says how to get it.
   */
  private async bringIn(
    session: Session,
    entries: PageEntry[],
    opts: { maxTokens: number; pin: boolean; resend: boolean; resolution: Resolution | 'auto' },
  ): Promise<PagingResult> {
    const { table, catalog, read, now, resend } = this.levels;
    const l1 = session.l1;
    const at = now();
    const plan = planAdmission({
      residents: l1.list().map((r) => ({ ...r, seen: l1.seen(r.pageId, at, resend) })),
      entries: entries.map((e) => ({ id: e.id, tokens: e.tokens, summaryTokens: e.summary?.tokens })),
      budget: l1.budget,
      maxTokens: opts.maxTokens,
      resolution: opts.resolution,
      resend: opts.resend,
    });
    const full = plan.steps.flatMap((s) => (s.kind === 'admit' && s.resolution === 'full' ? [s.id] : []));
    const fetched = await read.require(full, 'page_ids');
    const fetchedById = new Map(full.map((id, i) => [id, fetched[i]!]));

    const evicted = plan.evict.map((id) => {
      l1.remove(id);
      return handleIn(table, id);
    });
    const entryOf = new Map(entries.map((e) => [e.id, e]));
    const keep = new Set(entryOf.keys());
    const served = new Map<string, ServedPage>();
    for (const step of plan.steps) {
      const resident = l1.get(step.id);
      if (step.kind === 'keep') {
        if (opts.pin) l1.setPinned(step.id, true);
        l1.touch(step.id);
        const sentAt = resident!.sent?.at;
        if (step.resend) l1.markSent(step.id, at);
        else l1.markOmitted(step.id);
        served.set(step.id, {
          ...servedPage(
            entryOf.get(step.id)!,
            'L1',
            resident!.pinned,
            step.resend ? resident!.text : undefined,
            resident!.resolution,
          ),
          ...(step.resend
            ? {}
            : { sentSecondsAgo: sentAt === undefined ? undefined : Math.round((at - sentAt) / 1000) }),
        });
        catalog.recordAccess(step.id, at, false);
        continue;
      }
      const entry = entryOf.get(step.id)!;
      const got: { text: string; level: Level } =
        step.resolution === 'full' ? fetchedById.get(step.id)! : { text: entry.summary!.text, level: 'L4' };
      const pinned = opts.pin || !!resident?.pinned;
      if (step.replaces) l1.remove(step.id); // a summary making way for its page: not an eviction
      l1.admit({ pageId: step.id, tokens: step.tokens, pinned, resolution: step.resolution, text: got.text }, keep);
      l1.markSent(step.id, at);
      served.set(step.id, servedPage(entry, got.level, pinned, got.text, step.resolution));
      catalog.recordAccess(step.id, at, true);
    }
    this.levels.evicted(plan.evict);
    session.changed();
    return {
      pages: entries.map((e) => served.get(e.id)).filter((p): p is ServedPage => !!p),
      evicted,
      skipped: plan.skip.map((id) => handleIn(table, id)),
      l1: pressureOf(session),
    };
  }
}
