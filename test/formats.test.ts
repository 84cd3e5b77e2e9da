/**
 * Documents as users have them: PDF (with the PDF pages each vmem page covers), HTML (the article without the
 * page around it), Word .docx and Jupyter notebooks, told apart by content; headings as breadcrumbs; a
 * directory's files that cannot be paged named with the reason. Every file is made by the test.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { chunkText } from '../src/core/chunker.ts';
import { breadcrumbsAt, markdownHeadings, pdfPagesOf, whereText } from '../src/core/structure.ts';
import { tokenizer } from '../src/core/tokenizer.ts';
import { formatOf, readDocument } from '../src/ingest/formats.ts';
import { readSources } from '../src/ingest/sources.ts';
import { call, callErr, connectedStore, tablePages, tempDir } from './helpers.ts';
import { docxOf, encryptedPdf, htmlPageOf, pdfOf, scannedPdf } from './support/documents.ts';

const enc = tokenizer('o200k_base');

/** A paragraph of about 60 tokens that names its PDF page, so a test can find where each page's text went. */
const para = (page: number, k: number) =>
  `Marker p${page}k${k}: on page ${page} the surveyor recorded paragraph ${k} of the field notes, describing the river bend, the soil, the reeds and the heron nests seen along the eastern bank that morning.`;

interface IngestJson {
  documents: { document_id: string; source: string; pages: number }[];
  skipped?: { source: string; reason: string }[];
  skipped_count?: number;
}

describe('structure', () => {
  test('Markdown headings outside fenced code, their breadcrumbs, and PDF page ranges', () => {
    const text =
      '# Guide\n\nIntro.\n\n## Install\n\n```sh\n# not a heading\n```\n\n### Linux\n\nSteps.\n\n## Use\n\nMore.';
    const headings = markdownHeadings(text);
    assert.deepEqual(
      headings.map((h) => [h.level, h.title]),
      [
        [1, 'Guide'],
        [2, 'Install'],
        [3, 'Linux'],
        [2, 'Use'],
      ],
    );
    const at = (s: string) => text.indexOf(s);
    assert.deepEqual(breadcrumbsAt(headings, [0, at('Steps'), at('## Use'), at('More')]), [
      ['Guide'],
      ['Guide', 'Install', 'Linux'],
      ['Guide', 'Use'],
      ['Guide', 'Use'],
    ]);
    // Page 2 has no text: it starts where page 3 does and is never named.
    const starts = [0, 10, 10, 30];
    assert.deepEqual(pdfPagesOf(starts, 0, 10), [1, 1]);
    assert.deepEqual(pdfPagesOf(starts, 5, 25), [1, 3]);
    assert.deepEqual(pdfPagesOf(starts, 30, 40), [4, 4]);
    assert.equal(whereText({ pdfPages: [12, 13], breadcrumb: ['Part I', 'Methods'] }), 'pp. 12–13 · Part I › Methods');
    assert.equal(whereText({ pdfPages: [4, 4] }), 'p. 4');
    assert.equal(whereText({}), '');
  });

  test('the chunker closes a page at a section start rather than inside the next section', () => {
    const section = (name: string, n: number) =>
      `## ${name}\n\n${Array.from({ length: n }, (_, k) => para(1, k)).join('\n\n')}`;
    const text = `${section('First', 3)}\n\n${section('Second', 3)}`;
    const chunks = chunkText(text, 200, enc);
    assert.ok(chunks.every((c) => c.tokens <= 200));
    assert.equal(chunks.map((c) => c.text).join(''), text);
    // Without sections the first page would take a paragraph of the second section (it fits).
    assert.ok(
      chunks.some((c) => c.text.startsWith('## Second')),
      chunks.map((c) => c.text.slice(0, 20)).join(' | '),
    );
  });
});

