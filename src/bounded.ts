/**
 * `fn` of every item, in the order of `items`, with at most `limit` running at once: enough to overlap the
 * waits of I/O, few enough that a batch of any size stays within a process's open files and a server's
 * connection limits. The first failure rejects the whole; the workers then take no new item.
 */
export async function mapBounded<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async () => {
    for (let i = next++; i < items.length && !failed; i = next++) {
      try {
        out[i] = await fn(items[i]!);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
