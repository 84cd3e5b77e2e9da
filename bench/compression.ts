/**
 * The extractive compressor on SQuAD v1.1 dev pages, against a lead baseline (the page's first tokens,
 * as many as the summary's target) measured in the same run: achieved ratio, fact retention (the share
 * of the answers to the page's questions still present in its summary), and recall@3 of the L3 ranker
 * when each page is represented by its summary alone, so that a question must match through it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExtractiveCompressor } from '../src/compress/extractive.js';
import { chunkText } from '../src/core/chunker.js';
import { tokenizer } from '../src/core/tokenizer.js';
import { EmbeddedIndex } from '../src/tiers/l3/embedded.js';
import type { SquadArticle } from './squad-data.js';

export interface CompressionRow {
  ratio: number;
  factRetention: number;
  recallAt1: number;
  recallAt3: number;
}

export interface CompressionResult {
  pages: number;
  answers: number;
  questions: number;
  msPerPage: number;
  extractive: CompressionRow;
  lead: CompressionRow;
  /** The same recall with each page's full text: the ceiling. */
  full: { recallAt1: number; recallAt3: number };
}

async function recall(
  texts: string[],
  asks: { question: string; page: number }[],
): Promise<{ recallAt1: number; recallAt3: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'vmem-bench-summaries-'));
  try {
    const index = await EmbeddedIndex.open(join(dir, 'l3.db'));
    const meta = (i: number) => ({
      id: `p${i}`,
      sha256: '',
      tokens: 0,
      documentId: 'd',
      source: 's',
      ordinal: i,
      charStart: 0,
      charEnd: 0,
      lineStart: 0,
      lineEnd: 0,
    });
    await index.upsert(texts.map((text, i) => ({ meta: meta(i), text })));
    let at1 = 0;
    let at3 = 0;
    for (const a of asks) {
      const hits = (await index.query(a.question, 3)).map((h) => h.pageId);
      if (hits[0] === `p${a.page}`) at1++;
      if (hits.includes(`p${a.page}`)) at3++;
    }
    await index.close();
    return { recallAt1: at1 / asks.length, recallAt3: at3 / asks.length };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchCompression(articles: SquadArticle[], ratio = 10): Promise<CompressionResult> {
  const enc = tokenizer('o200k_base');
  const extractive = new ExtractiveCompressor(enc);
  const pages: { text: string; tokens: number; answers: string[] }[] = [];
  const asks: { question: string; page: number }[] = [];
  for (const article of articles) {
    const chunks = chunkText(article.text, 2000, enc);
    for (const c of chunks) {
      const qs = article.questions.filter((q) => q.answerOffset >= c.charStart && q.answerOffset < c.charEnd);
      for (const q of qs) asks.push({ question: q.question, page: pages.length });
      pages.push({ text: c.text, tokens: c.tokens, answers: [...new Set(qs.map((q) => q.answers[0]!))] });
    }
  }
  const t = performance.now();
  const summaries = await Promise.all(pages.map((p) => extractive.compress(p.text, Math.round(p.tokens / ratio))));
  const msPerPage = (performance.now() - t) / pages.length;
  const leads = pages.map((p) => enc.head(p.text, Math.round(p.tokens / ratio)));

  const row = async (texts: string[]): Promise<CompressionRow> => {
    const pageTokens = pages.reduce((n, p) => n + p.tokens, 0);
    const summaryTokens = texts.reduce((n, s) => n + enc.count(s), 0);
    let kept = 0;
    let answers = 0;
    pages.forEach((p, i) => {
      for (const a of p.answers) {
        answers++;
        if (texts[i]!.includes(a)) kept++;
      }
    });
    return { ratio: pageTokens / summaryTokens, factRetention: kept / answers, ...(await recall(texts, asks)) };
  };
  return {
    pages: pages.length,
    answers: pages.reduce((n, p) => n + p.answers.length, 0),
    questions: asks.length,
    msPerPage,
    extractive: await row(summaries),
    lead: await row(leads),
    full: await recall(
      pages.map((p) => p.text),
      asks,
    ),
  };
}
