import { open, readdir, stat } from 'node:fs/promises';
import { basename, join, relative, resolve } from 'node:path';
import { InputError } from '../errors.js';

/** A text document read from disk, named relative to what the user passed. */
export interface SourceFile {
  source: string;
  text: string;
}

/** Directories never worth paging: dependencies, build output, VCS internals. */
const SKIP_DIRS = new Set([
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

/**
 * Reads a file, or every text file under a directory (recursively, skipping hidden and dependency
 * folders and binary files). Errors name the path and what to do.
 */
export async function readSources(path: string, maxBytes: number): Promise<SourceFile[]> {
  const abs = resolve(path);
  const info = await stat(abs).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT')
      throw new InputError('path', `${path} does not exist; pass an existing file or directory`);
    if (err.code === 'EACCES') throw new InputError('path', `${path} is not readable (permission denied)`);
    throw err;
  });
  if (info.isFile()) {
    const text = await readText(abs, maxBytes).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'EACCES') throw new InputError('path', `${path} is not readable (permission denied)`);
      throw err;
    });
    if (text === undefined)
      throw new InputError('path', `${path} is a binary file; vmem pages text, markdown and source code`);
    return [{ source: basename(abs), text }];
  }
  if (!info.isDirectory()) throw new InputError('path', `${path} is neither a file nor a directory`);

  const out: SourceFile[] = [];
  let skipped = 0;
  const walk = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true });
    entries.sort((a, b) => a.name.localeCompare(b.name));
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const full = join(dir, e.name);
      if (e.isDirectory()) {
        if (!SKIP_DIRS.has(e.name)) await walk(full);
      } else if (e.isFile()) {
        const text = await readText(full, maxBytes).catch((err: NodeJS.ErrnoException) => {
          if (err.code === 'EACCES') return undefined;
          throw err;
        });
        if (text === undefined || !text.trim()) skipped++;
        else out.push({ source: join(basename(abs), relative(abs, full)), text });
      }
    }
  };
  await walk(abs);
  if (!out.length) {
    throw new InputError(
      'path',
      `${path} holds no readable text files (${skipped} binary, empty or unreadable files skipped); pass a directory of text, markdown or source code`,
    );
  }
  return out;
}
