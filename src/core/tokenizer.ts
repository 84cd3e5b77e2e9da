import { createRequire } from 'node:module';
import type { TiktokenBPE } from 'js-tiktoken/lite';
import type { EncodingName } from '../config.js';

/** Defined (true) by the bundler in dist/; undefined when running from source. */
declare const VMEM_BUNDLE: true | undefined;
const load = createRequire(import.meta.url);

/**
 * An encoding's BPE ranks (its pre-tokenizer pattern and token table), read the first time a tokenizer
 * of it counts: the table is 1-2 MB of text that start-up and the other encoding never need. The
 * bundle carries only the two encodings vmem counts with, as `dist/ranks/<name>.json` beside the code
 * (scripts/build.mjs writes them from js-tiktoken, whose package holds every encoding, 22 MB, and is
 * only a devDependency); from source, they come from js-tiktoken itself.
 */
function ranksOf(encoding: EncodingName): TiktokenBPE {
  return (
    typeof VMEM_BUNDLE !== 'undefined' ? load(`./ranks/${encoding}.json`) : load(`js-tiktoken/ranks/${encoding}`)
  ) as TiktokenBPE;
}

/** Pieces remembered by a counter; past this the memo starts over, bounding memory on huge corpora. */
const MEMO_LIMIT = 200_000;
/**
 * Texts up to this long (characters) are cut into an array of all their pieces at once: match() with the g
 * flag costs a tenth less than matchAll's match objects, but a longer text (a 64 MiB line) would make an
 * array of millions of strings, so it is walked piece by piece.
 */
const EAGER_TEXT = 1 << 16;
/** Pieces longer than this (characters) are counted in slices: no token of either encoding is longer than 128 bytes. */
const LONG_PIECE = 128;

/**
 * Exact token counts, fast. BPE never merges across the pieces the encoding's pre-tokenizer regex
 * cuts, so a text's count is the sum of its pieces' counts, and pieces repeat (words, punctuation,
 * indentation): each distinct piece is encoded once and remembered. Special-token strings such as
 * `<|endoftext|>` in a document are ordinary text here, as they are to the model reading it.
 */
export class Tokenizer {
  private readonly memo = new Map<string, number>();
  private table?: { ranks: Map<string, number>; pattern: RegExp };

  constructor(readonly encoding: EncodingName) {}

  /**
   * Token bytes (as a binary string, one char per byte) → rank, and the pre-tokenizer: built on first
   * use (about 0.2 s for o200k_base), so a process that never counts never pays for them.
   */
  private get bpe(): { ranks: Map<string, number>; pattern: RegExp } {
    if (this.table) return this.table;
    const source = ranksOf(this.encoding);
    const ranks = new Map<string, number>();
    // js-tiktoken's rank files: lines of "<tag> <first rank> <base64 token> <base64 token> …".
    for (const line of source.bpe_ranks.split('\n')) {
      const [, first, ...tokens] = line.split(' ');
      if (first === undefined) continue;
      const offset = Number.parseInt(first, 10);
      tokens.forEach((t, i) => ranks.set(atob(t), offset + i));
    }
    return (this.table = { ranks, pattern: new RegExp(source.pat_str, 'gu') });
  }

  /** The pre-tokenizer's pieces of `text` with their token counts; they add up to the text's count. */
  *pieces(text: string): Generator<[piece: string, tokens: number]> {
    for (const m of text.matchAll(this.bpe.pattern)) yield [m[0], this.pieceTokens(m[0])];
  }

  /** The longest prefix of `text` of at most `tokens` tokens, cut between pre-tokenizer pieces. */
  head(text: string, tokens: number): string {
    let out = '';
    let used = 0;
    for (const [piece, n] of this.pieces(text)) {
      if (used + n > tokens) break;
      out += piece;
      used += n;
    }
    return out;
  }

  count(text: string): number {
    let n = 0;
    if (text.length > EAGER_TEXT) {
      for (const m of text.matchAll(this.bpe.pattern)) n += this.pieceTokens(m[0]);
      return n;
    }
    for (const piece of text.match(this.bpe.pattern) ?? []) n += this.pieceTokens(piece);
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
      c = this.bpeCount(piece);
      if (this.memo.size >= MEMO_LIMIT) this.memo.clear();
      this.memo.set(piece, c);
    }
    return c;
  }

  /**
   * Tokens of one piece by byte-pair merge, as tiktoken does it: each round merges the adjacent pair
   * of lowest rank (the first on ties), and only the two pair ranks next to a merge change. The parts'
   * starts and pair ranks live in two scratch arrays shared by every call (a piece is at most
   * LONG_PIECE characters, so 4 × LONG_PIECE bytes): the first ingest meets tens of thousands of new
   * pieces, and per-call arrays made it a tenth slower, most of it in the garbage collector.
   */
  private bpeCount(piece: string): number {
    // One char per UTF-8 byte, so substrings are byte ranges and look up the table directly.
    const bytes = ASCII.test(piece) ? piece : Buffer.from(piece, 'utf8').toString('latin1');
    const { ranks } = this.bpe;
    if (bytes.length <= 1 || ranks.has(bytes)) return 1;
    const starts = SCRATCH_STARTS;
    const pairs = SCRATCH_PAIRS;
    let parts = bytes.length; // starts[0..parts] are the parts' bounds; pairs[i] ranks parts i and i+1 merged
    for (let i = 0; i <= parts; i++) starts[i] = i;
    const rankAt = (i: number) => ranks.get(bytes.slice(starts[i]!, starts[i + 2]!)) ?? NO_RANK;
    for (let i = 0; i + 1 < parts; i++) pairs[i] = rankAt(i);
    for (;;) {
      let best = NO_RANK;
      let at = -1;
      for (let i = 0; i + 1 < parts; i++) {
        if (pairs[i]! < best) {
          best = pairs[i]!;
          at = i;
        }
      }
      if (at < 0) return parts;
      // Part at+1 joins part at: drop its start and its pair.
      starts.copyWithin(at + 1, at + 2, parts + 1);
      pairs.copyWithin(at + 1, at + 2, parts - 1);
      parts--;
      if (at + 1 < parts) pairs[at] = rankAt(at);
      if (at > 0) pairs[at - 1] = rankAt(at - 1);
    }
  }
}

/** Above every rank: a pair that is no token. */
const NO_RANK = 2 ** 31 - 1;
const SCRATCH_STARTS = new Int32Array(4 * LONG_PIECE + 1);
const SCRATCH_PAIRS = new Int32Array(4 * LONG_PIECE);

// biome-ignore lint/suspicious/noControlCharactersInRegex: the whole ASCII range, control characters included
const ASCII = /^[\x00-\x7f]*$/;

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
