import { type FSWatcher, watch } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename, join, relative, resolve, sep } from 'node:path';
import ignore, { type Ignore } from 'ignore';
import { InputError } from './errors.js';
import { readSourceFiles, SKIP_DIRS, sourceFiles } from './ingest/sources.js';
import type { Pager } from './pager.js';

/** What a watch did, one event per file. */
export type WatchEvent =
  | { kind: 'ingested'; source: string; documentId: string; pages: number; newPages: number }
  | { kind: 'forgotten'; source: string; pages: number }
  | { kind: 'failed'; source: string; error: unknown };

export interface WatchOptions {
  /** gitignore-style patterns left out besides the directory's `.gitignore` (VMEM_WATCH_IGNORE). */
  ignore?: readonly string[];
  /** Quiet time after a file's last change before it is ingested: an editor's save is several writes. */
  debounceMs?: number;
  onEvent?: (e: WatchEvent) => void;
}

/** A running watch: `idle` resolves once every change seen so far is ingested or forgotten. */
export interface Watch {
  idle(): Promise<void>;
  close(): Promise<void>;
}

/** Long enough to take a save (write, rename, chmod) as one change, short enough to feel immediate. */
const DEFAULT_DEBOUNCE_MS = 300;

/**
 * Keeps a directory's documents current: first ingests every file under it, then, on each change, ingests
 * new and changed files (a changed one supersedes its previous version) and forgets deleted ones, each once
 * its changes have settled. Files are named as `vmem ingest <dir>` names them (`<dir name>/<relative path>`),
 * so a watch and a plain ingest of the same directory update the same sources. Left out: what `.gitignore`
 * (the directory's own) and `ignore` match, dot-files and dependency folders, as ingest leaves them out.
 * Uses fs.watch with `recursive`, which Node ≥ 20 has on Linux, macOS and Windows.
 */
export async function watchDirectory(pager: Pager, dir: string, opts: WatchOptions = {}): Promise<Watch> {
  const root = resolve(dir);
  const info = await stat(root).catch(() => undefined);
  if (!info?.isDirectory()) throw new InputError('watch', `${dir} is not a directory; pass a directory to watch`);
  const debounceMs = opts.debounceMs ?? DEFAULT_DEBOUNCE_MS;
  const emit = opts.onEvent ?? (() => {});
  const sourceOf = (rel: string) => join(basename(root), rel);
  let matcher = await ignoreRules(root, opts.ignore ?? []);
  const ignored = (rel: string) =>
    rel.split(sep).some((part) => part.startsWith('.') || SKIP_DIRS.has(part)) || matcher.ignores(rel);

  const dirty = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let running = Promise.resolve();
  let closed = false;

  /** Brings one file's source in line with the disk: ingested if it is there, forgotten if it is not. */
  const settle = async (rel: string) => {
    const source = sourceOf(rel);
    const path = join(root, rel);
    try {
      const st = await stat(path).catch(() => undefined);
      if (st?.isFile()) {
        const { docs } = await readSourceFiles([{ path, source, bytes: st.size }], pager.config.maxIngestBytes);
        for (const r of docs.length ? await pager.ingest(docs) : [])
          emit({ kind: 'ingested', source, documentId: r.documentId, pages: r.pages, newPages: r.newPages });
      } else if (!st && pager.table.versionsOf(source).length) {
        const r = await pager.forget(source, 'watch');
        emit({ kind: 'forgotten', source, pages: r.pagesRemoved });
      }
    } catch (error) {
      emit({ kind: 'failed', source, error });
    }
  };

  const flush = () => {
    timer = undefined;
    const batch = [...dirty];
    dirty.clear();
    running = running.then(async () => {
      if (batch.includes('.gitignore')) matcher = await ignoreRules(root, opts.ignore ?? []);
      for (const rel of batch) if (!closed && !ignored(rel)) await settle(rel);
    });
  };

  // Everything there now first, as `vmem ingest <dir>` would (each file its own change, so one bad file
  // does not stop the rest).
  const { files } = await sourceFiles(root);
  for (const f of files) {
    const rel = relative(root, f.path);
    if (!ignored(rel)) await settle(rel);
  }
  // Then the files deleted while no watch ran: the store's sources under this directory whose file is gone.
  for (const rel of await storedPaths(pager, basename(root)))
    if (!(await stat(join(root, rel)).catch(() => undefined))) await settle(rel);

  const watcher: FSWatcher = watch(root, { recursive: true }, (_event, name) => {
    if (closed || !name) return;
    dirty.add(String(name));
    if (timer) clearTimeout(timer);
    timer = setTimeout(flush, debounceMs);
  });
  watcher.on('error', (error) => emit({ kind: 'failed', source: basename(root), error }));

  return {
    idle: async () => {
      for (;;) {
        const seen = running;
        await seen;
        if (!timer && seen === running) return;
        await new Promise((r) => setTimeout(r, debounceMs));
      }
    },
    close: async () => {
      closed = true;
      if (timer) clearTimeout(timer);
      watcher.close();
      await running;
    },
  };
}

/** Sources per read of the page table while looking for a directory's. */
const SOURCES_PER_READ = 500;

/** The paths, relative to the directory, of the sources the store holds under `<name>/`, as a watch names them. */
async function storedPaths(pager: Pager, name: string): Promise<string[]> {
  const prefix = `${name}${sep}`;
  const out: string[] = [];
  // Sources list in order, so those under the prefix are one run after it.
  for (let after = prefix; ; ) {
    const batch = pager.table.sources({ after, limit: SOURCES_PER_READ });
    for (const s of batch) {
      if (!s.source.startsWith(prefix)) return out;
      out.push(s.source.slice(prefix.length));
    }
    if (batch.length < SOURCES_PER_READ) return out;
    after = batch.at(-1)!.source;
    await new Promise((r) => setImmediate(r));
  }
}

/** The directory's `.gitignore` (if any) and the extra patterns, as one matcher of paths relative to it. */
async function ignoreRules(root: string, extra: readonly string[]): Promise<Ignore> {
  const gitignore = await readFile(join(root, '.gitignore'), 'utf8').catch(() => '');
  return ignore()
    .add(gitignore)
    .add([...extra]);
}
