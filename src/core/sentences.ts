/** Sentence ends (Latin and CJK punctuation followed by space) and paragraph breaks. */
const SENTENCE_END = /(?<=[.!?。！？])\s+|\n\s*\n/;

/** A text's sentences, in order, as cut by the lexical index and the extractive compressor alike. */
export function splitSentences(text: string): string[] {
  return text.split(SENTENCE_END);
}
