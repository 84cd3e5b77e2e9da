import type { Networked } from './tiers/status.js';

/** One backend of a level, as `/healthz` reports it. */
export interface LevelState {
  /** L1–L4, `page table` (its log on the shared Redis), or `catalog` (the directory of servers on that Redis). */
  level: string;
  /** The backend's name: memory, redis, embedded, chroma, fs, s3, … */
  backend: string;
  up: boolean;
  /** When it was last seen changing state (ISO 8601); the watch's start when it never changed since. */
  since: string;
  /** Whether this server can serve without it: no for L4 and the shared page table. */
  required: boolean;
}

export interface Readiness {
  /** ok: every level up; degraded: a level it can do without is down; unavailable: a required one is. */
  status: 'ok' | 'degraded' | 'unavailable';
  /** 503 when unavailable, so a load balancer takes this server out until it is back; else 200. */
  httpStatus: 200 | 503;
  levels: LevelState[];
}

/** A backend to watch: `required` when the server cannot serve without it. */
export interface Watched {
  level: string;
  store: Networked;
  required: boolean;
}

/**
 * Follows each backend's transitions (their `onStatus`) to say since when it is up or down. The current state is
 * read from `available()` at each report, which is the truth; a backend without `available()` (a local one:
 * files, the in-process map) is always up.
 */
export class LevelWatch {
  private readonly since: number[];
  private readonly seen: boolean[];
  private readonly unsubscribe: (() => void)[] = [];

  constructor(
    private readonly watched: Watched[],
    private readonly now: () => number = Date.now,
  ) {
    const start = now();
    this.since = watched.map(() => start);
    this.seen = watched.map((w) => this.upNow(w));
    watched.forEach((w, i) => {
      const off = w.store.onStatus?.((up) => this.record(i, up));
      if (off) this.unsubscribe.push(off);
    });
  }

  private upNow(w: Watched): boolean {
    return w.store.available?.() ?? true;
  }

  private record(i: number, up: boolean): void {
    if (this.seen[i] === up) return;
    this.seen[i] = up;
    this.since[i] = this.now();
  }

  report(): Readiness {
    const levels = this.watched.map((w, i) => {
      // A transition not heard of (a backend that reports none) is dated when first noticed here.
      this.record(i, this.upNow(w));
      return {
        level: w.level,
        backend: w.store.name,
        up: this.seen[i]!,
        since: new Date(this.since[i]!).toISOString(),
        required: w.required,
      };
    });
    const down = levels.filter((l) => !l.up);
    const status = down.some((l) => l.required) ? 'unavailable' : down.length ? 'degraded' : 'ok';
    return { status, httpStatus: status === 'unavailable' ? 503 : 200, levels };
  }

  close(): void {
    for (const off of this.unsubscribe) off();
  }
}
