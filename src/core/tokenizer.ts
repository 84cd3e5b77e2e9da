import { Tiktoken, type TiktokenBPE } from 'js-tiktoken/lite';
import cl100k_base from 'js-tiktoken/ranks/cl100k_base';
import o200k_base from 'js-tiktoken/ranks/o200k_base';
import type { EncodingName } from '../config.js';

const RANKS: Record<EncodingName, TiktokenBPE> = { o200k_base, cl100k_base };

/** Pieces remembered by a counter; past this the memo starts over, bounding memory on huge corpora. */
const MEMO_LIMIT = 200_000;
/** Pieces longer than this (characters) are counted in slices; no real word comes near it. */
const LONG_PIECE = 64;

/**
 * Exact token counts, fast. BPE never merges across the pieces the encoding's pre-tokenizer regex
 * cuts, so a text's count is the sum of its pieces' counts, and pieces repeat (words, punctuation,
 * indentation): each distinct piece is encoded once and remembered. Special-token strings such as
 * `<|endoftext|>` in a document are ordinary text here, as they are to the model reading it.
 */
export class Tokenizer {
  private readonly tiktoken: Tiktoken;
  private readonly pattern: RegExp;
  private readonly memo = new Map<string, number>();

  constructor(readonly encoding: EncodingName) {
    const ranks = RANKS[encoding];
    this.tiktoken = new Tiktoken(ranks);
    this.pattern = new RegExp(ranks.pat_str, 'gu');
  }

  /** The pre-tokenizer's pieces of `text` with their token counts; they add up to the text's count. */
  *pieces(text: string): Generator<[piece: string, tokens: number]> {
    for (const m of text.matchAll(this.pattern)) yield [m[0], this.pieceTokens(m[0])];
  }

  count(text: string): number {
    let n = 0;
    for (const m of text.matchAll(this.pattern)) n += this.pieceTokens(m[0]);
    return n;
  }

  private pieceTokens(piece: string): number {
    if (piece.length > LONG_PIECE) {
      // BPE is quadratic in a piece's length: a 3,000-character run with no space would stall ingest
      // for seconds. Such runs (base64, long CJK lines, minified code) are counted in slices instead,
      // which can only add tokens at the cuts: a safe bound, off by about one token per slice. The run
      // itself is not remembered (it is rarely seen twice and would bloat the memo); its slices are.
      let c = 0;
      for (let at = 0; at < piece.length; ) {
        let to = Math.min(piece.length, at + LONG_PIECE);
        if (to < piece.length && isLowSurrogate(piece.charCodeAt(to))) to++;
        c += this.pieceTokens(piece.slice(at, to));
        at = to;
      }
      return c;
    }
    let c = this.memo.get(piece);
    if (c === undefined) {
      c = this.tiktoken.encode(piece, [], []).length;
      if (this.memo.size >= MEMO_LIMIT) this.memo.clear();
      this.memo.set(piece, c);
    }
    return c;
  }
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
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
