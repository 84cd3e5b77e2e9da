import type { Resolution } from './page.js';

/** A page resident in one session's L1. */
export interface Resident {
  pageId: string;
  tokens: number;
  pinned: boolean;
  /** The page itself or its summary; `tokens` and `text` are those of what was given. */
  resolution: Resolution;
  /** The text the model was given: L1 is the context, so it holds what is in it. */
  text: string;
}

/**
 * One session's active context: a token budget and an LRU order. It never holds more tokens than
 * its budget and never evicts a pinned page; the pager decides what enters.
 */
export class L1 {
  /** Map order is the LRU order: first is least recently used. */
  private readonly pages = new Map<string, Resident>();
  private used = 0;

  constructor(readonly budget: number) {}

  get usedTokens(): number {
    return this.used;
  }

  has(pageId: string): boolean {
    return this.pages.has(pageId);
  }

  get(pageId: string): Resident | undefined {
    return this.pages.get(pageId);
  }

  /** Residents, least recently used first. */
  list(): Resident[] {
    return [...this.pages.values()];
  }

  /** Marks a resident page as just used. */
  touch(pageId: string): void {
    const r = this.pages.get(pageId);
    if (!r) return;
    this.pages.delete(pageId);
    this.pages.set(pageId, r);
  }

  /** Tokens that could be freed by evicting every unpinned page. */
  reclaimable(): number {
    let n = 0;
    for (const r of this.pages.values()) if (!r.pinned) n += r.tokens;
    return n;
  }

  /** Whether a page of `tokens` could be admitted, evicting unpinned pages (except `keep`) if needed. */
  canFit(tokens: number, keep: ReadonlySet<string> = new Set()): boolean {
    let free = this.budget - this.used;
    for (const r of this.pages.values()) if (!r.pinned && !keep.has(r.pageId)) free += r.tokens;
    return tokens <= free;
  }

  /**
   * Admits a page as most recently used, evicting least recently used unpinned pages (never those in
   * `keep`) until it fits. Returns the evicted residents, or undefined (and changes nothing) if it cannot fit.
   */
  admit(page: Resident, keep: ReadonlySet<string> = new Set()): Resident[] | undefined {
    const existing = this.pages.get(page.pageId);
    if (existing) {
      existing.pinned ||= page.pinned;
      this.touch(page.pageId);
      return [];
    }
    if (!this.canFit(page.tokens, keep)) return undefined;
    const evicted: Resident[] = [];
    for (const r of this.pages.values()) {
      if (this.used + page.tokens <= this.budget) break;
      if (r.pinned || keep.has(r.pageId)) continue;
      this.pages.delete(r.pageId);
      this.used -= r.tokens;
      evicted.push(r);
    }
    this.pages.set(page.pageId, { ...page });
    this.used += page.tokens;
    return evicted;
  }

  setPinned(pageId: string, pinned: boolean): void {
    const r = this.pages.get(pageId);
    if (r) r.pinned = pinned;
  }

  /** Removes a page (pinned or not); returns it if it was resident. */
  remove(pageId: string): Resident | undefined {
    const r = this.pages.get(pageId);
    if (!r) return undefined;
    this.pages.delete(pageId);
    this.used -= r.tokens;
    return r;
  }
}
