import type { Networked } from '../status.js';

/**
 * L2, the hot page cache: page id → page text, with a TTL. Shared by sessions (and, on Redis, by
 * processes). A dumb store: when to refresh a TTL or warm an entry is the pager's decision.
 * A miss is `undefined`, never an exception.
 */
export interface L2Store extends Networked {
  /**
   * Values in the order of `ids`, in one round trip. With `ttlSeconds`, each hit's TTL is reset to it
   * in the same round trip: a read is a use.
   */
  getMany(ids: string[], ttlSeconds?: number): Promise<(string | undefined)[]>;
  /** Stores values with a TTL, in one round trip. */
  setMany(entries: { id: string; value: string }[], ttlSeconds: number): Promise<void>;
  /** Which of `ids` are held (and not expired), in one round trip. */
  hasMany(ids: string[]): Promise<boolean[]>;
  /** Drops entries (forgotten pages), in one round trip; an absent one is no error. */
  deleteMany(ids: string[]): Promise<void>;
  close(): Promise<void>;
}

/** Milliseconds since some fixed point; injectable so TTL tests need no sleeps. */
export type Clock = () => number;
