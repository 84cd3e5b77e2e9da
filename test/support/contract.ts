import type { TestContext } from 'node:test';
import type { L2Store } from '../../src/tiers/l2/store.ts';

/**
 * Runs one contract test against a backend: skips visibly when the backend is unavailable here,
 * otherwise makes a fresh, isolated instance and always cleans it up.
 */
export async function withHarness<H extends { cleanup(): Promise<void> }>(
  t: TestContext,
  make: () => Promise<H>,
  skipReason: (() => string | undefined) | undefined,
  fn: (h: H) => Promise<void>,
): Promise<void> {
  const reason = skipReason?.();
  if (reason) {
    t.skip(reason);
    return;
  }
  const h = await make();
  try {
    await fn(h);
  } finally {
    await h.cleanup();
  }
}

/** Whether an L2 store holds one page (the store answers for many at once). */
export async function holds(store: L2Store, id: string): Promise<boolean> {
  const [held] = await store.hasMany([id]);
  return held!;
}
