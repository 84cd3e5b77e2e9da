import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { getEncoding } from 'js-tiktoken';
import { type Chunk, chunkText } from '../src/core/chunker.ts';
import { pageIdOf, sha256 } from '../src/core/hash.ts';
import { tokenizer } from '../src/core/tokenizer.ts';
import { chapters, demoDoc, REPO } from './helpers.ts';

type Tiktoken = ReturnType<typeof tokenizer>;

const o200k = tokenizer('o200k_base');
const cl100k = tokenizer('cl100k_base');
/** js-tiktoken itself, the reference the chunker's fast counts must agree with. */
const REFERENCE = new Map([
  [o200k, getEncoding('o200k_base')],
  [cl100k, getEncoding('cl100k_base')],
]);
const ref = (enc: Tiktoken) => REFERENCE.get(enc)!;
const ENCODINGS: [string, Tiktoken][] = [
  ['o200k_base', o200k],
  ['cl100k_base', cl100k],
];

/** Newlines in text[0, end). */
function newlinesBefore(text: string, end: number): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < end; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

/**
 * The invariants every chunking must keep: bound, exact reassembly, contiguous char ranges, right
 * line ranges, sequential ordinals, nothing empty.
 */
function checkInvariants(text: string, chunks: Chunk[], max: number, enc: Tiktoken): void {
  assert.equal(chunks.map((c) => c.text).join(''), text, 'pages must concatenate back to the exact input');
  let pos = 0;
  chunks.forEach((c, i) => {
    assert.equal(c.ordinal, i, 'ordinals are 0..n-1 in order');
    assert.ok(c.text.length > 0, `page ${i} is empty`);
    const actual = ref(enc).encode(c.text).length;
    assert.ok(actual <= max, `page ${i} has ${actual} tokens, over the ${max}-token bound`);
    assert.ok(c.tokens <= max, `page ${i} records ${c.tokens} tokens, over the bound`);
    assert.equal(c.charStart, pos, `page ${i} starts where page ${i - 1} ended`);
    assert.equal(c.charEnd, c.charStart + c.text.length);
    assert.equal(text.slice(c.charStart, c.charEnd), c.text, 'char range addresses the page text');
    const lineStart = 1 + newlinesBefore(text, c.charStart);
    assert.equal(c.lineStart, lineStart, `page ${i} lineStart`);
    const inner = c.text.endsWith('\n') ? c.text.slice(0, -1) : c.text;
    const lineEnd = lineStart + newlinesBefore(inner, inner.length);
    assert.equal(c.lineEnd, lineEnd, `page ${i} lineEnd`);
    pos = c.charEnd;
  });
  assert.equal(pos, text.length);
}

