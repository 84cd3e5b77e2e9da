import { SENTENCE_END_BEFORE_SPACE } from './sentences.js';
import type { Tokenizer } from './tokenizer.js';

/** One cut of a document, before it becomes a page. Offsets are UTF-16 code units into the document. */
export interface Chunk {
  ordinal: number;
  text: string;
  tokens: number;
  charStart: number;
  charEnd: number;
  /** 1-based, inclusive. */
  lineStart: number;
  lineEnd: number;
}

interface Unit {
  start: number;
  end: number;
  tokens: number;
  /** 0 section, 1 paragraph, 2 sentence, 3 line: the next finer level it can be cut at. */
  level: number;
}

// Each boundary splits *before* the whitespace that follows a sentence end, and *after* a blank-line run.
// BPE never merges across those pre-tokenizer boundaries, so the token count of a page is the sum of its units'.
/** A blank-line run before a Markdown heading: a section starts there. A subset of the paragraph cuts. */
const SECTION = /\n[ \t]*\n\s*(?=#{1,6}[ \t])/g;
const PARAGRAPH = /\n[ \t]*\n\s*/g;
const LINE = /\n/g;
/** Coarsest first: a page closes at a section's start rather than inside it when it can (see chunkText). */
const LEVELS = [SECTION, PARAGRAPH, SENTENCE_END_BEFORE_SPACE, LINE];

/** Code points that extend the grapheme before them: combining marks, ZWJ, variation selectors, skin tones, tags. */
// biome-ignore lint/suspicious/noMisleadingCharacterClass: each code point of the class is matched on its own, after the grapheme it extends
const EXTENDS = /^[\p{M}\u200D\uFE0F\u{1F3FB}-\u{1F3FF}\u{E0020}-\u{E007F}]/u;
const REGIONAL = /^[\u{1F1E6}-\u{1F1FF}]/u;

/**
 * Whether a cut before `text[i]` keeps user-perceived characters whole. A local rule set rather than
 * Intl.Segmenter, whose segments each copy the whole input (quadratic on long runs).
 */
export function graphemeBoundary(text: string, i: number): boolean {
  if (i <= 0 || i >= text.length) return true;
  const code = text.charCodeAt(i);
  if (code >= 0xdc00 && code <= 0xdfff) return false; // inside a surrogate pair
  const prev = text.charCodeAt(i - 1);
  if (prev === 0x200d || (prev === 0x0d && code === 0x0a)) return false; // after a joiner; inside CR LF
  const next = text.slice(i, i + 2);
  if (EXTENDS.test(next)) return false;
  if (REGIONAL.test(next)) {
    // Flags are pairs of regional indicators: a cut is fine only after an even number of them.
    let n = 0;
    for (let j = i - 2; j >= 0 && REGIONAL.test(text.slice(j, j + 2)); j -= 2) n++;
    return n % 2 === 0;
  }
  return true;
}

/** Offsets in (start, end) just after each match of `re` in that span, lazily: a huge span never becomes a huge array. */
function* cutPoints(text: string, start: number, end: number, re: RegExp): Generator<number> {
  // matchAll works on its own copy of the regex, so suspended walks over other spans cannot disturb it.
  for (const m of text.slice(start, end).matchAll(re)) {
    const at = start + m.index + m[0].length;
    if (at > start && at < end) yield at;
  }
}

/**
 * Cuts `text` into chunks of at most `maxTokens` tokens, at the start of a Markdown section (a blank line
 * then a `#` heading), then paragraph, sentence and line boundaries; a span with no boundary left is cut
 * between tokens (never inside a character or grapheme). Each paragraph is counted once, so chunking costs
 * at most one pass of the tokenizer, two for the text of sections longer than a page.
 * Units are produced lazily and every array holds at most a page's worth of them, so memory and the call
 * stack stay bounded on any input (a 64 MiB line of minified JSON is one span cut into millions of pieces).
 */
export function chunkText(text: string, maxTokens: number, enc: Tokenizer): Chunk[] {
  /**
   * The units of [start, end) at `level` and finer. `overlong` says the caller knows the span holds more
   * than a page: without a boundary at this level it goes straight to the next, without counting it again.
   */
  function* units(start: number, end: number, level: number, overlong = false): Generator<Unit> {
    const re = LEVELS[level];
    if (!re) return yield* hardSplit(start, end);
    let from = start;
    for (const at of cutPoints(text, start, end, re)) {
      yield* span(from, at, level);
      from = at;
    }
    // A text without headings is not counted as one section: it goes straight to its paragraphs.
    if (from === start && (overlong || re === SECTION)) yield* units(start, end, level + 1, overlong);
    else yield* span(from, end, level);
  }

  /** One span between boundaries of `level`: a unit if it fits, else its finer units. */
  function* span(start: number, end: number, level: number): Generator<Unit> {
    const tokens = enc.count(text.slice(start, end));
    if (tokens > maxTokens) yield* units(start, end, level + 1, true);
    else yield { start, end, tokens, level: level + 1 };
  }

  // Below line level, pages are packed from the pre-tokenizer's pieces, which are always token
  // boundaries, joined where a cut would split a grapheme (cl100k makes a combining accent its own
  // piece). Only a run larger than a page is cut inside.
  function* hardSplit(start: number, end: number): Generator<Unit> {
    let from = start;
    let pos = start;
    let tokens = 0;
    for (const [piece, n] of enc.pieces(text.slice(start, end))) {
      pos += piece.length;
      tokens += n;
      if (pos < end && !graphemeBoundary(text, pos)) continue;
      if (tokens <= maxTokens) yield { start: from, end: pos, tokens, level: LEVELS.length };
      else yield* splitRun(from, pos);
      from = pos;
      tokens = 0;
    }
  }

  function* splitRun(start: number, end: number): Generator<Unit> {
    let pos = start;
    while (pos < end) {
      // A window that surely holds more than a page (a token rarely spans 8 characters), grown if not.
      let hi = Math.min(end, pos + maxTokens * 8);
      while (hi < end && enc.count(text.slice(pos, hi)) <= maxTokens) hi = Math.min(end, pos + (hi - pos) * 2);
      let cut = hi;
      if (enc.count(text.slice(pos, hi)) > maxTokens) {
        // The longest prefix that fits, by binary search, then back to a grapheme boundary.
        let lo = pos + 1;
        let top = hi - 1;
        cut = pos + 1;
        while (lo <= top) {
          const mid = (lo + top) >> 1;
          if (enc.count(text.slice(pos, mid)) <= maxTokens) {
            cut = mid;
            lo = mid + 1;
          } else top = mid - 1;
        }
        for (let back = cut; back > pos + 1; back--) {
          if (graphemeBoundary(text, back)) {
            cut = back;
            break;
          }
        }
      }
      yield { start: pos, end: cut, tokens: enc.count(text.slice(pos, cut)), level: LEVELS.length };
      pos = cut;
    }
  }

  const source: Iterator<Unit> = units(0, text.length, 0);
  /** Units to take before the source's next one, the next last: a page's units sent back, a unit cut finer. */
  const back: Unit[] = [];
  const next = (): Unit | undefined => {
    if (back.length) return back.pop();
    const r = source.next();
    return r.done ? undefined : r.value;
  };
  const chunks: Chunk[] = [];
  let line = 1;
  /** The page being filled: its units, and the sum of their counts. */
  let cur: { units: Unit[]; tokens: number } | undefined;

  /**
   * Closes the page with its exact count. Units are counted apart, and a token can span a cut (".\n"
   * is one token), so the sum over-counts slightly; in the rare case the exact count is higher, the
   * last units go back to be taken again.
   */
  const flush = (): void => {
    if (!cur) return;
    const units = cur.units;
    const start = units[0]!.start;
    let end = units[units.length - 1]!.end;
    let body = text.slice(start, end);
    let tokens = enc.count(body);
    while (tokens > maxTokens && units.length > 1) {
      back.push(units.pop()!);
      end = units[units.length - 1]!.end;
      body = text.slice(start, end);
      tokens = enc.count(body);
    }
    const lineStart = line;
    let newlines = 0;
    for (let k = body.indexOf('\n'); k !== -1; k = body.indexOf('\n', k + 1)) newlines++;
    line += newlines;
    // A trailing newline belongs to the line it ends, not to the next one.
    const lineEnd = body.endsWith('\n') ? line - 1 : line;
    chunks.push({
      ordinal: chunks.length,
      text: body,
      tokens,
      charStart: start,
      charEnd: end,
      lineStart,
      lineEnd: Math.max(lineStart, lineEnd),
    });
    cur = undefined;
  };

  if (!text.length) return chunks;
  for (let u = next(); u || cur; u = next()) {
    if (!u) {
      flush(); // the last page; units it sends back start another
      continue;
    }
    if (!cur) {
      cur = { units: [u], tokens: u.tokens };
      continue;
    }
    if (cur.tokens + u.tokens <= maxTokens) {
      cur.units.push(u);
      cur.tokens += u.tokens;
      continue;
    }
    // The unit does not fit. A page under half full is topped up with the unit's sentences (or lines)
    // rather than closed early; otherwise the page closes at this boundary.
    if (cur.tokens < maxTokens / 2 && u.level < LEVELS.length) {
      // A unit fits in a page, so it has at most a page's worth of finer units.
      const finer = Array.from(units(u.start, u.end, u.level));
      if (finer.length > 1) {
        for (let i = finer.length - 1; i >= 0; i--) back.push(finer[i]!);
        continue;
      }
    }
    back.push(u);
    flush();
  }
  return chunks;
}
