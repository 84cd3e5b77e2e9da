import { readdir, stat } from 'node:fs/promises';
import { basename, join, relative, resolve } from 'node:path';
import { InputError } from '../errors.js';
import { type DocumentText, readDocument, SUPPORTED, UnreadableFile } from './formats.js';

/**
 * A document to page, named relative to what the user passed: its text and, when its format has them, the
 * offsets of its PDF pages and its headings (undefined: found as Markdown headings in the text).
 */
export interface SourceFile extends DocumentText {
  source: string;
}

/** A file of a directory that was not paged, and why. */
export interface SkippedFile {
  source: string;
  reason: string;
}

/** Skipped files named in a report at most; the rest are counted. */
export const MAX_SKIPPED_NAMED = 20;

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
 * Reads listed files as documents (see formats.ts): files that cannot be paged (binary, empty, a PDF without
 * text, …) and unreadable ones are left out with the reason, except that the file a path named itself must be
 * readable (`single`): its problem is the caller's error. A file over `maxBytes` is an error naming it.
 */
export async function readSourceFiles(
  files: readonly SourceEntry[],
  maxBytes: number,
  { single = false }: { single?: boolean } = {},
): Promise<{ docs: SourceFile[]; skipped: SkippedFile[] }> {
  const docs: SourceFile[] = [];
  const skipped: SkippedFile[] = [];
  for (const f of files) {
    try {
      docs.push(await readDocument(f.path, f.source, maxBytes));
    } catch (err) {
      const denied = (err as NodeJS.ErrnoException).code === 'EACCES';
      if (single && denied) throw new InputError('path', `${f.path} is not readable (permission denied)`);
      if (single || !(denied || err instanceof UnreadableFile)) throw err;
      skipped.push({
        source: f.source,
        reason: err instanceof UnreadableFile ? err.reason : 'is not readable (permission denied)',
      });
    }
  }
  return { docs, skipped };
}

/** Skipped files as lines for a report: the first MAX_SKIPPED_NAMED named with their reasons, the rest counted. */
export function skippedLines(skipped: readonly SkippedFile[]): string[] {
  const lines = skipped.slice(0, MAX_SKIPPED_NAMED).map((s) => `- ${s.source} ${s.reason}`);
  if (skipped.length > MAX_SKIPPED_NAMED) lines.push(`- and ${skipped.length - MAX_SKIPPED_NAMED} more`);
  return lines;
}

/** The error for a directory in which nothing could be paged. */
export function nothingToPage(path: string, skipped: readonly SkippedFile[]): InputError {
  const named = skipped.length ? `:\n${skippedLines(skipped).join('\n')}\n` : '; ';
  return new InputError(
    'path',
    `${path} holds no readable text files (${skipped.length} binary, empty or unreadable files skipped)${named}pass a directory of ${SUPPORTED}`,
  );
}

/** Reads a file, or every readable file under a directory (see sourceFiles, readSourceFiles). */
export async function readSources(
  path: string,
  maxBytes: number,
): Promise<{ docs: SourceFile[]; skipped: SkippedFile[] }> {
  const { files, single } = await sourceFiles(path);
  const read = await readSourceFiles(files, maxBytes, { single });
  if (!read.docs.length) throw nothingToPage(path, read.skipped);
  return read;
}
