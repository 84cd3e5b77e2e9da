import type { Clock, L2Store } from './store.js';

/**
 * The embedded L2: an in-process map with TTL and a size bound. Map order doubles as recency, so
 * when full it drops the least recently used entry (Redis with `allkeys-lru` behaves the same way).
 */
export class MemoryL2 implements L2Store {
  readonly name = 'memory';
  private readonly entries = new Map<string, { value: string; expires: number }>();

  constructor(
    private readonly maxEntries: number,
    private readonly now: Clock = () => performance.now(),
  ) {}

  private live(id: string): { value: string; expires: number } | undefined {
    const e = this.entries.get(id);
    if (!e) return undefined;
    if (e.expires <= this.now()) {
      this.entries.delete(id);
      return undefined;
    }
    return e;
  }

  async getMany(ids: string[], ttlSeconds?: number): Promise<(string | undefined)[]> {
    const expires = ttlSeconds === undefined ? undefined : this.now() + ttlSeconds * 1000;
    return ids.map((id) => {
      const e = this.live(id);
      if (e) {
        this.entries.delete(id);
        this.entries.set(id, e);
        if (expires !== undefined) e.expires = expires;
      }
      return e?.value;
    });
  }

  async setMany(entries: { id: string; value: string }[], ttlSeconds: number): Promise<void> {
    const expires = this.now() + ttlSeconds * 1000;
    for (const { id, value } of entries) {
      this.entries.delete(id);
      this.entries.set(id, { value, expires });
    }
    for (const id of this.entries.keys()) {
      if (this.entries.size <= this.maxEntries) break;
      this.entries.delete(id);
    }
  }

  async hasMany(ids: string[]): Promise<boolean[]> {
    return ids.map((id) => this.live(id) !== undefined);
  }

  /** Entries held, including expired ones not yet dropped (they go lazily, on access or when full). */
  size(): number {
    return this.entries.size;
  }

  async close(): Promise<void> {
    this.entries.clear();
  }
}
