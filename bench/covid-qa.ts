/**
 * page_fault recall on COVID-QA (the batch of 23 April 2020): every distinct context, a whole scientific
 * article, is one document; every expert question is asked, and a hit is a returned page that overlaps
 * the answer span. As in the SQuAD bench, the span comes from answer_start and is mapped to pages by the
 * character ranges they record (charStart, charEnd), not by searching the page text for the answer. Answers
 * here are long (a clause or a sentence), so a span cut by a page boundary counts on either page, not only
 * on the page of its first character (1 of the 1,380 is cut). Runs in `npm run bench`, or alone:
 * `npm run bench:covid-qa`.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { SourceFile } from '../src/ingest/sources.js';
import { dataPath } from './data.js';
import { type PageRecall, pageRecall, pageRecallNote, type RangeQuestion, recallTable } from './recall.js';

interface RawCovidQa {
  data: {
    paragraphs: {
      context: string;
      document_id: number;
      qas: { question: string; answers: { text: string; answer_start: number }[] }[];
    }[];
  }[];
}

/**
 * Where an answer starts: answer_start is off by 1 to 3 characters for 234 of the 1,380 answers, so it is
 * snapped to the nearest exact occurrence of the answer text (which also picks among repeated ones).
 */
function answerStart(context: string, text: string, start: number): number {
  let best = -1;
  for (let i = context.indexOf(text); i !== -1; i = context.indexOf(text, i + 1)) {
    if (best === -1 || Math.abs(i - start) < Math.abs(best - start)) best = i;
  }
  if (best === -1) throw new Error(`COVID-QA: the answer ${JSON.stringify(text)} is not in its context`);
  return best;
}

export function loadCovidQa(path = dataPath('covid-qa/200423_covidQA.json')): {
  docs: SourceFile[];
  questions: RangeQuestion[];
} {
  const raw = JSON.parse(readFileSync(path, 'utf8')) as RawCovidQa;
  const docs: SourceFile[] = [];
  const questions: RangeQuestion[] = [];
  const docOf = new Map<string, number>();
  for (const p of raw.data.flatMap((a) => a.paragraphs)) {
    let doc = docOf.get(p.context);
    if (doc === undefined) {
      doc = docs.push({ source: `COVID-QA document ${p.document_id}`, text: p.context }) - 1;
      docOf.set(p.context, doc);
    }
    for (const qa of p.qas) {
      const { text, answer_start } = qa.answers[0]!;
      const start = answerStart(p.context, text, answer_start);
      questions.push({ question: qa.question, doc, ranges: [[start, start + text.length]] });
    }
  }
  return { docs, questions };
}

export async function covidQaRecall(): Promise<PageRecall> {
  const { docs, questions } = loadCovidQa();
  return pageRecall(docs, questions);
}

/** The section in BENCHMARKS.md. */
export function covidQaSection(r: PageRecall): string {
  return `## page_fault recall on COVID-QA (${r.questions} questions over ${r.documents} scientific articles, ${r.pages} pages of ≤2000 tokens; alone: \`npm run bench:covid-qa\`)

${recallTable(r)}

${pageRecallNote(r)}`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  console.log(covidQaSection(await covidQaRecall()));
}