/** How many tokens pages record vs what their text re-encodes to. */
function tokenMismatches(chunks: Chunk[], enc: Tiktoken): { ordinal: number; recorded: number; actual: number }[] {
  return chunks
    .map((c) => ({ ordinal: c.ordinal, recorded: c.tokens, actual: ref(enc).encode(c.text).length }))
    .filter((m) => m.recorded !== m.actual);
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Code-point integrity: no lone surrogate at either end, no replacement character introduced. */
function assertWholeCodePoints(text: string, chunks: Chunk[]): void {
  const hadFffd = text.includes('\uFFFD');
  for (const c of chunks) {
    assert.ok(!/^[\uDC00-\uDFFF]/.test(c.text), `page ${c.ordinal} starts with a low surrogate (split mid-character)`);
    assert.ok(!/[\uD800-\uDBFF]$/.test(c.text), `page ${c.ordinal} ends with a high surrogate (split mid-character)`);
    if (!hadFffd) assert.ok(!c.text.includes('\uFFFD'), `page ${c.ordinal} contains U+FFFD`);
    assert.ok(!LONE_SURROGATE.test(c.text), `page ${c.ordinal} is not well-formed UTF-16`);
  }
}

const paragraph = (i: number, sentences = 4) =>
  Array.from(
    { length: sentences },
    (_, s) => `Paragraph ${i} sentence ${s} talks about topic number ${(i * 7 + s) % 13} in some detail.`,
  ).join(' ');

describe('chunker: token bound and reassembly', () => {
  for (const [name, enc] of ENCODINGS) {
    for (const max of [64, 200, 2000]) {
      test(`chapters, ${name}, ${max}-token pages`, () => {
        const text = chapters(3);
        const chunks = chunkText(text, max, enc);
        assert.ok(chunks.length >= (max === 2000 ? 3 : 20), `expected several pages, got ${chunks.length}`);
        checkInvariants(text, chunks, max, enc);
      });
    }
  }

  test('demo manual slice, o200k_base, 200-token pages', () => {
    const text = demoDoc().slice(0, 120_000);
    const chunks = chunkText(text, 200, o200k);
    assert.ok(chunks.length > 100);
    checkInvariants(text, chunks, 200, o200k);
  });

  test('a long text counts as js-tiktoken encodes it, walked piece by piece or taken whole', () => {
    // 120,000 characters are past the length up to which count() takes all pieces at once; 20,000 are not.
    for (const text of [demoDoc().slice(0, 120_000), demoDoc().slice(0, 20_000)])
      for (const [name, enc] of ENCODINGS) assert.equal(enc.count(text), ref(enc).encode(text).length, name);
  });

  test('empty text gives no pages; whitespace-only text is one page', () => {
    assert.deepEqual(chunkText('', 64, o200k), []);
    const ws = chunkText('  \n\n \t\n', 64, o200k);
    assert.equal(ws.length, 1);
    checkInvariants('  \n\n \t\n', ws, 64, o200k);
  });

  test('a text that fits is one page with the exact token count', () => {
    const text = 'A short note.\n\nWith two paragraphs.\n';
    const [c, ...rest] = chunkText(text, 64, cl100k);
    assert.equal(rest.length, 0);
    assert.equal(c!.text, text);
    assert.equal(c!.tokens, ref(cl100k).encode(text).length);
    assert.deepEqual([c!.lineStart, c!.lineEnd], [1, 3]);
  });
});

describe('chunker: recorded token counts', () => {
  test('recorded tokens equal the re-encoded count when pages are whole paragraphs', () => {
    // Every paragraph fits, and no page is topped up with sentences: the count is exact.
    const text = Array.from({ length: 40 }, (_, i) => paragraph(i)).join('\n\n');
    for (const [, enc] of ENCODINGS) {
      const chunks = chunkText(text, 400, enc);
      assert.ok(chunks.length > 3);
      assert.deepEqual(tokenMismatches(chunks, enc), []);
    }
  });

  test('recorded tokens equal the re-encoded count when a paragraph is split into sentences or lines', () => {
    // Minimal repro: 30 one-sentence lines, no blank line, so the paragraph is split by sentences.
    const text = Array.from({ length: 30 }, (_, i) => `Item ${i} is listed.`).join('\n');
    const chunks = chunkText(text, 64, o200k);
    assert.deepEqual(tokenMismatches(chunks, o200k), [], 'o200k, 64-token pages');
    for (const [, enc] of ENCODINGS) {
      const text = chapters(2);
      assert.deepEqual(tokenMismatches(chunkText(text, 200, enc), enc), [], 'chapters, 200-token pages');
    }
  });

  test('recorded tokens never undercount (the bound is safe even where counts are inexact)', () => {
    for (const [, enc] of ENCODINGS) {
      for (const text of [chapters(2), Array.from({ length: 30 }, (_, i) => `Item ${i} is listed.`).join('\n')]) {
        for (const m of tokenMismatches(chunkText(text, 64, enc), enc)) {
          assert.ok(m.recorded > m.actual, `page ${m.ordinal} records ${m.recorded} tokens but holds ${m.actual}`);
        }
      }
    }
  });
});

describe('chunker: where cuts land', () => {
  test('cuts land on paragraph boundaries when paragraphs fit', () => {
    const paras = Array.from({ length: 30 }, (_, i) => paragraph(i));
    const text = paras.join('\n\n');
    const max = 200;
    for (const p of paras)
      assert.ok(ref(o200k).encode(p).length < max / 2, 'fixture: every paragraph fits in half a page');
    const chunks = chunkText(text, max, o200k);
    checkInvariants(text, chunks, max, o200k);
    assert.ok(chunks.length >= 5);
    const starts = new Set<number>();
    let at = 0;
    for (const p of paras) {
      starts.add(at);
      at += p.length + 2;
    }
    for (const c of chunks.slice(1)) {
      assert.ok(
        starts.has(c.charStart),
        `page ${c.ordinal} starts at ${c.charStart}, not at a paragraph start: ${JSON.stringify(c.text.slice(0, 40))}`,
      );
      assert.ok(chunks[c.ordinal - 1]!.text.endsWith('\n\n'), 'the previous page ends with the blank line');
    }
    // Greedy: a page is closed only when the next paragraph would not fit.
    for (const c of chunks.slice(0, -1)) {
      const next = chunks[c.ordinal + 1]!;
      const nextPara = text.slice(
        next.charStart,
        text.indexOf('\n\n', next.charStart) === -1 ? text.length : text.indexOf('\n\n', next.charStart) + 2,
      );
      assert.ok(
        ref(o200k).encode(c.text + nextPara).length > max,
        `page ${c.ordinal} closed early: the next paragraph would have fit`,
      );
    }
  });

  test('a single overlong paragraph is split at sentence ends', () => {
    const text = Array.from(
      { length: 60 },
      (_, i) => `Sentence number ${i} of this very long paragraph says something new.`,
    ).join(' ');
    const chunks = chunkText(text, 100, cl100k);
    checkInvariants(text, chunks, 100, cl100k);
    assert.ok(chunks.length >= 5);
    for (const c of chunks.slice(0, -1)) {
      assert.match(
        c.text,
        /\.$/,
        `page ${c.ordinal} does not end at a sentence end: …${JSON.stringify(c.text.slice(-30))}`,
      );
      assert.match(chunks[c.ordinal + 1]!.text, /^ Sentence/, 'the next page starts with the next sentence');
    }
  });

  test('an overlong sentence with line breaks is split at line ends', () => {
    const text = Array.from({ length: 80 }, (_, i) => `line ${i} of a listing without any sentence punctuation`).join(
      '\n',
    );
    const chunks = chunkText(text, 80, o200k);
    checkInvariants(text, chunks, 80, o200k);
    assert.ok(chunks.length >= 5);
    for (const c of chunks.slice(0, -1)) {
      assert.ok(
        c.text.endsWith('\n'),
        `page ${c.ordinal} is not cut at a line end: …${JSON.stringify(c.text.slice(-30))}`,
      );
      assert.match(chunks[c.ordinal + 1]!.text, /^line \d+ /, 'the next page starts at the beginning of a line');
    }
  });

  test('a span with no boundary is cut between tokens', () => {
    const text = Array.from({ length: 500 }, (_, i) => `word${i}`).join(' ');
    for (const [, enc] of ENCODINGS) {
      const chunks = chunkText(text, 64, enc);
      checkInvariants(text, chunks, 64, enc);
      assert.ok(chunks.length >= 10);
      // Token boundaries of the whole text (ASCII, so decoded lengths are char offsets).
      const bounds = new Set<number>([0]);
      let at = 0;
      for (const id of ref(enc).encode(text)) bounds.add((at += ref(enc).decode([id]).length));
      for (const c of chunks)
        assert.ok(bounds.has(c.charStart), `page ${c.ordinal} starts mid-token at ${c.charStart}`);
      assert.deepEqual(tokenMismatches(chunks, enc), [], 'hard-split pages record their exact count');
      // Pages are filled: every page but the last is close to the bound.
      for (const c of chunks.slice(0, -1)) assert.ok(c.tokens >= 60, `page ${c.ordinal} has only ${c.tokens} tokens`);
    }
  });

  test('char and line ranges over a mixed document', () => {
    const text = ['Title line', '', paragraph(1, 20), '', 'a\nb\nc', '', paragraph(2, 30), ''].join('\n');
    for (const [, enc] of ENCODINGS) checkInvariants(text, chunkText(text, 64, enc), 64, enc);
    const chunks = chunkText(text, 64, o200k);
    assert.equal(chunks[0]!.lineStart, 1);
    assert.equal(
      chunks.at(-1)!.lineEnd,
      text.split('\n').length - 1,
      'the last page ends on the last line (a trailing newline opens no new line)',
    );
  });
});

describe('chunker: unicode', () => {
  // Runs are kept short (separated by spaces or CJK punctuation): js-tiktoken's BPE is superlinear in
  // the length of one pre-token, see the performance test below.
  const group = (s: string, n: number, sep: string) => Array.from({ length: n }, () => s).join(sep);
  const cases: Record<string, string> = {
    emoji: group('🎉😀🚀👍🔥', 120, ' '),
    'emoji with words': Array.from({ length: 200 }, (_, i) => `item${i}🎉😀🚀`).join(' '),
    cjk: group('我们在这里测试中文文本的分割是否正确处理每一个字符', 40, '，'),
    'cjk supplementary plane': group('𠀀𠀁𠀂𡃁𢄃𣅄𤆅𥇆', 60, '、'),
    'combining marks': group('ne\u0301e\u0301 cafe\u0301 nai\u0308ve Ångström', 150, ' '),
    mixed: `Héllo 世界 🎉 naïve café. Ünïcödé ｆｕｌｌｗｉｄｔｈ. ${group('😀😀😀', 8, ' ')}\n`.repeat(20),
  };
  for (const [name, enc] of ENCODINGS) {
    for (const [label, text] of Object.entries(cases)) {
      test(`${label}, ${name}: bound holds and no code point is split`, () => {
        const chunks = chunkText(text, 64, enc);
        assert.ok(chunks.length >= 3, `expected several pages, got ${chunks.length}`);
        checkInvariants(text, chunks, 64, enc);
        assertWholeCodePoints(text, chunks);
      });
    }
  }

  test('combining marks, ZWJ emoji and flags stay with their base character (no page starts inside a grapheme)', () => {
    const seg = new Intl.Segmenter('en', { granularity: 'grapheme' });
    const texts = [group('ne\u0301e\u0301 cafe\u0301 nai\u0308ve', 150, ' '), group('👨‍👩‍👧‍👦🇫🇷', 25, ' ')];
    const problems: string[] = [];
    for (const text of texts) {
      const starts = new Set([...seg.segment(text)].map((s) => s.index));
      for (const [name, enc] of ENCODINGS) {
        for (const c of chunkText(text, 64, enc)) {
          if (!starts.has(c.charStart))
            problems.push(
              `${name} page ${c.ordinal} starts with ${[...c.text.slice(0, 2)].map((ch) => `U+${ch.codePointAt(0)!.toString(16)}`).join(' ')}`,
            );
        }
      }
    }
    assert.deepEqual(problems, []);
  });

  test('a long run without boundaries does not stall chunking', () => {
    // In a child process with a hard timeout, so a slow chunker cannot stall the suite.
    const code = `import { chunkText } from './src/core/chunker.ts'; import { tokenizer } from './src/core/tokenizer.ts';
        const pages = chunkText('我'.repeat(2000) + '。', 200, tokenizer('o200k_base')); console.log(pages.length);`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
      cwd: REPO,
      timeout: 30_000,
      encoding: 'utf8',
    });
    assert.equal(
      r.signal,
      null,
      'chunking 2,000 unbroken CJK characters did not finish in 30 s (BPE on the whole run is quadratic; long runs must be counted in slices)',
    );
    assert.equal(r.status, 0, r.stderr);
    assert.ok(Number(r.stdout.trim()) >= 5);
  });
});

