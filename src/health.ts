import type { Level } from './core/page.js';
import type { Networked } from './tiers/status.js';

/** What can be unreachable: a networked level, or the page table shared over the network (VMEM_CATALOG_URL). */
export type Part = Level | 'page table';

/** A level behind a network or a service, and whether vmem can serve without it (`required`: it cannot). */
export interface Backend {
  level: Part;
  store: Networked;
  required: boolean;
}

/**
 * The store's backends, one list for the outage reports, `Pager.outages` and `/healthz`: without L2 pages come
 * from L4, without L3's Chroma or embeddings endpoint ranking is lexical; without L4 (the pages) or the shared page
 * table (which pages exist) nothing can be served.
 */
export function backendsOf(levels: {
  l2: Networked;
  l3: L3Parts;
  l4: Networked;
  sharedPageTable?: Networked;
}): Backend[] {
  const { l2, l3, l4, sharedPageTable } = levels;
  const shared: Backend[] = sharedPageTable ? [{ level: 'page table', store: sharedPageTable, required: true }] : [];
  return [
    { level: 'L2', store: l2, required: false },
    ...[l3, ...(l3.within?.() ?? [])].map((store): Backend => ({ level: 'L3', store, required: false })),
    { level: 'L4', store: l4, required: true },
    ...shared,
  ];
}

/** L3 and the networked parts inside it (the hybrid's embedded side). */
type L3Parts = Networked & { within?(): Networked[] };

/** A change in a networked level's reachability. */
export interface Health {
  level: Part;
  up: boolean;
  message: string;
}

/** What vmem does without each networked level. */
const MEANWHILE: Partial<Record<Part, string>> = {
  L2: 'pages are served from L4',
  L3: 'page_fault ranks with the local lexical index alone, and pages indexed meanwhile are added once it is back',
  L4: 'pages cached in L2 are still served; other pages and ingest wait for it',
  'page table':
    "the pages this node knows are served; ingest, forget and summaries wait for it, and other nodes' changes arrive once it is back",
};

/** The message for a networked level going down (with its error) or coming back. */
export function healthOf(level: Part, backend: string, up: boolean, err?: Error): Health {
  const name = level === 'page table' ? 'the shared page table' : level;
  const message = up
    ? `${name} (${backend}) is reachable again; serving from it`
    : `${name} (${backend}) is unreachable${err ? ` (${err.message})` : ''}; ${MEANWHILE[level] ?? 'serving from the levels below it'} while vmem reconnects`;
  return { level, up, message };
}

/** Backends unreachable right now. */
export function outagesOf(backends: Backend[]): Health[] {
  return backends.flatMap(({ level, store }) =>
    store.available && !store.available() ? [healthOf(level, store.name, false)] : [],
  );
}

/** Reports each outage and recovery of a networked level once, to `report` and on stderr (an outage at start too). */
export function watchHealth(level: Part, store: Networked, report: (health: Health) => void): void {
  if (!store.onStatus) return;
  const changed = (up: boolean, err?: Error) => {
    const health = healthOf(level, store.name, up, err);
    console.error(`vmem: ${health.message}`);
    report(health);
  };
  store.onStatus(changed);
  if (store.available && !store.available()) changed(false);
}
