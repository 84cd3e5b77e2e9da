import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';

/**
 * The records of a JSON-lines file, read a line at a time (it may be larger than memory). A line torn
 * by a crash is skipped: what it recorded was redone by its writer's next run, or by reindex. This is
 * how vmem reads the logs earlier versions kept (`catalog.jsonl`, `l3/embedded.jsonl`) to import them.
 */
export async function* jsonLines<T>(path: string): AsyncGenerator<T> {
  const lines = createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of lines) {
    if (!line) continue;
    try {
      yield JSON.parse(line) as T;
    } catch {
      // torn
    }
  }
}
