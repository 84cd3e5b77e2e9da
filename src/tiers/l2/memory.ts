import { LRUCache } from 'lru-cache';
import type { Clock, L2Store } from './store.js';

/** Bytes a page may hold on average before the byte bound, not the page bound, drops entries. */
const BYTES_PER_PAGE = 64 * 1024;

/**
 * The embedded L2: an in-process LRU cache (lru-cache) with a TTL per entry, bounded both in pages and in
 * bytes (the UTF-16 size of ids and texts, what the heap holds). When full it drops the least recently used
 * entries, as Redis does with `allkeys-lru`.
 */
export class MemoryL2 implements L2Store {
  readonly name = 'memory';
  private readonly cache: LRUCache<string, string>;

  /** `now`: milliseconds, injectable so that TTL tests need no sleeps; `maxBytes`: 64 KiB a page by default. */
  constructor(maxPages: number, now: Clock = () => performance.now(), maxBytes = maxPages * BYTES_PER_PAGE) {
    this.cache = new LRUCache<string, string>({
      max: maxPages,
      maxSize: maxBytes,
      sizeCalculation: (value, id) => 2 * (value.length + id.length),
      // lru-cache takes a start of 0 for "no TTL": a clock that may read 0 (a test's) is moved off it.
      perf: { now: () => now() + 1 },
      // Read the clock at every check (no cached reading), so that an injected clock is obeyed at once.
      ttlResolution: 0,
    });
  }

  /** lru-cache expires an entry once its age exceeds its ttl; an L2 entry (as a Redis key) expires at its TTL. */
  private static ttlOf(ttlSeconds: number): number {
    return ttlSeconds * 1000 - 1;
  }

  async getMany(ids: string[], ttlSeconds?: number): Promise<(string | undefined)[]> {
    return ids.map((id) => {
      const value = this.cache.get(id);
      // A read is a use: it made the entry the most recent; with a TTL it also starts the entry's TTL again.
      if (value !== undefined && ttlSeconds !== undefined)
        this.cache.set(id, value, { ttl: MemoryL2.ttlOf(ttlSeconds) });
      return value;
    });
  }

  async setMany(entries: { id: string; value: string }[], ttlSeconds: number): Promise<void> {
    const ttl = MemoryL2.ttlOf(ttlSeconds);
    for (const { id, value } of entries) this.cache.set(id, value, { ttl });
  }

  async hasMany(ids: string[]): Promise<boolean[]> {
    // has() is no use: recency stays as it is.
    return ids.map((id) => this.cache.has(id));
  }

  async deleteMany(ids: string[]): Promise<void> {
    for (const id of ids) this.cache.delete(id);
  }

  /** Entries held, including expired ones not yet dropped (they go lazily, on access or when full). */
  size(): number {
    return this.cache.size;
  }

  /** Bytes held (the UTF-16 size of ids and texts). */
  bytes(): number {
    return this.cache.calculatedSize;
  }

  async close(): Promise<void> {
    this.cache.clear();
  }
}