describe('chunker: one-line inputs', () => {
  // Minified code and one-line JSON: one span with no paragraph, sentence or line break, cut into a
  // pre-tokenizer piece every two or three characters (over 100,000 pieces here, more than a call's arguments may hold).
  const numbers = () => {
    const values: number[] = [];
    for (let i = 0, n = 0; n < 300_000; i++, n += String(values.at(-1)).length + 1) values.push((i * 7919) % 1000);
    return JSON.stringify({ values });
  };
  const words = () => Array.from({ length: 150_000 }, (_, i) => 'aeiouxyz'[i % 8]).join(' ');
  for (const [label, make] of [
    ['a 300 kB line of minified JSON', numbers],
    ['a 300 kB paragraph of short words with no sentence end', words],
  ] as const) {
    test(`${label} pages like any text`, () => {
      const text = make();
      assert.ok(text.length >= 200_000 && !/[\n.!?]/.test(text), 'fixture: one line, no sentence end');
      const chunks = chunkText(text, 2000, o200k);
      assert.ok(chunks.length >= 50, `expected many pages, got ${chunks.length}`);
      checkInvariants(text, chunks, 2000, o200k);
      for (const c of chunks.slice(0, -1))
        assert.ok(c.tokens >= 1990, `page ${c.ordinal} has only ${c.tokens} tokens: pages of a run are filled`);
    });
  }
});

describe('chunker: page ids', () => {
  test('page ids are content-addressed and stable across calls and encodings of the same cut', () => {
    const text = chapters(2);
    const ids = (enc: Tiktoken) => chunkText(text, 200, enc).map((c) => pageIdOf(sha256(c.text)));
    const a = ids(o200k);
    const b = ids(o200k);
    assert.deepEqual(a, b);
    for (const id of a) assert.match(id, /^p[0-9a-f]{20}$/);
    assert.equal(new Set(a).size, a.length, 'distinct pages have distinct ids');
    // The id depends on the text only.
    const c = chunkText(text, 200, o200k)[3]!;
    assert.equal(pageIdOf(sha256(c.text)), `p${sha256(c.text).slice(0, 20)}`);
    assert.notEqual(pageIdOf(sha256(`${c.text} `)), pageIdOf(sha256(c.text)));
  });

  test('chunking is deterministic: same input, same cuts, same counts', () => {
    const text = demoDoc().slice(0, 50_000);
    assert.deepEqual(chunkText(text, 128, cl100k), chunkText(text, 128, cl100k));
  });
});
