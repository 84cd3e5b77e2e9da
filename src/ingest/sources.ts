import { open, readdir, stat } from 'node:fs/promises';
import { basename, join, relative, resolve } from 'node:path';
import { InputError } from '../errors.js';

/** A text document read from disk, named relative to what the user passed. */
export interface SourceFile {
  source: string;
  text: string;
}

/** Directories never worth paging: dependencies, build output, VCS internals. */
export const SKIP_DIRS: ReadonlySet<string> = new Set([
  'node_modules',
  '.git',
  '.hg',
  '.svn',
  'dist',
  'build',
  'target',
  '__pycache__',
  '.venv',
  'venv',
]);

/** A file is text if its first 8 KiB hold no NUL byte and decode as UTF-8. */
function looksLikeText(head: Buffer): boolean {
  if (head.includes(0)) return false;
  const decoded = new TextDecoder('utf-8', { fatal: false }).decode(head);
  // Allow a multi-byte character cut at the 8 KiB mark; anything else that is not UTF-8 is binary.
  const bad = (decoded.match(/\uFFFD/g) ?? []).length;
  return bad <= 1;
}

async function readText(path: string, maxBytes: number): Promise<string | undefined> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    const head = Buffer.alloc(Math.min(size, 8192));
    await fh.read(head, 0, head.length, 0);
    if (!looksLikeText(head)) return undefined;
    if (size > maxBytes)
      throw new InputError(
        'path',
        `${path} is ${size} bytes, over the ${maxBytes}-byte limit per file; split it or raise VMEM_MAX_INGEST_BYTES`,
      );
    return (await fh.readFile('utf8')).replace(/^\uFEFF/, '');
  } finally {
    await fh.close();
  }
}

/** A file to page, found under what the user passed: its path, its name as a source, its size. */
export interface SourceEntry {
  path: string;
  source: string;
  bytes: number;
}

/**
 * The files `path` names: itself, or every file under a directory (recursively, in name order,
 * skipping hidden and dependency folders). Nothing is read yet, so a caller can page a large tree a
 * group of files at a time. Errors name the path and what to do.
 */
export async function sourceFiles(path: string): Promise<{ files: SourceEntry[]; single: boolean }> {
  const abs = resolve(path);
  const info = await stat(abs).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT')
      throw new InputError('path', `${path} does not exist; pass an existing file or directory`);
    if (err.code === 'EACCES') throw new InputError('path', `${path} is not readable (permission denied)`);
    throw err;
  });
  if (info.isFile()) return { files: [{ path: abs, source: basename(abs), bytes: info.size }], single: true };
  if (!info.isDirectory()) throw new InputError('path', `${path} is neither a file nor a directory`);
  const out: SourceEntry[] = [];
  const walk = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true });
    entries.sort((a, b) => a.name.localeCompare(b.name));
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const full = join(dir, e.name);
      if (e.isDirectory()) {
        if (!SKIP_DIRS.has(e.name)) await walk(full);
      } else if (e.isFile()) {
        const bytes = await stat(full).then(
          (st) => st.size,
          () => 0,
        );
        out.push({ path: full, source: join(basename(abs), relative(abs, full)), bytes });
      }
    }
  };
  await walk(abs);
  return { files: out, single: false };
}

/**
 * Reads listed files as text: binary, empty and unreadable ones are left out and counted, except that
 * the file a path named itself must be text (`single`). A file over `maxBytes` is an error naming it.
 */
export async function readSourceFiles(
  files: readonly SourceEntry[],
  maxBytes: number,
  { single = false }: { single?: boolean } = {},
): Promise<{ docs: SourceFile[]; skipped: number }> {
  const docs: SourceFile[] = [];
  let skipped = 0;
  for (const f of files) {
    const text = await readText(f.path, maxBytes).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EACCES') throw err;
      if (single) throw new InputError('path', `${f.path} is not readable (permission denied)`);
      return undefined;
    });
    if (single && text === undefined)
      throw new InputError('path', `${f.path} is a binary file; vmem pages text, markdown and source code`);
    if (text === undefined || !text.trim()) skipped++;
    else docs.push({ source: f.source, text });
  }
  return { docs, skipped };
}

/** The error for a directory in which nothing could be paged. */
export function nothingToPage(path: string, skipped: number): InputError {
  return new InputError(
    'path',
    `${path} holds no readable text files (${skipped} binary, empty or unreadable files skipped); pass a directory of text, markdown or source code`,
  );
}

/** Reads a file, or every text file under a directory (see sourceFiles, readSourceFiles). */
export async function readSources(path: string, maxBytes: number): Promise<SourceFile[]> {
  const { files, single } = await sourceFiles(path);
  const { docs, skipped } = await readSourceFiles(files, maxBytes, { single });
  if (!docs.length) throw nothingToPage(path, skipped);
  return docs;
}
