/**
 * page_fault recall on QMSum val: every meeting transcript is one document, a turn per line as
 * `Speaker: text` (the transcripts' markup, such as {disfmarker}, left as it is). Only the specific queries
 * are asked: the general ones ("What were the main discussion points?") have no evidence span, as they are
 * about the whole meeting. A hit is a returned page that overlaps the turns of one of the query's
 * relevant_text_span ranges (inclusive turn indices). Runs in `npm run bench`, or alone: `npm run bench:qmsum`.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { SourceFile } from '../src/ingest/sources.js';
import { dataPath } from './data.js';
import { type PageRecall, pageRecall, pageRecallNote, type RangeQuestion, recallTable } from './recall.js';

interface RawMeeting {
  meeting_transcripts: { speaker: string; content: string }[];
  specific_query_list: { query: string; relevant_text_span: [string, string][] }[];
}

export function loadQmsum(path = dataPath('qmsum/val.jsonl')): { docs: SourceFile[]; questions: RangeQuestion[] } {
  const meetings = readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line) as RawMeeting);
  const docs: SourceFile[] = [];
  const questions: RangeQuestion[] = [];
  for (const [doc, m] of meetings.entries()) {
    /** Per turn, the [start, end) of its line in the document. */
    const turns: [number, number][] = [];
    let text = '';
    for (const t of m.meeting_transcripts) {
      const line = `${t.speaker}: ${t.content}`;
      turns.push([text.length, text.length + line.length]);
      text += `${line}\n`;
    }
    docs.push({ source: `QMSum val meeting ${doc + 1}`, text });
    for (const q of m.specific_query_list) {
      const ranges = q.relevant_text_span.map(([from, to]): [number, number] => {
        const start = turns[Number(from)]?.[0];
        const end = turns[Number(to)]?.[1];
        if (start === undefined || end === undefined || end <= start)
          throw new Error(`QMSum: meeting ${doc + 1} has no turns ${from}–${to}`);
        return [start, end];
      });
      questions.push({ question: q.query, doc, ranges });
    }
  }
  return { docs, questions };
}

export async function qmsumRecall(): Promise<PageRecall> {
  const { docs, questions } = loadQmsum();
  return pageRecall(docs, questions);
}

/** The section in BENCHMARKS.md. */
export function qmsumSection(r: PageRecall): string {
  return `## page_fault recall on QMSum val (${r.questions} specific queries over ${r.documents} meeting transcripts, ${r.pages} pages of ≤2000 tokens; alone: \`npm run bench:qmsum\`)

${recallTable(r)}

${pageRecallNote(r)} The general queries, which have no evidence span, are not asked.`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  console.log(qmsumSection(await qmsumRecall()));
}
