import { analyze } from './analyzer.js';
import { type Embedder, normalise } from './embedder.js';

/** FNV-1a, 32 bit: fast, stable across processes and platforms. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * The offline embedder: signed feature hashing of stemmed words and word bigrams, sublinear term
 * frequency, unit length. No weights, no download, deterministic; it matches vocabulary and phrasing,
 * not paraphrase: it is not semantic, and the embedded index's lexical ranker already knows all it
 * knows. It survives only where Chroma needs a vector for each record and no semantic embedder is
 * configured (see wiring.ts).
 */
export class HashingEmbedder implements Embedder {
  readonly name: string;

  constructor(readonly dim = 1024) {
    // v2: the analyzer folds accents and truncates terms, so v1 vectors are not comparable.
    this.name = `hashing-v2-${dim}`;
  }

  embedOne(text: string): Float32Array {
    const terms = analyze(text);
    const counts = new Map<string, number>();
    for (let i = 0; i < terms.length; i++) {
      counts.set(terms[i]!, (counts.get(terms[i]!) ?? 0) + 1);
      if (i > 0) {
        const bigram = `${terms[i - 1]} ${terms[i]}`;
        counts.set(bigram, (counts.get(bigram) ?? 0) + 1);
      }
    }
    const v = new Float32Array(this.dim);
    for (const [term, n] of counts) {
      const h = fnv1a(term);
      v[h % this.dim]! += (h & 0x80000000 ? -1 : 1) * (1 + Math.log(n));
    }
    return normalise(v);
  }

  async embed(texts: string[]): Promise<Float32Array[]> {
    return texts.map((t) => this.embedOne(t));
  }
}
