import { ExponentialBackoff, type IBackoff, noJitterGenerator } from 'cockatiel';

/**
 * The one retry policy of vmem (summaries, the hybrid L3's Chroma, Redis reconnects): wait `initialMs` after
 * the first failure, twice as long after each next one, at most `maxMs`; no jitter (a few processes per host,
 * not a fleet). The delays come from cockatiel's exponential backoff; when they run is up to `Timers`, which
 * tests replace with a clock they advance, so that no test sleeps through a backoff.
 */
export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
}

/** Schedules callbacks: the system's timers (unref'd: a pending retry never keeps vmem alive), or a test's. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

const backoffOf = (policy: BackoffPolicy): IBackoff<unknown> =>
  new ExponentialBackoff({
    generator: noJitterGenerator,
    initialDelay: policy.initialMs,
    maxDelay: policy.maxMs,
  }).next();

/** The delay before retry number `attempt` (1 for the retry after the first failure). */
export function delayOf(policy: BackoffPolicy, attempt: number): number {
  let b = backoffOf(policy);
  for (let i = 1; i < attempt && b.duration < policy.maxMs; i++) b = b.next(undefined);
  return b.duration;
}

/**
 * Retries of things named by a key (a page, a connection): each failure schedules the key's retry after the
 * next delay of its backoff, unless a retry is already scheduled; a success starts its backoff over.
 */
export class Retries<K = string> {
  private readonly backoffs = new Map<K, IBackoff<unknown>>();
  private readonly scheduled = new Map<K, unknown>();

  constructor(
    private readonly policy: BackoffPolicy,
    private readonly timers: Timers = systemTimers,
  ) {}

  /** Counts a failure of `key` and runs `retry` after its delay; returns the delay, or undefined when a retry was already scheduled. */
  failed(key: K, retry: () => void): number | undefined {
    if (this.scheduled.has(key)) return undefined;
    const last = this.backoffs.get(key);
    const backoff = last ? last.next(undefined) : backoffOf(this.policy);
    this.backoffs.set(key, backoff);
    const handle = this.timers.setTimeout(() => {
      this.scheduled.delete(key);
      retry();
    }, backoff.duration);
    this.scheduled.set(key, handle);
    return backoff.duration;
  }

  /** Forgets the key's failures: its next failure waits `initialMs` again. */
  succeeded(key: K): void {
    this.backoffs.delete(key);
  }

  /** Whether a retry of `key` is waiting for its time. */
  pending(key: K): boolean {
    return this.scheduled.has(key);
  }

  /** Cancels every scheduled retry and forgets all failures. */
  cancel(): void {
    for (const handle of this.scheduled.values()) this.timers.clearTimeout(handle);
    this.scheduled.clear();
    this.backoffs.clear();
  }
}
