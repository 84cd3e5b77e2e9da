/**
 * Postings as stored: one term's entries in one segment, `[item, tf, length]` per item that holds the
 * term, items ascending. Each number is a LEB128 varint and items are deltas from the previous one, so
 * a typical entry takes 3 to 4 bytes instead of the 24 of three doubles.
 */
export class PostingsWriter {
  private bytes = new Uint8Array(32);
  private size = 0;
  private last = 0;
  count = 0;

  add(item: number, tf: number, length: number): void {
    if (this.size + 15 > this.bytes.length) {
      const b = new Uint8Array(2 * this.bytes.length + 15);
      b.set(this.bytes.subarray(0, this.size));
      this.bytes = b;
    }
    this.varint(item - this.last);
    this.varint(tf);
    this.varint(length);
    this.last = item;
    this.count++;
  }

  private varint(v: number): void {
    while (v >= 0x80) {
      this.bytes[this.size++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    this.bytes[this.size++] = v;
  }

  /** The encoded postings (a copy: the writer may be reused or dropped). */
  finish(): Uint8Array {
    return this.bytes.slice(0, this.size);
  }
}

/** Calls `each` with every `[item, tf, length]` of encoded postings, in item order. */
export function forEachPosting(data: Uint8Array, each: (item: number, tf: number, length: number) => void): void {
  let i = 0;
  let item = 0;
  const next = () => {
    let v = 0;
    let scale = 1;
    for (;;) {
      const b = data[i++]!;
      v += (b & 0x7f) * scale;
      if (b < 0x80) return v;
      scale *= 128;
    }
  };
  while (i < data.length) {
    item += next();
    const tf = next();
    each(item, tf, next());
  }
}

/** One postings list from several of disjoint item ranges (segments never share an item), re-encoded in item order. */
export function mergePostings(parts: readonly Uint8Array[]): { data: Uint8Array; count: number } {
  const first = (p: Uint8Array) => {
    let v = 0;
    for (let i = 0, scale = 1; ; i++, scale *= 128) {
      v += (p[i]! & 0x7f) * scale;
      if (p[i]! < 0x80) return v;
    }
  };
  const w = new PostingsWriter();
  for (const p of [...parts].sort((a, b) => first(a) - first(b)))
    forEachPosting(p, (item, tf, length) => w.add(item, tf, length));
  return { data: w.finish(), count: w.count };
}

/** Entries of one segment stay below this, so a key and an entry's index pack into one exact double. */
const SLOT = 2 ** 26;

/**
 * The postings of a batch of items, gathered in flat arrays and sorted once by key: a batch of a few
 * thousand pages holds a hundred thousand keys (words and bigrams), and a map of one writer per key
 * made adding them slower than writing them.
 */
export class SegmentBuilder {
  /** key × SLOT + index of the entry in `entries`. */
  private readonly keys: number[] = [];
  /** [item, tf, length] per (item, key). */
  private readonly entries: number[] = [];
  /** Each sentence's distinct words, for the sentence-level document frequencies. */
  private readonly sentenceWords: number[] = [];

  /** Adds an item (numbered above every item added before): its page-level keys and its sentences' words. */
  add(item: number, keys: readonly number[], sentences: readonly (readonly number[])[]): void {
    const sorted = Float64Array.from(keys).sort();
    for (let i = 0; i < sorted.length; ) {
      let j = i + 1;
      while (j < sorted.length && sorted[j] === sorted[i]) j++;
      const entry = this.entries.length / 3;
      if (entry >= SLOT) throw new Error(`a segment holds at most ${SLOT} postings; index fewer pages per call`);
      this.keys.push(sorted[i]! * SLOT + entry);
      this.entries.push(item, j - i, keys.length);
      i = j;
    }
    for (const s of sentences) {
      const words = Float64Array.from(s).sort();
      for (let i = 0; i < words.length; i++)
        if (i === 0 || words[i] !== words[i - 1]) this.sentenceWords.push(words[i]!);
    }
  }

  /** Each key's postings, in key order, with how many items and sentences hold it. */
  *rows(): Generator<{ key: number; units: number; sentences: number; data: Uint8Array }> {
    const keys = Float64Array.from(this.keys).sort();
    const words = Float64Array.from(this.sentenceWords).sort();
    let w = 0;
    for (let i = 0; i < keys.length; ) {
      const key = Math.floor(keys[i]! / SLOT);
      const out = new PostingsWriter();
      for (; i < keys.length && Math.floor(keys[i]! / SLOT) === key; i++) {
        const e = 3 * (keys[i]! % SLOT);
        out.add(this.entries[e]!, this.entries[e + 1]!, this.entries[e + 2]!);
      }
      while (w < words.length && words[w]! < key) w++;
      let sentences = 0;
      for (; w < words.length && words[w] === key; w++) sentences++;
      yield { key, units: out.count, sentences, data: out.finish() };
    }
  }
}
