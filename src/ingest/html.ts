import { Readability } from '@mozilla/readability';
import { parseHTML } from 'linkedom';
import type { DocumentText } from './formats.js';
import { htmlToMarkdown } from './markdown.js';

/**
 * Elements that frame a page rather than say what it says, removed before Readability reads it: on a short page
 * Readability keeps the whole body. A header or footer inside the article (its title, its byline) stays.
 */
const BOILERPLATE = [
  'script, style, noscript, template, nav, aside, form',
  '[role="navigation"], [aria-hidden="true"], [id*="cookie"], [class*="cookie"]',
  'body > header, body > footer',
].join(', ');

type ParsedDocument = ReturnType<typeof parseHTML>['document'];

function withoutBoilerplate(html: string): ParsedDocument {
  const { document } = parseHTML(html);
  for (const el of document.querySelectorAll(BOILERPLATE)) el.remove();
  return document;
}

/**
 * A web page's main content as Markdown: Readability (Firefox's reader view) picks the article out of what
 * surrounds it (navigation, banners, sidebars, footers); its title becomes the top heading. A page in which
 * Readability finds no article keeps its body, without the boilerplate elements.
 */
export function htmlText(html: string): DocumentText {
  const article = new Readability(
    withoutBoilerplate(html) as unknown as ConstructorParameters<typeof Readability>[0],
  ).parse();
  let markdown = htmlToMarkdown(article?.content ?? '');
  let title = article?.title?.trim() ?? '';
  if (!markdown) {
    // Readability edits the document it reads: the fallback parses the page again.
    const whole = withoutBoilerplate(html);
    markdown = htmlToMarkdown(whole.body?.innerHTML ?? '');
    title = whole.title?.trim() ?? '';
  }
  // The title heads the document unless the article already opens with it as a heading.
  const opensWithTitle = title && new RegExp(`^#+[ \\t]+${escapeRegExp(title)}\\s*$`, 'm').test(markdown.slice(0, 500));
  return { text: title && !opensWithTitle ? `# ${title}\n\n${markdown}` : markdown };
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
