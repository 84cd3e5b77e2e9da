import { splitSentences } from '../core/sentences.js';
import type { Tokenizer } from '../core/tokenizer.js';
import { analyze } from '../embed/analyzer.js';
import { CompressionError } from '../errors.js';
import type { Compressor } from './compressor.js';

const MONTH =
  /\b(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\b/;
const YEAR = /\b(?:1[0-9]{3}|20[0-9]{2})s?\b/;
const NUMBER = /\d/;
/** A capitalised word after the first one: names of people, places, organisations, works. */
const NAME = /(?<=\s)\p{Lu}[\p{L}\p{M}'’-]+/gu;
const DEFINITION =
  /\b(?:is|are|was|were) (?:a|an|the|one of)\b|\b(?:refers? to|means|defined as|known as|called|consists? of|stands for)\b/i;

/** A markdown heading: structure, not content; it would spend the budget on a title. */
const HEADING = /^#{1,6}\s/;
/** A sentence sharing this much of its words with one already chosen says nothing new. */
const REDUNDANT = 0.6;

interface Candidate {
  index: number;
  text: string;
  terms: Set<string>;
  /** Its numbers and names: a sentence bringing new ones is never redundant, however similar its wording. */
  facts: string[];
  tokens: number;
  score: number;
}

function factTokens(s: string): string[] {
  return [...(s.match(/\d[\d.,:/-]*/g) ?? []), ...(s.match(NAME) ?? [])];
}

/** Share of the smaller set's words that the other has too. */
function overlap(a: Set<string>, b: Set<string>): number {
  const [small, large] = a.size <= b.size ? [a, b] : [b, a];
  if (!small.size) return 1;
  let n = 0;
  for (const t of small) if (large.has(t)) n++;
  return n / small.size;
}

/**
 * The offline compressor: no model, no network, deterministic. It keeps whole sentences of the page,
 * in their order, choosing those that carry its facts: numbers, dates, names and definitions, and the
 * words the page is most about (how often a sentence's words recur in the page). It fills the target
 * with the densest sentences first, skips sentences that repeat one already kept, and never goes over it.
 */
/** The extractive compressor's name, as summaries record it. */
export const EXTRACTIVE = 'extractive';

export class ExtractiveCompressor implements Compressor {
  readonly name = EXTRACTIVE;

  constructor(private readonly tokenizer: Tokenizer) {}

  async compress(text: string, targetTokens: number): Promise<string> {
    return this.summarize(text, targetTokens);
  }

  private summarize(text: string, targetTokens: number): string {
    const sentences = splitSentences(text)
      .map((s) => s.replace(/\s+/g, ' ').trim())
      .filter((s) => s.length > 0);
    if (!sentences.length) throw new CompressionError('the page has no text to compress', false);
    const terms = sentences.map(analyze);
    const frequency = new Map<string, number>();
    for (const ts of terms) for (const t of new Set(ts)) frequency.set(t, (frequency.get(t) ?? 0) + 1);

    // How much of what the page keeps returning to each sentence mentions, per word; scaled so the
    // most central sentence scores 1 and a sentence's facts can outweigh it.
    const centrality = terms.map((ts) => {
      const distinct = new Set(ts);
      let sum = 0;
      for (const t of distinct) sum += Math.log(frequency.get(t)!);
      return sum / Math.sqrt(distinct.size || 1);
    });
    const most = Math.max(...centrality) || 1;
    const candidates: Candidate[] = sentences.map((s, index) => {
      const names = (s.match(NAME) ?? []).length;
      const facts =
        (NUMBER.test(s) ? 0.5 : 0) +
        (YEAR.test(s) || MONTH.test(s) ? 0.5 : 0) +
        Math.min(0.45, 0.15 * names) +
        (DEFINITION.test(s) ? 0.4 : 0);
      // The page's opening usually says what it is about.
      const lead = index === 0 ? 0.3 : 0;
      return {
        index,
        text: s,
        terms: new Set(terms[index]),
        facts: factTokens(s),
        tokens: this.tokenizer.count(s),
        score: centrality[index]! / most + facts + lead,
      };
    });
    const content = candidates.filter((c) => !HEADING.test(c.text));

    // Densest first: a long sentence must carry proportionally more to take a long sentence's room.
    const byDensity = (content.length ? content : candidates).sort(
      (a, b) => b.score / Math.sqrt(b.tokens || 1) - a.score / Math.sqrt(a.tokens || 1) || a.index - b.index,
    );
    const chosen: Candidate[] = [];
    const knownFacts = new Set<string>();
    let room = targetTokens;
    for (const c of byDensity) {
      const news = c.facts.some((f) => !knownFacts.has(f));
      if (c.tokens <= room && (news || !chosen.some((k) => overlap(k.terms, c.terms) >= REDUNDANT))) {
        for (const f of c.facts) knownFacts.add(f);
        chosen.push(c);
        room -= c.tokens + 1; // the space that joins it
      }
    }
    // Not one sentence fits: the densest one, cut short, with an ellipsis (one token) to say so.
    if (!chosen.length) return `${this.tokenizer.head(byDensity[0]!.text, targetTokens - 1).trimEnd()}…`;
    return chosen
      .sort((a, b) => a.index - b.index)
      .map((c) => c.text)
      .join(' ');
  }
}
