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
  /** 0 paragraph, 1 sentence, 2 line: the next finer level it can be cut at. */
  level: number;
}

// Each boundary splits *before* the whitespace that follows a sentence end, and *after* a blank-line run.
// BPE never merges across those pre-tokenizer boundaries, so the token count of a page is the sum of its units'.
const PARAGRAPH = /\n[ \t]*\n\s*/g;
const SENTENCE = /[.!?。！？][)"'\]\u201d\u2019]*(?=\s)/g;
const LINE = /\n/g;
const LEVELS = [PARAGRAPH, SENTENCE, LINE];

/** Code points that extend the grapheme before them: combining marks, ZWJ, variation selectors, skin tones, tags. */
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

function cutPoints(text: string, start: number, end: number, re: RegExp): number[] {
  const slice = text.slice(start, end);
  const points: number[] = [];
  re.lastIndex = 0;
  for (let m = re.exec(slice); m; m = re.exec(slice)) {
    const at = start + m.index + m[0].length;
    if (at > start && at < end) points.push(at);
    if (m[0].length === 0) re.lastIndex++;
  }
  return points;
}

/**
 * Cuts `text` into chunks of at most `maxTokens` tokens, at paragraph, then sentence, then line
 * boundaries; a span with no boundary left is cut between tokens (never inside a character or grapheme).
 * Each paragraph is counted once, so chunking costs at most one pass of the tokenizer.
 */
export function chunkText(text: string, maxTokens: number, enc: Tokenizer): Chunk[] {
  const units = (start: number, end: number, level: number): Unit[] => {
    const re = LEVELS[level];
    if (!re) return hardSplit(start, end);
    const bounds = [start, ...cutPoints(text, start, end, re), end];
    const out: Unit[] = [];
    for (let i = 0; i + 1 < bounds.length; i++) {
      const s = bounds[i]!;
      const e = bounds[i + 1]!;
      const tokens = enc.count(text.slice(s, e));
      if (tokens > maxTokens) out.push(...units(s, e, level + 1));
      else out.push({ start: s, end: e, tokens, level: level + 1 });
    }
    return out;
  };

  // Below line level, pages are packed from the pre-tokenizer's pieces, which are always token
  // boundaries, joined where a cut would split a grapheme (cl100k makes a combining accent its own
  // piece). Only a run larger than a page is cut inside.
  const hardSplit = (start: number, end: number): Unit[] => {
    const out: Unit[] = [];
    let from = start;
    let pos = start;
    let tokens = 0;
    for (const [piece, n] of enc.pieces(text.slice(start, end))) {
      pos += piece.length;
      tokens += n;
      if (pos < end && !graphemeBoundary(text, pos)) continue;
      if (tokens <= maxTokens) out.push({ start: from, end: pos, tokens, level: LEVELS.length });
      else out.push(...splitRun(from, pos));
      from = pos;
      tokens = 0;
    }
    return out;
  };

  const splitRun = (start: number, end: number): Unit[] => {
    const out: Unit[] = [];
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
      out.push({ start: pos, end: cut, tokens: enc.count(text.slice(pos, cut)), level: LEVELS.length });
      pos = cut;
    }
    return out;
  };

  const queue = text.length ? units(0, text.length, 0) : [];
  const chunks: Chunk[] = [];
  let line = 1;
  /** The page being filled: its units' start offsets, and the sum of their counts. */
  let cur: { starts: number[]; end: number; tokens: number } | undefined;

  /**
   * Closes the page with its exact count. Units are counted apart, and a token can span a cut (".\n"
   * is one token), so the sum over-counts slightly; in the rare case the exact count is higher, the
   * last units go back to the queue. Returns how many went back.
   */
  const flush = (): number => {
    if (!cur) return 0;
    let body = text.slice(cur.starts[0], cur.end);
    let tokens = enc.count(body);
    let returned = 0;
    while (tokens > maxTokens && cur.starts.length > 1) {
      cur.end = cur.starts.pop()!;
      returned++;
      body = text.slice(cur.starts[0], cur.end);
      tokens = enc.count(body);
    }
    const start = cur.starts[0]!;
    const lineStart = line;
    let newlines = 0;
    for (let k = body.indexOf('\n'); k !== -1; k = body.indexOf('\n', k + 1)) newlines++;
    line += newlines;
    // A trailing newline belongs to the line it ends, not to the next one.
    const lineEnd = body.endsWith('\n') ? line - 1 : line;
    chunks.push({ ordinal: chunks.length, text: body, tokens, charStart: start, charEnd: cur.end, lineStart, lineEnd: Math.max(lineStart, lineEnd) });
    cur = undefined;
    return returned;
  };

  for (let q = 0; q < queue.length; q++) {
    const u = queue[q]!;
    if (!cur) {
      cur = { starts: [u.start], end: u.end, tokens: u.tokens };
      continue;
    }
    if (cur.tokens + u.tokens <= maxTokens) {
      cur.starts.push(u.start);
      cur.end = u.end;
      cur.tokens += u.tokens;
      continue;
    }
    // The unit does not fit. A page under half full is topped up with the unit's sentences (or lines)
    // rather than closed early; otherwise the page closes at this boundary.
    if (cur.tokens < maxTokens / 2 && u.level < LEVELS.length) {
      const finer = units(u.start, u.end, u.level);
      if (finer.length > 1) {
        queue.splice(q, 1, ...finer);
        q--;
        continue;
      }
    }
    q -= flush() + 1;
  }
  // Units sent back by the last flush start a new page.
  for (let back = flush(); back > 0; back = flush()) {
    const rest = queue.slice(queue.length - back);
    cur = { starts: rest.map((u) => u.start), end: rest[rest.length - 1]!.end, tokens: rest.reduce((n, u) => n + u.tokens, 0) };
  }
  return chunks;
}
