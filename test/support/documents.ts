/**
 * Documents of every format vmem reads, made on the spot from known text (tests and benchmarks read nothing
 * they did not write): PDFs with pdf-lib, Word documents as the ZIP of XML they are, HTML pages with the
 * boilerplate around the article that a web page has.
 */
import { zipSync } from 'fflate';
import { PDFDocument, type PDFFont, PDFHexString, PDFName, type PDFRef, StandardFonts } from 'pdf-lib';

const LINE_CHARS = 90;

/** `text` in lines of at most LINE_CHARS characters, cut at spaces. */
function wrap(text: string): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && line.length + word.length + 1 > LINE_CHARS) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

/** pdf-lib's standard fonts encode WinAnsi only: other characters become '?'. */
const winAnsi = (text: string) => text.replace(/[^\x20-\x7e\u00a0-\u00ff]/g, '?');

/**
 * A PDF with one PDF page per entry of `pages`, each entry's paragraphs drawn as lines of text (a page that
 * overflows goes on, with more lines, on a taller page). `outline` adds bookmarks: a title and its 1-based
 * target page, nested by `level` (1 is top).
 */
export async function pdfOf(
  pages: string[][],
  outline: { title: string; page: number; level: number }[] = [],
): Promise<Uint8Array> {
  const doc = await PDFDocument.create();
  const font = await doc.embedFont(StandardFonts.Helvetica);
  const refs: PDFRef[] = [];
  for (const paragraphs of pages) {
    const lines = paragraphs.flatMap((p, i) => [...(i ? [''] : []), ...wrap(winAnsi(p))]);
    const height = Math.max(792, 72 + lines.length * 14);
    const page = doc.addPage([612, height]);
    lines.forEach((line, i) => {
      if (line) page.drawText(line, { x: 50, y: height - 50 - i * 14, size: 11, font });
    });
    refs.push(page.ref);
  }
  if (outline.length) addOutline(doc, refs, outline);
  return doc.save();
}

/** Bookmarks as the PDF format stores them: a tree of dictionaries linked by First/Last/Next/Prev/Parent. */
function addOutline(doc: PDFDocument, pageRefs: PDFRef[], entries: { title: string; page: number; level: number }[]) {
  const ctx = doc.context;
  const root = ctx.nextRef();
  interface Node {
    ref: PDFRef;
    parent: PDFRef;
    title: string;
    page: number;
    children: Node[];
  }
  const top: Node[] = [];
  const stack: { level: number; node: Node }[] = [];
  for (const e of entries) {
    while (stack.length && stack[stack.length - 1]!.level >= e.level) stack.pop();
    const parent = stack[stack.length - 1]?.node;
    const node: Node = { ref: ctx.nextRef(), parent: parent?.ref ?? root, title: e.title, page: e.page, children: [] };
    (parent ? parent.children : top).push(node);
    stack.push({ level: e.level, node });
  }
  const write = (nodes: Node[]) => {
    nodes.forEach((n, i) => {
      const dict = ctx.obj({
        Title: PDFHexString.fromText(n.title),
        Parent: n.parent,
        Dest: [pageRefs[n.page - 1]!, 'Fit'],
      });
      if (i > 0) dict.set(PDFName.of('Prev'), nodes[i - 1]!.ref);
      if (i < nodes.length - 1) dict.set(PDFName.of('Next'), nodes[i + 1]!.ref);
      if (n.children.length) {
        dict.set(PDFName.of('First'), n.children[0]!.ref);
        dict.set(PDFName.of('Last'), n.children[n.children.length - 1]!.ref);
        dict.set(PDFName.of('Count'), ctx.obj(n.children.length));
      }
      ctx.assign(n.ref, dict);
      write(n.children);
    });
  };
  write(top);
  ctx.assign(
    root,
    ctx.obj({ Type: 'Outlines', First: top[0]!.ref, Last: top[top.length - 1]!.ref, Count: top.length }),
  );
  doc.catalog.set(PDFName.of('Outlines'), root);
}

/** A "scanned" PDF: pages with drawings and no text layer. */
export async function scannedPdf(pages = 2): Promise<Uint8Array> {
  const doc = await PDFDocument.create();
  for (let i = 0; i < pages; i++)
    doc.addPage().drawRectangle({ x: 50, y: 50, width: 400, height: 600, borderWidth: 2 });
  return doc.save();
}

/**
 * A PDF that needs a password to open. pdf-lib cannot encrypt, so this one carries a standard security handler
 * (RC4, revision 2) whose password check fails for the empty user password, which is all a reader tries
 * before asking for one; its content is not encrypted, which no reader gets far enough to notice.
 */
