/**
 * Where sentences end: the one rule for the chunker (cuts), the lexical index (passages), the extractive
 * compressor (sentences it keeps) and the gist (a page's first sentence).
 *
 * A sentence ends at final punctuation (Latin `.!?`, CJK full-width `。！？`) with the closing quotes and
 * brackets that follow it (`."`, `?)`, `。」`), when whitespace follows; or, for CJK punctuation, wherever
 * the next sentence starts, since CJK writes no space between sentences. A Latin `.` with no whitespace
 * after it ("3.5", "e.g.x", a URL) ends nothing. A blank line ends a paragraph and so a sentence.
 */

/** Closing quotes and brackets that belong to the sentence before them. */
const CLOSERS = ')"\'\\]\u201d\u2019\u300d\u300f\uff09';
const LATIN_OR_CJK = '.!?\u3002\uff01\uff1f';
const CJK = '\u3002\uff01\uff1f';

/**
 * Every sentence end followed by whitespace, matched up to (not including) the whitespace. The chunker cuts
 * there: BPE never merges across whitespace, so token counts of the two sides add up. (A CJK end with no
 * whitespace after it is not among these: a BPE token may span it.)
 */
export const SENTENCE_END_BEFORE_SPACE = new RegExp(`[${LATIN_OR_CJK}][${CLOSERS}]*(?=\\s)`, 'g');

/** A cut between sentences: the whitespace after an end, the point after a CJK end, or a blank-line run. */
const SPLIT = new RegExp(
  `(?<=[${LATIN_OR_CJK}][${CLOSERS}]*)\\s+|(?<=[${CJK}][${CLOSERS}]*)(?=[^\\s${CLOSERS}])|\\n\\s*\\n`,
);

/** A text's sentences, in order (whitespace between them dropped, within them kept). */
export function splitSentences(text: string): string[] {
  return text.split(SPLIT);
}

const END = new RegExp(`[${LATIN_OR_CJK}][${CLOSERS}]*`, 'g');

/**
 * The first sentence of `text` that is at least `minChars` long before its final punctuation (so that "Dr."
 * or "1." does not make a gist), or undefined when no sentence ends in it.
 */
export function firstSentence(text: string, minChars: number): string | undefined {
  for (const m of text.matchAll(END)) {
    if (m.index < minChars) continue;
    const end = m.index + m[0].length;
    if (end === text.length || /\s/.test(text[end]!) || CJK.includes(m[0][0]!)) return text.slice(0, end);
  }
  return undefined;
}
