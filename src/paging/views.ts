import type { PageTable } from '../catalog.js';
import { type Handle, handleOf, type Level, type Resolution, type Superseded } from '../core/page.js';
import type { PageEntry } from '../core/page-table.js';
import { type PageStructure, structureOf } from '../core/structure.js';
import type { Session } from '../session.js';
import type { L2Store } from '../tiers/l2/store.js';

/**
 * A page as a tool result shows it. `text` is absent when the page is resident and its text was sent
 * recently enough that the model should still see it (`sentSecondsAgo` says when).
 */
export interface ServedPage extends PageStructure {
  pageId: string;
  source: string;
  ordinal: number;
  tokens: number;
  level: Level;
  pinned: boolean;
  lines: [number, number];
  /** The page in full, or its summary; `tokens` counts what was served. */
  resolution: Resolution;
  score?: number;
  text?: string;
  sentSecondsAgo?: number;
  /** Set when the page is only an earlier version's (see PageEntry.supersededBy). */
  supersededBy?: Superseded;
}

/** L1 pressure, carried by every tool result. */
export interface Pressure {
  used: number;
  budget: number;
  pages: number;
}

export interface PagingResult {
  pages: ServedPage[];
  /** Pages pushed out of L1 to make room. */
  evicted: Handle[];
  /** Pages that were asked for (or ranked) but did not fit; each handle says how to get it. */
  skipped: Handle[];
  l1: Pressure;
}

export function pressureOf(session: Session): Pressure {
  return { used: session.l1.usedTokens, budget: session.l1.budget, pages: session.l1.list().length };
}

/**
 * The handle an evicted or skipped page leaves: id, origin, size, gist, how to load it. A page another process
 * forgot a moment ago (this one drops it from L1 at its next look) says so instead.
 */
export function handleIn(table: PageTable, pageId: string): Handle {
  const e = table.get(pageId);
  if (e) return handleOf(e, e.gist, e.summary, e.supersededBy);
  const gone = table.dropped(pageId);
  return {
    pageId,
    source: gone?.source ?? '',
    ordinal: 0,
    tokens: 0,
    gist: `(${gone?.reason ?? 'forgotten'}: no longer in the store)`,
    reload: '',
  };
}

/** A page as served at `resolution` from `level`, with its text unless it is left out. */
export function servedPage(
  e: PageEntry,
  level: Level,
  pinned: boolean,
  text: string | undefined,
  resolution: Resolution,
): ServedPage {
  const tokens = resolution === 'summary' ? e.summary!.tokens : e.tokens;
  return {
    pageId: e.id,
    source: e.source,
    ordinal: e.ordinal,
    tokens,
    level,
    pinned,
    lines: [e.lineStart, e.lineEnd],
    ...structureOf(e),
    resolution,
    ...(text !== undefined ? { text } : {}),
    ...(e.supersededBy ? { supersededBy: e.supersededBy } : {}),
  };
}

/** Levels that hold each page right now, as seen from a session; one L2 round trip for all of them. */
export async function levelsOf(
  table: PageTable,
  l2: L2Store,
  session: Session | undefined,
  pageIds: string[],
): Promise<Level[][]> {
  const inL2 = await l2.hasMany(pageIds);
  return pageIds.map((id, i) => {
    const e = table.get(id);
    if (!e) return [];
    const levels: Level[] = [];
    if (session?.l1.has(id)) levels.push('L1');
    if (inL2[i]) levels.push('L2');
    if (e.indexed) levels.push('L3');
    if (e.stored) levels.push('L4');
    return levels;
  });
}
