/**
 * One rule for where sentences end (src/core/sentences.ts), shared by the chunker, the lexical index, the
 * extractive compressor and the gist: closing quotes stay with their sentence, CJK sentences end without a space.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { chunkText } from '../src/core/chunker.ts';
import { gistOf } from '../src/core/page.ts';
import { firstSentence, SENTENCE_END_BEFORE_SPACE, splitSentences } from '../src/core/sentences.ts';
import { tokenizer } from '../src/core/tokenizer.ts';

describe('sentences', () => {
  test('split after final punctuation and its closing quotes, at whitespace or a blank line', () => {
    const cases: [string, string[]][] = [
      ['One. Two! Three? Four', ['One.', 'Two!', 'Three?', 'Four']],
      ['He said "Stop." Then he left.', ['He said "Stop."', 'Then he left.']],
      ["(As noted.) Next 'quoted?' Last", ['(As noted.)', "Next 'quoted?'", 'Last']],
      [
        'She wrote \u201cDone.\u201d It was \u2018over.\u2019 End',
        ['She wrote \u201cDone.\u201d', 'It was \u2018over.\u2019', 'End'],
      ],
      ['Pi is 3.14 today. See e.g.x and vmem.dev now', ['Pi is 3.14 today.', 'See e.g.x and vmem.dev now']],
      ['A heading\n\nA paragraph', ['A heading', 'A paragraph']],
    ];
    for (const [text, want] of cases) assert.deepEqual(splitSentences(text), want, text);
  });

  test('CJK sentences end at full-width punctuation, with or without a space, keeping their closing brackets', () => {
    assert.deepEqual(splitSentences('今天下雨。明天晴天！真的吗？是的'), [
      '今天下雨。',
      '明天晴天！',
      '真的吗？',
      '是的',
    ]);
    assert.deepEqual(splitSentences('他说「好。」然后走了。 再见'), ['他说「好。」', '然后走了。', '再见']);
  });

  test('the gist is the first sentence of at least 20 characters, by the same rule', () => {
    assert.equal(firstSentence('Dr. Smith arrived at noon. He left.', 20), 'Dr. Smith arrived at noon.');
    assert.equal(
      firstSentence('The captain said "We sail at dawn." Nobody slept.', 20),
      'The captain said "We sail at dawn."',
    );
    assert.equal(
      firstSentence('这是一个很长的句子，用来测试摘要的第一句话是否正确。第二句。', 20),
      '这是一个很长的句子，用来测试摘要的第一句话是否正确。',
    );
    assert.equal(firstSentence('no end here', 20), undefined);
    assert.equal(gistOf('The captain said "We sail at dawn."   Nobody slept.'), 'The captain said "We sail at dawn."');
  });

  test('the chunker cuts at the same ends (those followed by whitespace), so its pages end with whole sentences', () => {
    const text = Array.from({ length: 40 }, (_, i) => `Sentence ${i} says "quoted text ${i}." Then more ${i}?`).join(
      ' ',
    );
    const ends = [...text.matchAll(SENTENCE_END_BEFORE_SPACE)].map((m) => m.index + m[0].length);
    const chunks = chunkText(text, 40, tokenizer('cl100k_base'));
    assert.ok(chunks.length > 2);
    for (const c of chunks.slice(0, -1)) {
      const end = text.indexOf(c.text) + c.text.trimEnd().length;
      assert.ok(ends.includes(end), `a page ends mid-sentence: ${JSON.stringify(c.text.slice(-30))}`);
    }
    // And every one of those ends is a split of splitSentences.
    assert.equal(splitSentences(text).length, ends.length + 1);
  });
});
