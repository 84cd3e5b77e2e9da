/**
 * The one wait of the tests: polls until a condition holds, for what arrives in the background (a summary,
 * a notification, another process's write, a reconnect). Never a wait for a duration: a test that needs time
 * to pass moves a clock (helpers.ts: fakeClock, manualTimers).
 */
export interface WaitOptions {
  /** Fail after this long. Default 10 s. */
  timeoutMs?: number;
  /** Between polls. Default 20 ms. */
  intervalMs?: number;
}

/** Resolves with `cond`'s first truthy value (sync or async), polling; fails after `timeoutMs`, naming `what`. */
export async function waitFor<T>(
  cond: () => T | Promise<T>,
  what: string,
  { timeoutMs = 10_000, intervalMs = 20 }: WaitOptions = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await cond();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
