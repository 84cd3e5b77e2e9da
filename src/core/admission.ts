import type { Resolution } from './page.js';

/** A page resident in L1, as the planner sees it. */
export interface PlanResident {
  pageId: string;
  tokens: number;
  pinned: boolean;
  resolution: Resolution;
  /** Whether the model can be assumed to still see its text (the resend policy). */
  seen: boolean;
}

/** A page asked for: its size in full and, when it has one, its summary's. */
export interface PlanEntry {
  id: string;
  tokens: number;
  summaryTokens?: number;
  /** Admitted at this resolution or not at all (a snapshot's page), whatever the request's resolution. */
  fixed?: Resolution;
}

export interface PlanRequest {
  /** L1's residents, least recently used first. */
  residents: PlanResident[];
  /** The pages asked for, best first, each once. */
  entries: PlanEntry[];
  /** L1's budget in tokens. */
  budget: number;
  /** Tokens of page text this call may send. */
  maxTokens: number;
  /**
   * 'full' admits pages in full (and replaces a resident summary by its page); 'summary' admits the summary of
   * each page that has one; 'auto' admits a page in full when it fits and otherwise its summary when that fits.
   */
  resolution: Resolution | 'auto';
  /** Send resident pages' text again even while the model may still see it. */
  resend: boolean;
}

/** One step of a plan, on one requested page. */
export type PlanStep =
  /** Bring the page in at `resolution` (`tokens` in L1); `replaces`: its resident summary makes way for it. */
  | { kind: 'admit'; id: string; resolution: Resolution; tokens: number; replaces: boolean }
  /** The page stays resident and is served from L1, with its text when `resend`. */
  | { kind: 'keep'; id: string; resend: boolean };

export interface Plan {
  /** Worst first, so that the best page ends most recently used. */
  steps: PlanStep[];
  /** Residents to evict first, least recently used first: never pinned, never one asked for. */
  evict: string[];
  /** Pages asked for that do not fit (best first). A resident summary that could not be replaced is also kept. */
  skip: string[];
}

/**
 * Which requested pages enter L1, at which resolution, which residents leave, and which requests are skipped,
 * within the call's `maxTokens` and L1's budget, never evicting a pinned page or one asked for. Pure: the
 * caller carries the plan out, and nothing it does can fail half-way.
 */
export function planAdmission(req: PlanRequest): Plan {
  const residents = new Map(req.residents.map((r) => [r.pageId, r]));
  const asked = new Set(req.entries.map((e) => e.id));
  const chosen = new Map<string, Resolution>();
  const resent = new Set<string>();
  const skip: string[] = [];
  let room = req.maxTokens;
  let pinnedOrAsked = 0;
  for (const r of req.residents) if (r.pinned || asked.has(r.pageId)) pinnedOrAsked += r.tokens;
  const fits = (tokens: number) => tokens <= room && pinnedOrAsked + tokens <= req.budget;
  const sizeAt = (e: PlanEntry, r: Resolution) => (r === 'summary' ? e.summaryTokens! : e.tokens);

  for (const e of req.entries) {
    const resident = residents.get(e.id);
    const upgrade = resident?.resolution === 'summary' && req.resolution === 'full' && !e.fixed;
    if (resident && !upgrade) {
      // Already counted in L1; sending its text again only costs this call's room.
      if ((req.resend || !resident.seen) && resident.tokens <= room) {
        resent.add(e.id);
        room -= resident.tokens;
      }
      continue;
    }
    const hasSummary = e.summaryTokens !== undefined;
    let resolution: Resolution | undefined;
    if (e.fixed) resolution = fits(sizeAt(e, e.fixed)) ? e.fixed : undefined;
    else if (!(req.resolution === 'summary' && hasSummary) && fits(e.tokens)) resolution = 'full';
    else if (hasSummary && req.resolution !== 'full' && fits(e.summaryTokens!)) resolution = 'summary';
    if (!resolution) {
      skip.push(e.id);
      continue;
    }
    chosen.set(e.id, resolution);
    room -= sizeAt(e, resolution);
    pinnedOrAsked += sizeAt(e, resolution);
  }

  // Admission, worst first: each page evicts the least recently used residents that are neither pinned nor asked for.
  const evictable = req.residents.filter((r) => !r.pinned && !asked.has(r.pageId));
  let used = req.residents.reduce((n, r) => n + r.tokens, 0);
  let next = 0;
  const evict: string[] = [];
  const steps: PlanStep[] = [];
  for (const e of [...req.entries].reverse()) {
    const resolution = chosen.get(e.id);
    const resident = residents.get(e.id);
    if (!resolution) {
      if (resident) steps.push({ kind: 'keep', id: e.id, resend: resent.has(e.id) });
      continue;
    }
    const tokens = sizeAt(e, resolution);
    const freed = resident?.tokens ?? 0;
    let reclaimable = 0;
    for (let i = next; i < evictable.length; i++) reclaimable += evictable[i]!.tokens;
    if (used - freed + tokens > req.budget + reclaimable) {
      skip.push(e.id); // cannot happen within the checks above; nothing is changed for it
      continue;
    }
    used -= freed;
    while (used + tokens > req.budget) {
      const r = evictable[next++]!;
      evict.push(r.pageId);
      used -= r.tokens;
    }
    used += tokens;
    steps.push({ kind: 'admit', id: e.id, resolution, tokens, replaces: !!resident });
  }
  return { steps, evict, skip };
}
