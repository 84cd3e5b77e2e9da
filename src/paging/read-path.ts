import type { Page } from '../core/page.js';
import { CorruptPageError, MissingPageError } from '../errors.js';
import type { L2Store } from '../tiers/l2/store.js';
import type { L4Store } from '../tiers/l4/store.js';

/** A page's text and the level it came from. */
export interface PageText {
  text: string;
  level: 'L2' | 'L4';
}

/**
 * The one read path for page text below L1: one L2 round trip (which also restarts its hits' TTL), then L4
 * for the misses, which then warm L2. Faults, loads, restores, resources and the summarizer read through
 * it; reindex and the Chroma catch-up read whole pages (text and metadata, which L2 does not hold) with `pages`.
 */
export class ReadPath {
  constructor(
    private readonly l2: L2Store,
    private readonly l4: L4Store,
    private readonly ttlSeconds: number,
  ) {}

  /** Texts in the order of `ids`; undefined for a page L4 does not hold. Throws on a corrupt page. */
  async texts(ids: string[]): Promise<(PageText | undefined)[]> {
    if (!ids.length) return [];
    const cached = await this.l2.getMany(ids, this.ttlSeconds);
    const misses = ids.filter((_, i) => cached[i] === undefined);
    const fromL4 = misses.length ? await this.l4.getPages(misses) : [];
    const byId = new Map<string, string>();
    fromL4.forEach((p, i) => {
      if (p) byId.set(misses[i]!, p.text);
    });
    const out = ids.map((id, i): PageText | undefined => {
      const c = cached[i];
      if (c !== undefined) return { text: c, level: 'L2' };
      const t = byId.get(id);
      return t === undefined ? undefined : { text: t, level: 'L4' };
    });
    // Warming L2 is off the hot path: the caller has its pages after one L2 round trip (plus L4 for misses).
    // Commands on one connection stay in order, so this process's next read sees them; a cache write that
    // fails loses nothing.
    if (byId.size)
      void this.l2
        .setMany(
          [...byId].map(([id, value]) => ({ id, value })),
          this.ttlSeconds,
        )
        .catch(() => {});
    return out;
  }

  /** Like `texts`, but every page must be stored: one L4 lacks is an error naming `field[i]`. */
  async require(ids: string[], field: string): Promise<PageText[]> {
    const got = await this.texts(ids);
    return got.map((t, i) => {
      if (t === undefined)
        throw new MissingPageError(`page ${ids[i]} (${field}[${i}]) is not stored in L4; re-ingest its source`);
      return t;
    });
  }

  /**
   * Whole pages from L4, for rebuilding L3 and the page table (see `intactPages`): L2 holds texts, not the
   * metadata a rebuild needs.
   */
  pages(ids: string[], opts: { strict?: boolean } = {}): Promise<{ pages: Page[]; corrupt: string[] }> {
    return intactPages(this.l4, ids, opts);
  }
}

/**
 * The pages of `ids` that L4 holds intact, in their order, and the ids of those whose file is corrupt. A missing
 * page is left out of both. With `strict`, an error other than a corrupt page (a failing disk) is thrown;
 * otherwise that page is counted as corrupt.
 */
export async function intactPages(
  l4: L4Store,
  ids: string[],
  opts: { strict?: boolean } = {},
): Promise<{ pages: Page[]; corrupt: string[] }> {
  try {
    return { pages: (await l4.getPages(ids)).filter((p): p is Page => !!p), corrupt: [] };
  } catch {
    const pages: Page[] = [];
    const corrupt: string[] = [];
    for (const id of ids) {
      try {
        const [p] = await l4.getPages([id]);
        if (p) pages.push(p);
      } catch (err) {
        if (opts.strict && !(err instanceof CorruptPageError)) throw err;
        corrupt.push(id);
      }
    }
    return { pages, corrupt };
  }
}
