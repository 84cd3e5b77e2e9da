import { getDocumentProxy } from 'unpdf';
import type { Heading } from '../core/structure.js';
import { headingTitle, MAX_BREADCRUMB_DEPTH } from '../core/structure.js';
import { type DocumentText, UnreadableFile } from './formats.js';

type PdfDocument = Awaited<ReturnType<typeof getDocumentProxy>>;
type OutlineItem = Awaited<ReturnType<PdfDocument['getOutline']>>[number];

/** PDF pages are joined by a blank line: a paragraph boundary, so the chunker may cut between two of them. */
const PAGE_SEPARATOR = '\n\n';
/** Outline entries read at most: a bookmark per paragraph is no table of contents. */
const MAX_OUTLINE_ENTRIES = 5000;

/**
 * The text layer of a PDF, page by page, with the offset at which each page starts (so every vmem page knows
 * its PDF pages) and the outline's entries as headings when it has one. A PDF that needs a password, has no
 * text layer, or cannot be parsed is an UnreadableFile saying so and what to do.
 */
export async function pdfText(bytes: Uint8Array, path: string): Promise<DocumentText> {
  let pdf: PdfDocument;
  try {
    // verbosity 0: pdf.js writes its warnings to stdout, which belongs to the protocol in stdio mode.
    pdf = await getDocumentProxy(bytes, { verbosity: 0 });
  } catch (err) {
    const name = (err as Error)?.name;
    if (name === 'PasswordException')
      throw new UnreadableFile(
        path,
        'is an encrypted PDF that needs a password',
        'decrypt it first (e.g. qpdf --decrypt --password=… in.pdf out.pdf) and ingest the copy',
      );
    throw new UnreadableFile(
      path,
      `is not a readable PDF (${(err as Error)?.message ?? String(err)})`,
      'check that the file is complete and opens in a PDF viewer',
    );
  }
  try {
    const pageStarts: number[] = [];
    let text = '';
    for (let n = 1; n <= pdf.numPages; n++) {
      const page = await pdf.getPage(n);
      const content = await page.getTextContent();
      page.cleanup();
      let pageText = '';
      for (const item of content.items) if ('str' in item) pageText += item.str + (item.hasEOL ? '\n' : '');
      if (n > 1) text += PAGE_SEPARATOR;
      pageStarts.push(text.length);
      text += tidy(pageText);
    }
    if (!text.trim())
      throw new UnreadableFile(
        path,
        `has no text layer (${pdf.numPages} page(s) of images only, e.g. a scan)`,
        'run OCR on it first (e.g. ocrmypdf in.pdf out.pdf) and ingest the result',
      );
    const headings = await outlineHeadings(pdf, text, pageStarts);
    return { text, pdfPageStarts: pageStarts, headings };
  } finally {
    await pdf.destroy();
  }
}

/** A page's text with runs of blanks made one space and no blank at the ends of lines. */
function tidy(pageText: string): string {
  return pageText
    .replace(/[^\S\n]+/g, ' ')
    .replace(/ ?\n ?/g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/**
 * The outline (bookmarks) as headings, each placed where its title appears on its target page, else at that
 * page's start. Entries whose target cannot be resolved are left out; a damaged outline gives no headings.
 */
async function outlineHeadings(pdf: PdfDocument, text: string, pageStarts: number[]): Promise<Heading[]> {
  const outline = await pdf.getOutline().catch(() => null);
  if (!outline?.length) return [];
  const headings: Heading[] = [];
  const visit = async (items: OutlineItem[], level: number): Promise<void> => {
    for (const item of items) {
      if (headings.length >= MAX_OUTLINE_ENTRIES) return;
      const page = await targetPage(pdf, item.dest).catch(() => undefined);
      const title = headingTitle(item.title ?? '');
      if (page !== undefined && page < pageStarts.length && title) {
        const start = pageStarts[page]!;
        const end = pageStarts[page + 1] ?? text.length;
        const found = text.slice(start, end).toLowerCase().indexOf(title.toLowerCase());
        headings.push({ level, title, at: found >= 0 ? start + found : start });
      }
      if (item.items?.length && level < MAX_BREADCRUMB_DEPTH) await visit(item.items, level + 1);
    }
  };
  await visit(outline, 1);
  return headings;
}

/** The 0-based page an outline entry points to: a named destination is looked up first. */
async function targetPage(pdf: PdfDocument, dest: OutlineItem['dest']): Promise<number | undefined> {
  const explicit = typeof dest === 'string' ? await pdf.getDestination(dest) : dest;
  const ref = explicit?.[0];
  if (ref === undefined || ref === null) return undefined;
  if (typeof ref === 'number') return ref; // some writers give the page index itself
  return pdf.getPageIndex(ref as Parameters<PdfDocument['getPageIndex']>[0]);
}
