import { Tiktoken, type TiktokenBPE } from 'js-tiktoken/lite';
import cl100k_base from 'js-tiktoken/ranks/cl100k_base';
import o200k_base from 'js-tiktoken/ranks/o200k_base';
import type { EncodingName } from '../config.js';

const RANKS: Record<EncodingName, TiktokenBPE> = { o200k_base, cl100k_base };

/** Pieces remembered by a counter; past this the memo starts over, bounding memory on huge corpora. */
const MEMO_LIMIT = 200_000;

/**
 * Exact token counts, fast. BPE never merges across the pieces the encoding's pre-tokenizer regex
 * cuts, so a text's count is the sum of its pieces' counts, and pieces repeat (words, punctuation,
 * indentation): each distinct piece is encoded once and remembered. Special-token strings such as
 * `<|endoftext|>` in a document are ordinary text here, as they are to the model reading it.
 */
export class Tokenizer {
  private readonly tiktoken: Tiktoken;
  private readonly pieces: RegExp;
  private readonly memo = new Map<string, number>();

  constructor(readonly encoding: EncodingName) {
    const ranks = RANKS[encoding];
    this.tiktoken = new Tiktoken(ranks);
    this.pieces = new RegExp(ranks.pat_str, 'gu');
  }

  count(text: string): number {
    let n = 0;
    for (const m of text.matchAll(this.pieces)) {
      const piece = m[0];
      let c = this.memo.get(piece);
      if (c === undefined) {
        c = this.tiktoken.encode(piece, [], []).length;
        if (this.memo.size >= MEMO_LIMIT) this.memo.clear();
        this.memo.set(piece, c);
      }
      n += c;
    }
    return n;
  }

  encode(text: string): number[] {
    return this.tiktoken.encode(text, [], []);
  }

  decode(ids: number[]): string {
    return this.tiktoken.decode(ids);
  }
}

const cache = new Map<EncodingName, Tokenizer>();

/** The shared tokenizer for an encoding; building the BPE ranks is costly, so it is built once per process. */
export function tokenizer(encoding: EncodingName): Tokenizer {
  let t = cache.get(encoding);
  if (!t) {
    t = new Tokenizer(encoding);
    cache.set(encoding, t);
  }
  return t;
}

/** Tokens in `text` under `encoding`. */
export function countTokens(text: string, encoding: EncodingName): number {
  return tokenizer(encoding).count(text);
}
