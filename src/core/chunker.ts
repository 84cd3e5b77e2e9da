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
 * boundaries; a span with no boundary left is cut between tokens (never inside a character).
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

  const hardSplit = (start: number, end: number): Unit[] => {
    const ids = enc.encode(text.slice(start, end));
    const out: Unit[] = [];
    let pos = start;
    let i = 0;
    while (i < ids.length) {
      let j = Math.min(i + maxTokens, ids.length);
      let piece = enc.decode(ids.slice(i, j));
      // A token may hold part of a multi-byte character; back off until the cut is between characters.
      while (j < ids.length && j > i + 1 && (piece.endsWith('\uFFFD') || !text.startsWith(piece, pos))) {
        j--;
        piece = enc.decode(ids.slice(i, j));
      }
      out.push({ start: pos, end: pos + piece.length, tokens: j - i, level: LEVELS.length + 1 });
      pos += piece.length;
      i = j;
    }
    if (pos < end) out.push({ start: pos, end, tokens: enc.count(text.slice(pos, end)), level: LEVELS.length + 1 });
    return out;
  };

  const queue = text.length ? units(0, text.length, 0) : [];
  const chunks: Chunk[] = [];
  let line = 1;
  let cur: { start: number; end: number; tokens: number } | undefined;

  const flush = () => {
    if (!cur) return;
    const body = text.slice(cur.start, cur.end);
    const lineStart = line;
    let newlines = 0;
    for (let k = body.indexOf('\n'); k !== -1; k = body.indexOf('\n', k + 1)) newlines++;
    line += newlines;
    // A trailing newline belongs to the line it ends, not to the next one.
    const lineEnd = body.endsWith('\n') ? line - 1 : line;
    chunks.push({ ordinal: chunks.length, text: body, tokens: cur.tokens, charStart: cur.start, charEnd: cur.end, lineStart, lineEnd: Math.max(lineStart, lineEnd) });
    cur = undefined;
  };

  for (let q = 0; q < queue.length; q++) {
    const u = queue[q]!;
    if (!cur) {
      cur = { start: u.start, end: u.end, tokens: u.tokens };
      continue;
    }
    if (cur.tokens + u.tokens <= maxTokens) {
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
    flush();
    q--;
  }
  flush();
  return chunks;
}
