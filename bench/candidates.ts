/**
 * page_fault candidates: how often the gold page is admitted, or admitted or offered as a candidate, and
 * what the candidates cost in the host's context, per number of candidates, on the three dev sets (SQuAD
 * v1.1 dev, COVID-QA, QMSum val) with their gold pages as the recall benches define them. Each question is
 * asked once, as the recall benches ask it (evict all, page_fault with the default max_pages), with the
 * most candidates measured; a setting of fewer candidates shows the first of them, as a fault asking for
 * fewer would (the ranking is exact, so its prefix is the same). Runs in `npm run bench`, or alone:
 * `npm run bench:candidates`.
 */
import { fileURLToPath } from 'node:url';
import { tokenizer } from '../src/core/tokenizer.js';
import type { SourceFile } from '../src/ingest/sources.js';
import { candidatesText, faultText } from '../src/mcp/format.js';
import { DEFAULT_CANDIDATES } from '../src/paging/candidates.js';
import { loadCovidQa } from './covid-qa.js';
import { loadQmsum } from './qmsum.js';
import { goldPages, type RangeQuestion, withRecallStore } from './recall.js';
import { loadSquad } from './squad-data.js';
import { fmt, table } from './stats.js';

/** The numbers of candidates measured. */
export const CANDIDATE_SETTINGS = [0, 2, 3, 5, 8];

export interface CandidateRow {
  dataset: string;
  candidates: number;
  questions: number;
  /** Share of questions with a gold page among the pages brought in. */
  admitted: number;
  /** Share with a gold page among the pages brought in or the candidates. */
  admittedOrOffered: number;
  /** Mean o200k tokens of the result text: the page texts, the rest of the result, the candidates' part. */
  pageTokens: number;
  framingTokens: number;
  candidateTokens: number;
}

/** SQuAD as range questions: the gold page holds the answer's first character, as in bench/squad-recall.ts. */
export function squadAsRanges(): { docs: SourceFile[]; questions: RangeQuestion[] } {
  const articles = loadSquad();
  return {
    docs: articles.map((a) => ({ source: a.title, text: a.text })),
    questions: articles.flatMap((a, doc) =>
      a.questions.map(
        (q): RangeQuestion => ({
          question: q.question,
          doc,
          ranges: [[q.answerOffset, q.answerOffset + 1]],
        }),
      ),
    ),
  };
}

export async function candidateRows(
  dataset: string,
  docs: SourceFile[],
  questions: RangeQuestion[],
): Promise<CandidateRow[]> {
  const enc = tokenizer('o200k_base');
  const most = Math.max(...CANDIDATE_SETTINGS);
  return withRecallStore(docs, async ({ pager, pagesOf }) => {
    const session = pager.newSession();
    const sums = CANDIDATE_SETTINGS.map(() => ({ admitted: 0, offered: 0, candidateTokens: 0 }));
    let pageTokens = 0;
    let framingTokens = 0;
    for (const q of questions) {
      const gold = goldPages(pagesOf, q);
      pager.evict(session, 'all');
      const r = await pager.fault(session, q.question, { candidates: most });
      // Page texts as the pager counted them (same tokenizer); the rest of the text counted here.
      pageTokens += r.pages.reduce((s, p) => s + (p.text === undefined ? 0 : p.tokens), 0);
      const bare = { ...r, pages: r.pages.map((p) => (p.text === undefined ? p : { ...p, text: '' })), candidates: [] };
      framingTokens += enc.count(faultText(bare));
      const admitted = r.pages.some((p) => gold.has(p.pageId));
      CANDIDATE_SETTINGS.forEach((n, i) => {
        const offered = r.candidates.slice(0, n);
        const s = sums[i]!;
        s.admitted += admitted ? 1 : 0;
        s.offered += admitted || offered.some((c) => gold.has(c.pageId)) ? 1 : 0;
        // The part and the blank line that separates it from the pages.
        if (offered.length) s.candidateTokens += enc.count(`\n\n${candidatesText(offered)}`);
      });
    }
    const n = questions.length;
    return CANDIDATE_SETTINGS.map((candidates, i) => ({
      dataset,
      candidates,
      questions: n,
      admitted: sums[i]!.admitted / n,
      admittedOrOffered: sums[i]!.offered / n,
      pageTokens: pageTokens / n,
      framingTokens: framingTokens / n,
      candidateTokens: sums[i]!.candidateTokens / n,
    }));
  });
}

export async function benchCandidates(): Promise<CandidateRow[]> {
  const sets = [
    ['SQuAD v1.1 dev', squadAsRanges()],
    ['COVID-QA', loadCovidQa()],
    ['QMSum val', loadQmsum()],
  ] as const;
  const rows: CandidateRow[] = [];
  for (const [name, { docs, questions }] of sets) rows.push(...(await candidateRows(name, docs, questions)));
  return rows;
}

export const CANDIDATES_TITLE =
  'page_fault candidates: the gold page brought in, or offered as a candidate to load (max_pages 3; alone: `npm run bench:candidates`)';

export function candidatesTable(rows: CandidateRow[]): string {
  return table(
    [
      'dataset',
      'questions',
      'candidates',
      'gold admitted',
      'gold admitted or offered',
      'result tokens: page texts + rest',
      'candidates (tokens)',
      'candidates / result',
    ],
    rows.map((r) => [
      r.dataset,
      r.questions,
      r.candidates === DEFAULT_CANDIDATES ? `**${r.candidates}** (default)` : r.candidates,
      fmt(r.admitted, 3),
      fmt(r.admittedOrOffered, 3),
      `${fmt(r.pageTokens, 0)} + ${fmt(r.framingTokens, 0)}`,
      fmt(r.candidateTokens, 0),
      `${fmt((100 * r.candidateTokens) / (r.pageTokens + r.framingTokens + r.candidateTokens), 1)}%`,
    ]),
  );
}

export const CANDIDATES_NOTE =
  "Tokens are o200k_base means per question: the page texts as the pager counts them, the rest of the result text (lead, page headers, L1 line), and the candidates' part (its heading, one line per candidate, the blank line before it). Each question is asked once with 8 candidates; fewer show the first of those.";

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  console.log(`## ${CANDIDATES_TITLE}\n\n${candidatesTable(await benchCandidates())}\n\n${CANDIDATES_NOTE}`);
}
