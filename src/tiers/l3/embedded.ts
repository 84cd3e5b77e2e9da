import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { analyze } from '../../embed/analyzer.js';
import { dot, type Embedder } from '../../embed/embedder.js';
import type { Hit, IndexItem, L3Index } from './index.js';
import { Bm25, withBigrams } from './lexical.js';

/** Sentence ends, for the passage windows the lexical ranker scores. */
const SENTENCE_END = /(?<=[.!?。！？])\s+|\n\s*\n/;
/** Sentences per passage window; windows overlap by all but one sentence. */
const WINDOW = 3;

/** How much each signal weighs in the fused score (each normalised to the best page first). */
export interface FusionWeights {
  page: number;
  passage: number;
  vector: number;
}

export const DEFAULT_WEIGHTS: FusionWeights = { page: 0.3, passage: 0.7, vector: 0 };

interface Record {
  id: string;
  /** Analysed terms of each sentence, space-joined: enough to rebuild the lexical index without L4. */
  s: string[];
  /** The embedding, base64 of a Float32Array. */
  v: string;
}

export class EmbedderMismatchError extends Error {
  override name = 'EmbedderMismatchError';
}

/**
 * The embedded L3: in-process, persisted as an append-only JSON-lines file in the data dir.
 * Ranks by fusing page-level BM25 (words and bigrams), best-passage BM25 (3-sentence windows,
 * which rewards the page where the query's words sit together), and the embedder's cosine.
 */
export class EmbeddedIndex implements L3Index {
  readonly name = 'embedded';
  private readonly ids: string[] = [];
  private readonly index = new Map<string, number>();
  private readonly vectors: Float32Array[] = [];
  private readonly pages = new Bm25(1.2, 0.75);
  private readonly passages = new Bm25(0.7, 0.75);
  private pending: string[] = [];

  private constructor(
    private readonly file: string,
    private readonly embedder: Embedder,
    private readonly weights: FusionWeights,
  ) {}

  /** Opens (or creates) the index file; refuses one built by another embedder. */
  static async open(file: string, embedder: Embedder, weights: FusionWeights = DEFAULT_WEIGHTS): Promise<EmbeddedIndex> {
    const idx = new EmbeddedIndex(file, embedder, weights);
    const header = JSON.stringify({ format: 'vmem-l3-embedded/1', embedder: embedder.name, dim: embedder.dim });
    let content: string | undefined;
    try {
      content = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (content === undefined || content === '') {
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, `${header}\n`);
      return idx;
    }
    const lines = content.split('\n');
    const found = JSON.parse(lines[0]!) as { embedder?: string; dim?: number };
    if (found.embedder !== embedder.name) {
      throw new EmbedderMismatchError(
        `the L3 index at ${file} was built by embedder ${found.embedder}, but ${embedder.name} is configured; run \`vmem reindex\` to rebuild it from L4`,
      );
    }
    for (const line of lines.slice(1)) {
      if (!line) continue;
      let rec: Record;
      try {
        rec = JSON.parse(line) as Record;
      } catch {
        continue; // a torn last line from a crash: the page is re-indexed on its next ingest or reindex
      }
      const buf = Buffer.from(rec.v, 'base64');
      idx.insert(rec.id, rec.s.map((s) => (s ? s.split(' ') : [])), new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4));
    }
    return idx;
  }

  private insert(id: string, sentences: string[][], vector: Float32Array): void {
    const n = this.ids.length;
    this.ids.push(id);
    this.index.set(id, n);
    this.vectors.push(vector);
    this.pages.add(n, withBigrams(sentences.flat()));
    for (let i = 0; i < Math.max(1, sentences.length - WINDOW + 1); i++) {
      this.passages.add(n, sentences.slice(i, i + WINDOW).flat());
    }
  }

  async upsert(items: IndexItem[]): Promise<void> {
    const fresh = items.filter((it, i) => !this.index.has(it.meta.id) && items.findIndex((o) => o.meta.id === it.meta.id) === i);
    if (!fresh.length) return;
    const vectors = this.weights.vector > 0 ? await this.embedder.embed(fresh.map((it) => it.text)) : fresh.map(() => new Float32Array(0));
    fresh.forEach((it, i) => {
      const sentences = it.text.split(SENTENCE_END).map(analyze);
      const v = vectors[i]!;
      this.insert(it.meta.id, sentences, v);
      const rec: Record = { id: it.meta.id, s: sentences.map((s) => s.join(' ')), v: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') };
      this.pending.push(JSON.stringify(rec));
    });
  }

  async query(query: string, k: number): Promise<Hit[]> {
    const n = this.ids.length;
    if (!n || k <= 0) return [];
    const terms = analyze(query);
    const fused = new Float64Array(n);
    const addNormalised = (scores: Float64Array, weight: number) => {
      if (weight <= 0) return;
      let max = 0;
      for (const s of scores) if (s > max) max = s;
      if (max <= 0) return;
      for (let i = 0; i < n; i++) fused[i]! += (weight * scores[i]!) / max;
    };
    const pageScores = new Float64Array(n);
    this.pages.scorePages(withBigrams(terms), pageScores);
    addNormalised(pageScores, this.weights.page);
    const passageScores = new Float64Array(n);
    this.passages.scorePages(terms, passageScores);
    addNormalised(passageScores, this.weights.passage);
    if (this.weights.vector > 0) {
      const [q] = await this.embedder.embed([query]);
      const cos = new Float64Array(n);
      for (let i = 0; i < n; i++) cos[i] = Math.max(0, dot(q!, this.vectors[i]!));
      addNormalised(cos, this.weights.vector);
    }
    const order: number[] = [];
    for (let i = 0; i < n; i++) if (fused[i]! > 0) order.push(i);
    order.sort((a, b) => fused[b]! - fused[a]!);
    return order.slice(0, k).map((i) => ({ pageId: this.ids[i]!, score: fused[i]! }));
  }

  has(pageId: string): boolean {
    return this.index.has(pageId);
  }

  size(): number {
    return this.ids.length;
  }

  async flush(): Promise<void> {
    if (!this.pending.length) return;
    const lines = this.pending;
    this.pending = [];
    // One append per batch: a crash tears at most the last line, which open() skips.
    await appendFile(this.file, `${lines.join('\n')}\n`);
  }

  async close(): Promise<void> {
    await this.flush();
  }
}
