import { open } from 'node:fs/promises';
import { extname } from 'node:path';
import { type Heading, markdownHeadings } from '../core/structure.js';
import { InputError } from '../errors.js';
import type { SourceFile } from './sources.js';

/**
 * What vmem reads, told by content first (magic bytes), then by extension. Each format's extraction lives in
 * its own module, imported only when a file of that format comes: PDF, HTML and Word support load pdf.js,
 * a DOM and a zip reader, which a server that pages only text never needs.
 */
export type Format = 'text' | 'markdown' | 'html' | 'pdf' | 'docx' | 'notebook';

/** A document's text as an extractor gives it, with whatever structure the format holds outside the text. */
export interface DocumentText {
  text: string;
  /** For a PDF: the offset in `text` at which each PDF page starts (page 1 first). */
  pdfPageStarts?: number[];
  /** Headings the format holds outside the text (a PDF outline); Markdown headings are found in the text. */
  headings?: Heading[];
}

/**
 * A file vmem cannot page, and why: a directory's ingest skips it and names it with `reason`; a file named on
 * its own is the caller's error, with the fix.
 */
export class UnreadableFile extends InputError {
  constructor(
    readonly path: string,
    readonly reason: string,
    fix: string,
  ) {
    super('path', `${path} ${reason}; ${fix}`);
  }
}

/** What vmem pages, as its messages name it. */
export const SUPPORTED = 'text, Markdown, source code, PDF, HTML, Word .docx and Jupyter notebooks';

const HTML_EXTENSIONS = new Set(['.html', '.htm', '.xhtml']);
const MARKDOWN_EXTENSIONS = new Set(['.md', '.markdown', '.mdx', '.mdown', '.mkd', '.txt', '']);
/** Extensions that say nothing of the content: a saved web page under one of these is still HTML. */
const GENERIC_EXTENSIONS = new Set(['', '.txt', '.tmp', '.bak', '.out', '.dat']);
const HTML_START = /^(?:\s|<!--[\s\S]*?-->)*<(?:!doctype\s+html|html[\s>])/i;

const startsWith = (head: Buffer, magic: string) => head.subarray(0, magic.length).toString('latin1') === magic;

/** A file is text if its first 8 KiB hold no NUL byte and decode as UTF-8. */
function looksLikeText(head: Buffer): boolean {
  if (head.includes(0)) return false;
  const decoded = new TextDecoder('utf-8', { fatal: false }).decode(head);
  // Allow a multi-byte character cut at the 8 KiB mark; anything else that is not UTF-8 is binary.
  const bad = (decoded.match(/\uFFFD/g) ?? []).length;
  return bad <= 1;
}

/**
 * The format of a file from its first bytes and its name, or why it cannot be paged. A ZIP archive is told
 * apart later (see readDocument): its table of contents is at its end.
 */
export function formatOf(path: string, head: Buffer): Format | 'zip' | { reason: string; fix: string } {
  const ext = extname(path).toLowerCase();
  // PDF readers accept the header anywhere in the first KiB (some writers put junk before it).
  if (head.subarray(0, 1024).includes('%PDF-')) return 'pdf';
  if (startsWith(head, 'PK\x03\x04')) return 'zip';
  if (startsWith(head, '\xD0\xCF\x11\xE0'))
    return { reason: 'is a legacy Office file (.doc, .xls, .ppt)', fix: 'save it as .docx and ingest that' };
  if (!looksLikeText(head))
    return {
      reason: 'is a binary file',
      fix: `vmem pages ${SUPPORTED}`,
    };
  const start = head.toString('utf8').replace(/^\uFEFF/, '');
  if (HTML_EXTENSIONS.has(ext) || (GENERIC_EXTENSIONS.has(ext) && HTML_START.test(start))) return 'html';
  if (ext === '.ipynb') return 'notebook';
  return MARKDOWN_EXTENSIONS.has(ext) ? 'markdown' : 'text';
}

/** The error for a file or its text over the byte limit: the whole ingest stops, as for any caller's mistake. */
function overLimit(path: string, what: string, bytes: number, maxBytes: number): InputError {
  return new InputError(
    'path',
    `${path}${what} is ${bytes} bytes, over the ${maxBytes}-byte limit per file; split it or raise VMEM_MAX_INGEST_BYTES`,
  );
}

/**
 * Reads one file as a document to page: text as it is, other formats through their extractor. The byte
 * limit applies to the file and to the text taken from it. A file that cannot be paged is an UnreadableFile.
 */
export async function readDocument(path: string, source: string, maxBytes: number): Promise<SourceFile> {
  const fh = await open(path, 'r');
  let bytes: Buffer;
  let format: ReturnType<typeof formatOf>;
  try {
    const { size } = await fh.stat();
    const head = Buffer.alloc(Math.min(size, 8192));
    await fh.read(head, 0, head.length, 0);
    format = formatOf(path, head);
    if (typeof format === 'object') throw new UnreadableFile(path, format.reason, format.fix);
    if (size > maxBytes) throw overLimit(path, '', size, maxBytes);
    bytes = await fh.readFile();
  } finally {
    await fh.close();
  }
  const doc = await extract(format, bytes, path);
  const textBytes = Buffer.byteLength(doc.text);
  if (textBytes > maxBytes) throw overLimit(path, "'s extracted text", textBytes, maxBytes);
  if (!doc.text.trim()) throw new UnreadableFile(path, 'is empty', 'add text to it, or leave it out');
  return { source, ...doc };
}

async function extract(format: Format | 'zip', bytes: Buffer, path: string): Promise<DocumentText> {
  switch (format) {
    case 'text':
      return { text: utf8(bytes), headings: [] };
    case 'markdown':
      return withMarkdownHeadings({ text: utf8(bytes) });
    case 'html':
      return withMarkdownHeadings((await import('./html.js')).htmlText(utf8(bytes)));
    case 'notebook':
      return withMarkdownHeadings((await import('./notebook.js')).notebookText(utf8(bytes), path));
    case 'pdf':
      return (await import('./pdf.js')).pdfText(new Uint8Array(bytes), path);
    case 'docx':
      return withMarkdownHeadings(await (await import('./docx.js')).docxText(bytes, path));
    case 'zip':
      // A .docx is a ZIP archive holding word/document.xml; its name is in the archive's directory.
      if (bytes.includes('word/document.xml')) return extract('docx', bytes, path);
      throw new UnreadableFile(path, 'is a ZIP archive, not a Word document', 'unpack it and ingest the folder');
  }
}

const utf8 = (bytes: Buffer): string => bytes.toString('utf8').replace(/^\uFEFF/, '');

function withMarkdownHeadings(doc: DocumentText): DocumentText {
  return { ...doc, headings: markdownHeadings(doc.text) };
}
