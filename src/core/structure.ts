import { clip } from './clip.js';

/**
 * Where a page sits in its document, beyond characters and lines: the headings above it (its breadcrumb)
 * and, for a PDF, the PDF pages it covers. Both are metadata: a page's id stays the hash of its text.
 */

/** A heading of a document: its depth (1 for `#`), its title, where it starts in the text. */
export interface Heading {
  level: number;
  title: string;
  at: number;
}

/** Heading titles longer than this are clipped: a breadcrumb is a pointer, not a summary. */
const TITLE_CHARS = 80;
/** Deeper headings are left out of a breadcrumb; Markdown has six levels, PDF outlines any number. */
export const MAX_BREADCRUMB_DEPTH = 6;

const ATX_HEADING = /^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$/;
const FENCE = /^ {0,3}(`{3,}|~{3,})/;

/** A heading title as plain words: inline links, emphasis and code marks dropped, clipped. */
export function headingTitle(raw: string): string {
  const plain = raw
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/[*_`]+/g, '')
    .replace(/\s+/g, ' ')
    .trim();
  return clip(plain, TITLE_CHARS);
}

/** The ATX (`#`) headings of Markdown text, outside fenced code blocks (where `#` starts a comment). */
export function markdownHeadings(text: string): Heading[] {
  const out: Heading[] = [];
  let fence: string | undefined;
  let at = 0;
  for (const line of text.split('\n')) {
    const f = FENCE.exec(line)?.[1];
    if (f && (!fence || (f[0] === fence[0] && f.length >= fence.length))) fence = fence ? undefined : f;
    else if (!fence) {
      const m = ATX_HEADING.exec(line);
      const title = m ? headingTitle(m[2]!) : '';
      if (m && title) out.push({ level: m[1]!.length, title, at });
    }
    at += line.length + 1;
  }
  return out;
}

/**
 * The breadcrumb in force at each offset (ascending): the titles of the headings that enclose it, outermost
 * first. A heading that starts exactly at an offset is part of it. One pass over headings and offsets.
 */
export function breadcrumbsAt(headings: readonly Heading[], offsets: readonly number[]): string[][] {
  const sorted = [...headings].sort((a, b) => a.at - b.at);
  const stack: Heading[] = [];
  let next = 0;
  return offsets.map((offset) => {
    for (; next < sorted.length && sorted[next]!.at <= offset; next++) {
      const h = sorted[next]!;
      while (stack.length && stack[stack.length - 1]!.level >= h.level) stack.pop();
      stack.push(h);
    }
    return stack.slice(0, MAX_BREADCRUMB_DEPTH).map((h) => h.title);
  });
}

/**
 * The PDF pages (1-based, first and last) that the characters [start, end) span, given the offset at
 * which each PDF page's text starts. A page without text starts where the next one does and is never named.
 */
export function pdfPagesOf(pageStarts: readonly number[], start: number, end: number): [number, number] {
  const pageAt = (offset: number): number => {
    let lo = 0;
    let hi = pageStarts.length - 1;
    // The last page starting at or before `offset`.
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (pageStarts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  };
  return [pageAt(start), pageAt(Math.max(start, end - 1))];
}

/** The structure a page may carry, as PageOrigin holds it. */
export interface PageStructure {
  pdfPages?: [number, number];
  breadcrumb?: string[];
}

/** The structure `s` has, without empty fields: what pages, handles and served pages carry. */
export function structureOf(s: PageStructure): PageStructure {
  return {
    ...(s.pdfPages ? { pdfPages: s.pdfPages } : {}),
    ...(s.breadcrumb?.length ? { breadcrumb: s.breadcrumb } : {}),
  };
}

/** "p. 4" or "pp. 12–13": how a citation names PDF pages. */
export function pdfPagesText([first, last]: [number, number]): string {
  return first === last ? `p. ${first}` : `pp. ${first}–${last}`;
}

/** "Part I › Methods": a breadcrumb on one line. */
export function breadcrumbText(breadcrumb: readonly string[]): string {
  return breadcrumb.join(' › ');
}

/**
 * Where a page is, for headers and handles: its PDF pages and its breadcrumb, each when it has one, joined
 * by ` · `; empty when it has neither (plain text before its first heading).
 */
export function whereText(s: PageStructure): string {
  const parts: string[] = [];
  if (s.pdfPages) parts.push(pdfPagesText(s.pdfPages));
  if (s.breadcrumb?.length) parts.push(breadcrumbText(s.breadcrumb));
  return parts.join(' · ');
}