describe('formats', () => {
  test('type by content: PDF and ZIP magic, HTML by doctype under a generic name, binary', () => {
    assert.equal(formatOf('x.bin', Buffer.from('%PDF-1.7\n')), 'pdf');
    assert.equal(formatOf('x.docx', Buffer.from('PK\x03\x04....', 'latin1')), 'zip');
    assert.equal(formatOf('saved', Buffer.from('\uFEFF  <!DOCTYPE html><html>')), 'html');
    assert.equal(formatOf('page.htm', Buffer.from('<p>hi</p>')), 'html');
    assert.equal(formatOf('notes.md', Buffer.from('# Notes')), 'markdown');
    assert.equal(formatOf('main.py', Buffer.from('# comment\nprint(1)')), 'text');
    assert.deepEqual(Object.keys(formatOf('a.png', Buffer.from([0x89, 0x50, 0, 1])) as object), ['reason', 'fix']);
  });

  test('PDF: every vmem page records the PDF pages it covers; the outline gives breadcrumbs', async (t) => {
    const { dir, pager, client } = await connectedStore(t, { '--page-tokens': '400' });
    const pages = Array.from({ length: 6 }, (_, i) => Array.from({ length: 3 }, (_, k) => para(i + 1, k)));
    const path = join(dir, 'survey.pdf');
    fs.writeFileSync(
      path,
      await pdfOf(pages, [
        { title: 'Upstream', page: 1, level: 1 },
        { title: 'The bend', page: 3, level: 2 },
        { title: 'Downstream', page: 5, level: 1 },
      ]),
    );
    const ing = await call<IngestJson>(client, 'ingest', { path });
    assert.equal(ing.s.documents.length, 1);
    const stored = tablePages(pager.table);
    assert.ok(stored.length >= 3, `${stored.length} pages`);
    for (const p of stored) {
      const text = (await pager.l4.getPages([p.id]))[0]!.text;
      const onPages = [...text.matchAll(/Marker p(\d)k/g)].map((m) => Number(m[1]));
      assert.deepEqual(p.pdfPages, [Math.min(...onPages), Math.max(...onPages)], text.slice(0, 80));
      const first = onPages[0]!;
      const expected = first >= 5 ? ['Downstream'] : first >= 3 ? ['Upstream', 'The bend'] : ['Upstream'];
      assert.deepEqual(p.breadcrumb, expected);
    }
    // The page header and the structured result name the PDF pages, for citing.
    const r = await call(client, 'page_fault', { query: 'Marker p4k1 heron nests', max_pages: 1 });
    const page = r.s.pages[0] as unknown as { pdf_pages: number[]; breadcrumb: string[] };
    assert.ok(page.pdf_pages[0]! <= 4 && page.pdf_pages[1]! >= 4);
    assert.deepEqual(page.breadcrumb, ['Upstream', 'The bend']);
    assert.match(r.text, /## \S+ · survey\.pdf #\d+ · pp?\. \d(–\d)? · Upstream › The bend · lines/);
  });

  test('a PDF without a text layer and an encrypted PDF: errors saying so and what to do; nothing stored', async (t) => {
    const { dir, pager, client } = await connectedStore(t);
    fs.writeFileSync(join(dir, 'scan.pdf'), await scannedPdf());
    fs.writeFileSync(join(dir, 'locked.pdf'), await encryptedPdf());
    const scan = await callErr(client, 'ingest', { path: join(dir, 'scan.pdf') });
    assert.match(scan, /path: .*scan\.pdf has no text layer .*; run OCR on it first/);
    const locked = await callErr(client, 'ingest', { path: join(dir, 'locked.pdf') });
    assert.match(locked, /path: .*locked\.pdf is an encrypted PDF that needs a password; decrypt it first/);
    assert.equal(tablePages(pager.table).length, 0);
    assert.deepEqual(await pager.l4.listPageIds(), []);
  });

  test('HTML: the article as Markdown without script, style, navigation, banner, sidebar or footer', async () => {
    const src = tempDir('vmem-html-');
    try {
      const path = join(src.dir, 'post.html');
      const long = (s: string) => `${s} ${para(1, 0)} ${para(1, 1)}`;
      fs.writeFileSync(
        path,
        htmlPageOf(
          'River survey',
          [
            { heading: 'Method', paragraphs: [long('We walked the bank.'), long('We counted nests.')] },
            { heading: 'Findings', paragraphs: [long('Herons nest in reeds.')] },
          ],
          [
            ['Site', 'Nests'],
            ['Bend', '12'],
          ],
        ),
      );
      const doc = await readDocument(path, 'post.html', 1 << 20);
      for (const marker of ['SCRIPTMARKER', 'NAVSTYLE', 'NAVMARKER', 'COOKIEMARKER', 'SIDEBARMARKER', 'FOOTERMARKER'])
        assert.ok(!doc.text.includes(marker), `${marker} in ${doc.text}`);
      assert.match(doc.text, /^# River survey\n/);
      assert.match(doc.text, /\n## Method\n\nWe walked the bank\./);
      assert.match(doc.text, /\| Site +\| Nests +\|\n\| -+ \| -+ \|\n\| Bend +\| 12 +\|/);
      const at = doc.text.indexOf('Herons');
      assert.deepEqual(breadcrumbsAt(doc.headings!, [at])[0], ['River survey', 'Findings']);
      // A page too short for Readability to tell the article apart loses its boilerplate all the same.
      fs.writeFileSync(path, htmlPageOf('Note', [{ heading: 'Only', paragraphs: ['Short.'] }]));
      assert.equal((await readDocument(path, 'post.html', 1 << 20)).text, '# Note\n\n## Only\n\nShort.');
    } finally {
      src.cleanup();
    }
  });

  test('Word .docx: text, headings as breadcrumbs, tables', async (t) => {
    const { dir, pager, client } = await connectedStore(t, { '--page-tokens': '150' });
    const path = join(dir, 'report.docx');
    fs.writeFileSync(
      path,
      docxOf([
        { text: 'Annual report', heading: 1 },
        { text: para(1, 0) },
        { text: 'Finances', heading: 2 },
        { text: para(2, 0) },
        {
          table: [
            ['Quarter', 'Revenue'],
            ['Q1', '42'],
          ],
        },
        { text: 'Staff', heading: 2 },
        { text: para(3, 0) },
      ]),
    );
    await call<IngestJson>(client, 'ingest', { path });
    const stored = await Promise.all(
      tablePages(pager.table).map(async (p) => ({ p, text: (await pager.l4.getPages([p.id]))[0]!.text })),
    );
    const all = stored.map((x) => x.text).join('');
    assert.match(all, /^# Annual report\n\nMarker p1k0/);
    assert.match(all, /\| Quarter \| Revenue \|/);
    const staff = stored.find((x) => x.text.includes('Marker p3k0'))!;
    assert.deepEqual(staff.p.breadcrumb, ['Annual report', 'Staff']);
    const finances = stored.find((x) => x.text.includes('Marker p2k0'))!;
    assert.deepEqual(finances.p.breadcrumb?.slice(0, 1), ['Annual report']);
  });

  test('a directory of mixed files: every readable one paged, the others named with the reason', async (t) => {
    const { dir, pager, client } = await connectedStore(t);
    const src = join(dir, 'docs');
    fs.mkdirSync(src);
    fs.writeFileSync(join(src, 'a.md'), `# Notes\n\n${para(1, 0)}`);
    fs.writeFileSync(join(src, 'b.pdf'), await pdfOf([[para(1, 1)], [para(2, 1)]]));
    fs.writeFileSync(join(src, 'c.docx'), docxOf([{ text: para(1, 2) }]));
    fs.writeFileSync(join(src, 'd.html'), htmlPageOf('Page', [{ heading: 'Only', paragraphs: [para(1, 3)] }]));
    fs.writeFileSync(
      join(src, 'e.ipynb'),
      JSON.stringify({
        metadata: { kernelspec: { language: 'python' } },
        cells: [
          { cell_type: 'markdown', source: ['# Analysis\n', para(1, 4)] },
          { cell_type: 'code', source: 'print(6 * 7)', outputs: [{ output_type: 'stream', text: ['42\n'] }] },
        ],
      }),
    );
    fs.writeFileSync(join(src, 'f.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 13]));
    fs.writeFileSync(join(src, 'g.pdf'), await scannedPdf());
    fs.writeFileSync(join(src, 'h.pdf'), await encryptedPdf());
    fs.writeFileSync(join(src, 'i.txt'), '');
    const r = await call<IngestJson>(client, 'ingest', { path: src });
    assert.deepEqual(
      r.s.documents.map((d) => d.source),
      ['a.md', 'b.pdf', 'c.docx', 'd.html', 'e.ipynb'].map((f) => join('docs', f)),
    );
    assert.equal(r.s.skipped_count, 4);
    assert.deepEqual(
      r.s.skipped!.map((s) => [s.source, s.reason.split(' (')[0]]),
      [
        ['docs/f.png', 'is a binary file'],
        ['docs/g.pdf', 'has no text layer'],
        ['docs/h.pdf', 'is an encrypted PDF that needs a password'],
        ['docs/i.txt', 'is empty'],
      ],
    );
    assert.match(r.text, /Skipped 4 file\(s\):\n- docs\/f\.png is a binary file\n- docs\/g\.pdf has no text layer/);
    const notebook = tablePages(pager.table).find((p) => p.source.endsWith('e.ipynb'))!;
    const text = (await pager.l4.getPages([notebook.id]))[0]!.text;
    assert.match(text, /^# Analysis\nMarker p1k4.*\n\n```python\nprint\(6 \* 7\)\n```\n\n```output\n42\n```$/s);
    assert.deepEqual(notebook.breadcrumb, ['Analysis']);
  });

  test('the byte limit applies to the text extracted as well as to the file', async () => {
    const src = tempDir('vmem-limit-');
    try {
      // A .docx is compressed: its text outgrows the file.
      const path = join(src.dir, 'long.docx');
      fs.writeFileSync(path, docxOf(Array.from({ length: 200 }, () => ({ text: para(1, 0) }))));
      const size = fs.statSync(path).size;
      const textBytes = Buffer.byteLength((await readDocument(path, 'long.docx', 1 << 24)).text);
      assert.ok(textBytes > size * 2, `${textBytes} bytes of text from ${size}`);
      await assert.rejects(readSources(path, size - 1), /long\.docx is \d+ bytes, over the \d+-byte limit per file/);
      await assert.rejects(readSources(path, textBytes - 1), /long\.docx's extracted text is \d+ bytes, over the/);
    } finally {
      src.cleanup();
    }
  });
});
