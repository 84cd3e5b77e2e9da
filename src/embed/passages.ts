import { splitSentences } from '../core/sentences.js';
import type { Tokenizer } from '../core/tokenizer.js';

/**
 * Tokens per passage. Embedding models read 512 tokens or fewer (nomic-embed-text's default context,
 * BERT-style TEI models) and a vector of a whole 2,000-token page blurs its topics together, so a page
 * is embedded as passages of a few sentences and scores by its best one.
 */
export const PASSAGE_TOKENS = 256;

const WORD_BREAK = /(?<=\s)/;

/**
 * A text cut into passages of whole sentences, each at most `maxTokens` tokens; a sentence longer than that
 * is cut between words (a word longer than that stands alone: the model truncates it, nothing is lost here
 * but its tail).
 */
export function passagesOf(text: string, tok: Tokenizer, maxTokens = PASSAGE_TOKENS): string[] {
  const out: string[] = [];
  let current: string[] = [];
  let tokens = 0;
  const push = (piece: string, n: number) => {
    if (tokens + n > maxTokens && current.length) {
      out.push(current.join(' '));
      current = [];
      tokens = 0;
    }
    current.push(piece);
    tokens += n;
  };
  for (const raw of splitSentences(text)) {
    const sentence = raw.trim();
    if (!sentence) continue;
    const n = tok.count(sentence);
    if (n <= maxTokens) push(sentence, n);
    else for (const word of sentence.split(WORD_BREAK)) push(word.trim(), tok.count(word));
  }
  if (current.length) out.push(current.join(' '));
  return out.filter((p) => p.trim());
}