export async function encryptedPdf(): Promise<Uint8Array> {
  const doc = await PDFDocument.create();
  const font: PDFFont = await doc.embedFont(StandardFonts.Helvetica);
  doc.addPage().drawText('Confidential: the launch code is 0000.', { x: 50, y: 700, size: 12, font });
  const ctx = doc.context;
  const encrypt = ctx.obj({
    Filter: 'Standard',
    V: 1,
    R: 2,
    P: -44,
    O: PDFHexString.of('11'.repeat(32)),
    U: PDFHexString.of('22'.repeat(32)),
  });
  ctx.trailerInfo.Encrypt = ctx.register(encrypt);
  const id = PDFHexString.of('33'.repeat(16));
  ctx.trailerInfo.ID = ctx.obj([id, id]);
  return doc.save({ useObjectStreams: false });
}

/** A paragraph of a Word document: body text, a heading of `level`, or a table of rows of cells. */
export type DocxBlock = { text: string; heading?: number } | { table: string[][] };

const xmlEscape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"';

/** A .docx: the few parts Word needs (content types, relationships, the document, heading styles), zipped. */
export function docxOf(blocks: DocxBlock[]): Uint8Array {
  const run = (text: string) => `<w:r><w:t xml:space="preserve">${xmlEscape(text)}</w:t></w:r>`;
  const body = blocks
    .map((b) => {
      if ('table' in b)
        return `<w:tbl>${b.table.map((row) => `<w:tr>${row.map((c) => `<w:tc><w:p>${run(c)}</w:p></w:tc>`).join('')}</w:tr>`).join('')}</w:tbl>`;
      const style = b.heading ? `<w:pPr><w:pStyle w:val="Heading${b.heading}"/></w:pPr>` : '';
      return `<w:p>${style}${run(b.text)}</w:p>`;
    })
    .join('');
  const styles = [1, 2, 3]
    .map(
      (n) =>
        `<w:style w:type="paragraph" w:styleId="Heading${n}"><w:name w:val="heading ${n}"/><w:basedOn w:val="Normal"/></w:style>`,
    )
    .join('');
  const files: Record<string, string> = {
    '[Content_Types].xml':
      '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/><Override PartName="/word/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.styles+xml"/></Types>',
    '_rels/.rels':
      '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>',
    'word/_rels/document.xml.rels':
      '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/></Relationships>',
    'word/document.xml': `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document ${W}><w:body>${body}</w:body></w:document>`,
    'word/styles.xml': `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:styles ${W}><w:style w:type="paragraph" w:default="1" w:styleId="Normal"><w:name w:val="Normal"/></w:style>${styles}</w:styles>`,
  };
  return zipSync(Object.fromEntries(Object.entries(files).map(([k, v]) => [k, new TextEncoder().encode(v)])));
}

/**
 * A web page: the article (a title, sections of paragraphs, a table) inside what surrounds articles on the
 * web: a script, a style sheet, a navigation bar, a cookie banner, a sidebar and a footer.
 */
export function htmlPageOf(
  title: string,
  sections: { heading: string; paragraphs: string[] }[],
  table?: string[][],
): string {
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const article = sections
    .map((s) => `<h2>${esc(s.heading)}</h2>\n${s.paragraphs.map((p) => `<p>${esc(p)}</p>`).join('\n')}`)
    .join('\n');
  const tableHtml = table
    ? `<table><thead><tr>${table[0]!.map((c) => `<th>${esc(c)}</th>`).join('')}</tr></thead><tbody>${table
        .slice(1)
        .map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`)
        .join('')}</tbody></table>`
    : '';
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body { font-family: sans-serif } .nav { color: NAVSTYLE }</style>
<script>window.trackingPixel = "SCRIPTMARKER"; console.log("SCRIPTMARKER");</script>
</head><body>
<header><nav class="nav"><a href="/">Home</a> <a href="/about">NAVMARKER About us</a> <a href="/shop">Shop</a></nav></header>
<div id="cookie-banner">COOKIEMARKER We use cookies to improve your experience. <button>Accept</button></div>
<main><article>
<h1>${esc(title)}</h1>
${article}
${tableHtml}
</article></main>
<aside class="sidebar"><h3>Related posts</h3><ul><li><a href="/x">SIDEBARMARKER Ten tips</a></li></ul></aside>
<footer>FOOTERMARKER © 2024 Example Corp. All rights reserved. <a href="/privacy">Privacy</a></footer>
</body></html>`;
}
