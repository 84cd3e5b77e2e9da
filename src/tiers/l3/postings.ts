/**
 * Postings as stored: one term's entries in one segment, `[item, tf, length]` per item that holds the
 * term, items ascending. Each number is a LEB128 varint and items are deltas from the previous one, so
 * a typical entry takes 3 to 4 bytes instead of the 24 of three doubles.
 */
export class PostingsWriter {
  private bytes = new Uint8Array(32);
  private size = 0;
  /** Where the current list starts. */
  private start = 0;
  private last = 0;
  count = 0;

  add(item: number, tf: number, length: number): void {
    if (this.size + 15 > this.bytes.length) {
      // Only the current list moves to the new buffer: the lists before it keep their views of the old one.
      const b = new Uint8Array(2 * (this.size - this.start) + 1024);
      b.set(this.bytes.subarray(this.start, this.size));
      this.bytes = b;
      this.size -= this.start;
      this.start = 0;
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

  /** The encoded postings of the current list (a copy: the writer may be reused or dropped). */
  finish(): Uint8Array {
    return this.bytes.slice(this.start, this.size);
  }

  /**
   * Starts another list after the current one, which stays in the buffer: `view()` of a list is valid for as
   * long as the caller keeps it (a buffer outgrown is left to the views of the lists written in it).
   */
  nextList(): void {
    this.start = this.size;
    this.last = 0;
    this.count = 0;
  }

  /** The current list's bytes, without a copy. */
  view(): Uint8Array {
    return this.bytes.subarray(this.start, this.size);
  }
}

/** Reads LEB128 varints one after another from `data`, from `at`. */
export class Varints {
  constructor(
    private readonly data: Uint8Array,
    public at = 0,
  ) {}

  next(): number {
    let v = this.data[this.at++]!;
    if (v < 0x80) return v; // most values (a tf, a small gap) take one byte
    v &= 0x7f;
    for (let scale = 128; ; scale *= 128) {
      const b = this.data[this.at++]!;
      v += (b & 0x7f) * scale;
      if (b < 0x80) return v;
    }
  }
}

/** Calls `each` with every `[item, tf, length]` of encoded postings, in item order. */
export function forEachPosting(data: Uint8Array, each: (item: number, tf: number, length: number) => void): void {
  const read = new Varints(data);
  let item = 0;
  while (read.at < data.length) {
    item += read.next();
    const tf = read.next();
    each(item, tf, read.next());
  }
}

/** One postings list from several of disjoint item ranges (segments never share an item), re-encoded in item order. */
export function mergePostings(parts: readonly Uint8Array[]): { data: Uint8Array; count: number } {
  // A list's first varint is its first item (a delta from 0).
  const first = (p: Uint8Array) => new Varints(p).next();
  const w = new PostingsWriter();
  for (const p of [...parts].sort((a, b) => first(a) - first(b)))
    forEachPosting(p, (item, tf, length) => w.add(item, tf, length));
  return { data: w.finish(), count: w.count };
}

/** Entries of one segment stay below this, so a key and an entry's index pack into one exact double. */
const SLOT = 2 ** 26;

/** A growable typed array: numbers kept unboxed (a JS array of doubles allocates one object per element). */
export class Column<A extends Float64Array | Uint32Array> {
  length = 0;
  constructor(public data: A) {}

  push(v: number): void {
    if (this.length === this.data.length) this.reserve(1);
    this.data[this.length++] = v;
  }

  /** Makes room for `n` more values, so a loop may write `data` directly. */
  reserve(n: number): void {
    if (this.length + n <= this.data.length) return;
    const grown = new (this.data.constructor as new (n: number) => A)(Math.max(this.length + n, 2 * this.data.length));
    grown.set(this.data.subarray(0, this.length));
    this.data = grown;
  }

  /** The values pushed, sorted ascending. */
  sorted(): A {
    return this.data.subarray(0, this.length).sort() as A;
  }
}

/**
 * The postings of a batch of items, gathered in flat typed arrays and sorted once by key: a batch of a
 * few thousand pages holds a hundred thousand keys (words and bigrams), and a map of one writer per key
 * made adding them slower than writing them.
 */
export class SegmentBuilder {
  /** key × SLOT + index of the entry in `entries`. */
  private readonly keys = new Column(new Float64Array(1024));
  /** [item, tf, length] per (item, key). */
  private readonly entries = new Column(new Uint32Array(3072));
  /** Each sentence's distinct words, for the sentence-level document frequencies. */
  private readonly sentenceWords = new Column(new Uint32Array(1024));

  /** Adds an item (numbered above every item added before): its page-level keys and its sentences' words. */
  add(item: number, keys: readonly number[], sentences: readonly (readonly number[])[]): void {
    const sorted = Uint32Array.from(keys).sort();
    for (let i = 0; i < sorted.length; ) {
      let j = i + 1;
      while (j < sorted.length && sorted[j] === sorted[i]) j++;
      const entry = this.entries.length / 3;
      if (entry >= SLOT) throw new Error(`a segment holds at most ${SLOT} postings; index fewer pages per call`);
      this.keys.push(sorted[i]! * SLOT + entry);
      this.entries.push(item);
      this.entries.push(j - i);
      this.entries.push(keys.length);
      i = j;
    }
    for (const s of sentences) {
      const words = Uint32Array.from(s).sort();
      for (let i = 0; i < words.length; i++)
        if (i === 0 || words[i] !== words[i - 1]) this.sentenceWords.push(words[i]!);
    }
  }

  /** Each key's postings, in key order, with how many items and sentences hold it. */
  *rows(): Generator<{ key: number; units: number; sentences: number; data: Uint8Array }> {
    const keys = this.keys.sorted();
    const words = this.sentenceWords.sorted();
    const entries = this.entries.data;
    const out = new PostingsWriter();
    let w = 0;
    for (let i = 0; i < keys.length; ) {
      const key = Math.floor(keys[i]! / SLOT);
      out.nextList();
      for (; i < keys.length && Math.floor(keys[i]! / SLOT) === key; i++) {
        const e = 3 * (keys[i]! % SLOT);
        out.add(entries[e]!, entries[e + 1]!, entries[e + 2]!);
      }
      while (w < words.length && words[w]! < key) w++;
      let sentences = 0;
      for (; w < words.length && words[w] === key; w++) sentences++;
      yield { key, units: out.count, sentences, data: out.view() };
    }
  }
}
