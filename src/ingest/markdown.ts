import { NodeHtmlMarkdown } from 'node-html-markdown';

/**
 * HTML to Markdown, the one converter behind every format that arrives as HTML (web pages, Word documents,
 * EPUB chapters): headings become `#` lines (so the chunker and the breadcrumbs see them), tables GitHub
 * tables, code fenced. What never reads as text is dropped: scripts, styles, forms, embedded media.
 */
const converter = new NodeHtmlMarkdown({
  bulletMarker: '-',
  maxConsecutiveNewlines: 2,
  ignore: ['script', 'style', 'noscript', 'template', 'iframe', 'svg', 'canvas', 'form', 'button', 'select', 'input'],
});

/** `html` (a document or a fragment) as Markdown, trimmed. */
export function htmlToMarkdown(html: string): string {
  return converter.translate(html).trim();
}
