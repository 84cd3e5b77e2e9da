/**
 * Ingest throughput per document format against the extraction library alone on the same files: the SQuAD
 * v1.1 dev articles (48) written as Markdown, HTML pages (with navigation, banner, sidebar and footer), Word
 * .docx and PDF files in a temp dir, each set ingested as a directory into a fresh store. Part of
 * `npm run bench`; alone: `npm run bench:formats`.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Readability } from '@mozilla/readability';
import { parseHTML } from 'linkedom';
import mammoth from 'mammoth';
import { NodeHtmlMarkdown } from 'node-html-markdown';
import { extractText } from 'unpdf';
import { loadConfig } from '../src/config.js';
import { readSources } from '../src/ingest/sources.js';
import { Pager } from '../src/pager.js';
import { docxOf, htmlPageOf, pdfOf } from '../test/support/documents.js';
import { loadSquad, type SquadArticle } from './squad-data.js';
import { bestOf, fmt, table } from './stats.js';

export const FORMATS_TITLE = 'Ingest throughput per format (SQuAD v1.1 dev, 48 articles as files of each format)';

/** Paragraphs per section (HTML, docx) and per PDF page: about a printed page of SQuAD prose. */
const PARAGRAPHS_PER_PART = 4;

interface FormatSet {
  name: string;
  ext: string;
  write: (a: SquadArticle) => Promise<Uint8Array | string>;
  /** The extraction library (or chain) alone, on one file's bytes, giving its text. */
  library: { name: string; extract: (bytes: Buffer) => Promise<string> };
}

const paragraphsOf = (a: SquadArticle) => a.text.split(/\n\n+/).filter((p) => p.trim());
const partsOf = (a: SquadArticle) => {
  const ps = paragraphsOf(a);
  return Array.from({ length: Math.ceil(ps.length / PARAGRAPHS_PER_PART) }, (_, i) =>
    ps.slice(i * PARAGRAPHS_PER_PART, (i + 1) * PARAGRAPHS_PER_PART),
  );
};
const title = (a: SquadArticle) => a.title.replace(/_/g, ' ');

const SETS: FormatSet[] = [
  {
    name: 'Markdown',
    ext: 'md',
    write: async (a) => `# ${title(a)}\n\n${a.text}`,
    library: { name: 'read as UTF-8', extract: async (b) => b.toString('utf8') },
  },
  {
    name: 'HTML',
    ext: 'html',
    write: async (a) =>
      htmlPageOf(
        title(a),
        partsOf(a).map((paragraphs, i) => ({ heading: `Part ${i + 1}`, paragraphs })),
      ),
    library: {
      name: 'linkedom + Readability + node-html-markdown',
      extract: async (b) => {
        const { document } = parseHTML(b.toString('utf8'));
        const article = new Readability(document as unknown as ConstructorParameters<typeof Readability>[0]).parse();
        return NodeHtmlMarkdown.translate(article?.content ?? '');
      },
    },
  },
  {
    name: 'Word .docx',
    ext: 'docx',
    write: async (a) =>
      docxOf([
        { text: title(a), heading: 1 },
        ...partsOf(a).flatMap((ps, i) => [{ text: `Part ${i + 1}`, heading: 2 }, ...ps.map((text) => ({ text }))]),
      ]),
    library: {
      name: 'mammoth + node-html-markdown',
      extract: async (b) => NodeHtmlMarkdown.translate((await mammoth.convertToHtml({ buffer: b })).value),
    },
  },
  {
    name: 'PDF',
    ext: 'pdf',
    write: async (a) => pdfOf(partsOf(a)),
    library: {
      name: 'unpdf extractText (pdf.js)',
      extract: async (b) => (await extractText(new Uint8Array(b), { mergePages: true })).text,
    },
  },
];

export interface FormatRow {
  name: string;
  library: string;
  fileMb: number;
  textMb: number;
  libraryMbps: number;
  extractMbps: number;
  ingestMbps: number;
}

/** Writes each format's files, then times the library alone, vmem's extraction, and vmem's whole ingest. */
export async function benchFormats(articles: SquadArticle[]): Promise<FormatRow[]> {
  const root = mkdtempSync(join(tmpdir(), 'vmem-formats-'));
  const rows: FormatRow[] = [];
  try {
    // One ingest first, untimed: every row then meets warm tokenizer and term memos, as a running server does.
    const warm = await Pager.open(loadConfig({ '--data-dir': join(root, 'warm-up') }, {}));
    await warm.ingest(articles.map((a) => ({ source: a.title, text: a.text })));
    await warm.close();
    for (const set of SETS) {
      const dir = join(root, set.ext);
      mkdirSync(dir);
      const paths: string[] = [];
      for (const [i, a] of articles.entries()) {
        const path = join(dir, `${String(i).padStart(2, '0')}.${set.ext}`);
        writeFileSync(path, await set.write(a));
        paths.push(path);
      }
      const fileMb = paths.reduce((n, p) => n + statSync(p).size, 0) / 1e6;
      const files = paths.map((p) => readFileSync(p));
      const runLibrary = async () => {
        for (const f of files) await set.library.extract(f);
      };
      await runLibrary(); // warm: each library's modules and JIT
      const libraryMs = await bestOf(2, runLibrary);
      const maxBytes = 64 << 20;
      let textMb = 0;
      const extractMs = await bestOf(2, async () => {
        const { docs } = await readSources(dir, maxBytes);
        textMb = docs.reduce((n, d) => n + Buffer.byteLength(d.text), 0) / 1e6;
      });
      const store = join(root, `store-${set.ext}`);
      const pager = await Pager.open(loadConfig({ '--data-dir': store }, {}));
      const t = performance.now();
      await pager.ingest((await readSources(dir, maxBytes)).docs);
      const ingestMs = performance.now() - t;
      await pager.close();
      rows.push({
        name: set.name,
        library: set.library.name,
        fileMb,
        textMb,
        libraryMbps: fileMb / (libraryMs / 1000),
        extractMbps: fileMb / (extractMs / 1000),
        ingestMbps: fileMb / (ingestMs / 1000),
      });
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  return rows;
}

export function formatsTable(rows: FormatRow[]): string {
  return table(
    [
      'format',
      'files MB (text MB)',
      'library alone',
      'library MB/s',
      'vmem extraction MB/s (ratio)',
      'vmem ingest MB/s (ratio)',
    ],
    rows.map((r) => [
      r.name,
      `${fmt(r.fileMb)} (${fmt(r.textMb)})`,
      r.library,
      fmt(r.libraryMbps),
      `${fmt(r.extractMbps)} (${fmt(r.extractMbps / r.libraryMbps)})`,
      `${fmt(r.ingestMbps)} (${fmt(r.ingestMbps / r.libraryMbps)})`,
    ]),
  );
}

export const FORMATS_NOTE =
  'MB/s of files read. vmem extraction: type detection, reading and the same libraries, to the Markdown or text it pages (best of 2, after a warm-up of the library alone). vmem ingest: that, then chunking, L4 writes, L3 index and catalog, into a fresh store, once, after an untimed ingest of the same articles as text (warm tokenizer and term memos, as in a running server).';

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const rows = await benchFormats(loadSquad());
  console.log(`## ${FORMATS_TITLE} (alone: \`npm run bench:formats\`)\n\n${formatsTable(rows)}\n\n${FORMATS_NOTE}`);
}
