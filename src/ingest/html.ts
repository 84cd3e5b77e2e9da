import { Readability } from '@mozilla/readability';
import { parseHTML } from 'linkedom';
import type { DocumentText } from './formats.js';
import { htmlToMarkdown } from './markdown.js';

/** Elements that frame a page rather than say what it says: left out when Readability finds no article. */
const BOILERPLATE =
  'script, style, noscript, template, nav, header, footer, aside, form, [role=navigation], [aria-hidden=true]';

/**
 * A web page's main content as Markdown: Readability (Firefox's reader view) picks the article out of
 * navigation, footers, sidebars and scripts; its title becomes the top heading. A page too short or too
 * unusual for Readability keeps its body without the usual boilerplate elements.
 */
export function htmlText(html: string): DocumentText {
  const { document } = parseHTML(html);
  // Readability edits the document it reads: the fallback works on a second parse.
  const article = new Readability(document as unknown as ConstructorParameters<typeof Readability>[0], {
    charThreshold: 0,
  }).parse();
  let body = article?.content ?? '';
  let title = article?.title?.trim() ?? '';
  if (!htmlToMarkdown(body)) {
    const { document: whole } = parseHTML(html);
    for (const el of whole.querySelectorAll(BOILERPLATE)) el.remove();
    body = whole.body?.innerHTML ?? whole.toString();
    title = whole.title?.trim() ?? '';
  }
  const markdown = htmlToMarkdown(body);
  // The title heads the document unless the article already opens with it as a heading.
  const opensWithTitle = title && new RegExp(`^#+[ \\t]+${escapeRegExp(title)}\\s*$`, 'm').test(markdown.slice(0, 500));
  return { text: title && !opensWithTitle ? `# ${title}\n\n${markdown}` : markdown };
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
