import { planAdmission } from './admission.js';
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
  /**
   * When the text last went out in a tool result (epoch ms), `sentTokens` just after it, and how many
   * results have left it out since.
   */
  sent?: { at: number; mark: number; omitted: number };
}

/**
 * When a resident page's text may be left out of a result because the model still sees it. vmem cannot
 * see the host's context: hosts start new conversations on one connection and drop old tool results.
 * So a page counts as seen only for a while after its text was last sent (`maxAgeMs`), only until
 * `maxTokensSince` tokens of other page text were sent after it (older results are the first a host
 * drops), and only `maxOmissions` times: a model that asks again for a page it was told it holds
 * probably does not see it.
 */
export interface ResendPolicy {
  maxAgeMs: number;
  maxTokensSince: number;
  maxOmissions: number;
}

/**
 * One session's active context: a token budget and an LRU order. It never holds more tokens than
 * its budget and never evicts a pinned page; the pager decides what enters.
 */
export class L1 {
  /** Map order is the LRU order: first is least recently used. */
  private readonly pages = new Map<string, Resident>();
  private used = 0;
  /** Tokens of page text sent to the model so far: a clock that ticks with the host's context. */
  private sent = 0;

  constructor(readonly budget: number) {}

  get sentTokens(): number {
    return this.sent;
  }

  /** Records that a resident page's text went out in a tool result at `at`. */
  markSent(pageId: string, at: number): void {
    const r = this.pages.get(pageId);
    if (!r) return;
    this.sent += r.tokens;
    r.sent = { at, mark: this.sent, omitted: 0 };
  }

  /** Records that a result left a resident page's text out, as the model should still see it. */
  markOmitted(pageId: string): void {
    const s = this.pages.get(pageId)?.sent;
    if (s) s.omitted++;
  }

  /** Whether the model can be assumed to still see a resident page's text (see ResendPolicy). */
  seen(pageId: string, at: number, policy: ResendPolicy): boolean {
    const s = this.pages.get(pageId)?.sent;
    return (
      !!s &&
      at - s.at < policy.maxAgeMs &&
      this.sent - s.mark < policy.maxTokensSince &&
      s.omitted < policy.maxOmissions
    );
  }

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
    // The one admission policy: the planner's, with the pages in `keep` held like pinned ones.
    const plan = planAdmission({
      residents: this.list().map((r) => ({ ...r, pinned: r.pinned || keep.has(r.pageId), seen: true })),
      entries: [{ id: page.pageId, tokens: page.tokens, fixed: 'full' }],
      budget: this.budget,
      maxTokens: Infinity,
      resolution: 'full',
      resend: false,
    });
    if (plan.skip.length) return undefined;
    const evicted = plan.evict.map((id) => this.remove(id)!);
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
