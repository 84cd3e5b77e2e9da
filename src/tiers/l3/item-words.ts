/**
 * One item's words by sentence, stored inverted: for each distinct word, the sentences it occurs in
 * (once per occurrence). The passage scores read the query's few words of a candidate page in a
 * binary search each, instead of scanning its every word (2,000 of them in a default page).
 *
 * As stored: a Uint32Array `[m, length₁ … lengthₘ, d, word₁ … word_d (ascending), end₁ … end_d, sentences…]`,
 * where word i occurs in `sentences[end_{i-1} .. end_i)`.
 */
export class ItemWords {
  private constructor(
    /** Words per sentence. */
    readonly lengths: Uint32Array,
    private readonly words: Uint32Array,
    private readonly ends: Uint32Array,
    private readonly occurrences: Uint32Array,
  ) {}

  static encode(sentences: readonly (readonly number[])[]): Uint32Array {
    const at = new Map<number, number[]>();
    sentences.forEach((s, i) => {
      for (const w of s) {
        const list = at.get(w);
        if (list) list.push(i);
        else at.set(w, [i]);
      }
    });
    const words = [...at.keys()].sort((a, b) => a - b);
    const m = sentences.length;
    const d = words.length;
    const out = new Uint32Array(2 + m + 2 * d + sentences.reduce((n, s) => n + s.length, 0));
    out[0] = m;
    sentences.forEach((s, i) => (out[1 + i] = s.length));
    out[1 + m] = d;
    let end = 0;
    words.forEach((w, i) => {
      const list = at.get(w)!;
      out[2 + m + i] = w;
      out.set(list, 2 + m + 2 * d + end);
      end += list.length;
      out[2 + m + d + i] = end;
    });
    return out;
  }

  static decode(blob: Uint8Array): ItemWords {
    const all = new Uint32Array(blob.buffer.slice(blob.byteOffset, blob.byteOffset + blob.byteLength));
    const m = all[0]!;
    const d = all[1 + m]!;
    const words = 2 + m;
    return new ItemWords(
      all.subarray(1, 1 + m),
      all.subarray(words, words + d),
      all.subarray(words + d, words + 2 * d),
      all.subarray(words + 2 * d),
    );
  }

  /** Bytes held, for a cache's budget. */
  get byteLength(): number {
    return this.lengths.buffer.byteLength;
  }

  /** The sentences `word` occurs in, once per occurrence, ascending (empty if it does not occur). */
  sentencesWith(word: number): Uint32Array {
    let lo = 0;
    let hi = this.words.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const w = this.words[mid]!;
      if (w === word) return this.occurrences.subarray(mid ? this.ends[mid - 1]! : 0, this.ends[mid]!);
      if (w < word) lo = mid + 1;
      else hi = mid - 1;
    }
    return this.occurrences.subarray(0, 0);
  }
}
