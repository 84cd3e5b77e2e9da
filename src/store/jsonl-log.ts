import { mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { syncDir } from './atomic-file.js';
import { withFileLock } from './file-lock.js';

/**
 * An append-only JSON-lines file that several processes share: appends are serialised by a file
 * lock, and each process follows the others' appends by reading from its last offset. Readers
 * only take complete lines; a line torn by a crash is skipped (the next writer first ends it).
 */
export class JsonlLog<T> {
  private offset = 0;
  private timer: NodeJS.Timeout | undefined;
  private reading: Promise<T[]> | undefined;

  /** `tmpDir`: where its lock is written before it is linked into place (see withFileLock). */
  constructor(
    readonly path: string,
    private readonly tmpDir: string,
  ) {}

  /** Records appended since the last read (all of them on the first call), by any process. */
  async read(): Promise<T[]> {
    // One read at a time, so the offset never goes backwards.
    this.reading ??= this.readNew().finally(() => (this.reading = undefined));
    return this.reading;
  }

  private async readNew(): Promise<T[]> {
    const fh = await open(this.path, 'r').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    if (!fh) return [];
    try {
      const { size } = await fh.stat();
      if (size <= this.offset) return [];
      const buf = Buffer.alloc(size - this.offset);
      const { bytesRead } = await fh.read(buf, 0, buf.length, this.offset);
      const end = buf.lastIndexOf(0x0a, bytesRead - 1);
      if (end < 0) return [];
      this.offset += end + 1;
      const records: T[] = [];
      for (const line of buf.subarray(0, end).toString('utf8').split('\n')) {
        if (!line) continue;
        try {
          records.push(JSON.parse(line) as T);
        } catch {
          // a line torn by a crash: what it recorded is redone by its writer's next run, or reindex
        }
      }
      return records;
    } finally {
      await fh.close();
    }
  }

  /** Appends records durably (fsync) under the lock. */
  async append(records: T[]): Promise<void> {
    if (!records.length) return;
    await mkdir(dirname(this.path), { recursive: true });
    const body = `${records.map((r) => JSON.stringify(r)).join('\n')}\n`;
    await withFileLock(
      `${this.path}.lock`,
      async () => {
        const fh = await open(this.path, 'a+');
        try {
          const { size } = await fh.stat();
          let prefix = '';
          if (size > 0) {
            const last = Buffer.alloc(1);
            await fh.read(last, 0, 1, size - 1);
            if (last[0] !== 0x0a) prefix = '\n'; // end a torn line so it cannot swallow this record
          }
          await fh.writeFile(prefix + body, 'utf8');
          await fh.sync();
          if (size === 0) await syncDir(dirname(this.path)); // the log's own entry, when this append made it
        } finally {
          await fh.close();
        }
      },
      { tmpDir: this.tmpDir },
    );
  }

  /** Calls `onRecords` with other processes' (and this one's) appends as they arrive, polling every `intervalMs`. */
  follow(onRecords: (records: T[]) => void, intervalMs = 250): void {
    this.unfollow();
    const tick = async () => {
      try {
        const records = await this.read();
        if (records.length) onRecords(records);
      } catch (err) {
        console.error(`vmem: reading ${this.path} failed:`, err);
      }
    };
    this.timer = setInterval(() => void tick(), intervalMs);
    this.timer.unref();
  }

  unfollow(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
