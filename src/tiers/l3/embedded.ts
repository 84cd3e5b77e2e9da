import { dirname } from 'node:path';
import { splitSentences } from '../../core/sentences.js';
import { analyze } from '../../embed/analyzer.js';
import { dot, type Embedder } from '../../embed/embedder.js';
import { EmbedderMismatchError } from '../../errors.js';
import { tempDirOf } from '../../store/atomic-file.js';
import { JsonlLog } from '../../store/jsonl-log.js';
import { type Hit, type IndexItem, type ItemKind, itemOfKey, keyOf, type L3Index } from './index.js';
import { Bm25, SentenceWindows, topIndices, Vocabulary, withBigrams } from './lexical.js';

/**
 * The passage windows, as half-widths around a centre sentence (0: the sentence alone, 1: three
 * sentences, 2: five), and how much each weighs in the passage signal. The 3-sentence window carries it;
 * the single sentence rewards a question written from one sentence, the 5-sentence one a question whose
 * words are spread over a paragraph. Tuned on the even half of SQuAD dev: +0.4 recall@1 over 3 alone.
 */
const WINDOWS = [
  { half: 0, weight: 0.15 },
  { half: 1, weight: 0.7 },
  { half: 2, weight: 0.15 },
];
/**
 * Passages are scored on this many pages, those the page-level signals rank best: the windows cost
 * grows with every sentence that holds a query word, and a page far down the page ranking does not
 * reach the top through its passages. On SQuAD, recall@1 and @3 are the same with 20 candidates as
 * with all 191 pages; at 100k pages a query takes 2.4 ms with 200 candidates, 5.8 ms with 1,000.
 */
const PASSAGE_CANDIDATES = 200;
/** What the stored records hold: v3 terms come from the Porter-stemming, truncating, accent-folding analyzer. */
const FORMAT = 'vmem-l3-embedded/3';

/** How much each signal weighs in the fused score (each normalised to the best page first). */
export interface FusionWeights {
  page: number;
  passage: number;
  vector: number;
}

/**
 * Page BM25 with bigrams finds the article, the passage windows the page within it. The hashing cosine
 * stays off: alone it ranks pages far worse than BM25 (35% vs 81% recall@1 on SQuAD), and at weight 0.1 it
 * lowers the fused recall@1 (88.3% to 87.7%).
 */
export const DEFAULT_WEIGHTS: FusionWeights = { page: 0.4, passage: 0.6, vector: 0 };

interface IndexRecord {
  id: string;
  /** Analysed terms of each sentence, space-joined: enough to rebuild the lexical index without L4. */
  s: string[];
  /** The embedding, base64 of a Float32Array. */
  v: string;
}

/** Adds `scores`, scaled so the best is `weight`, into `into`: signals of different ranges mix by weight alone. */
function addNormalised(into: Float64Array, scores: Float64Array, weight: number): void {
  if (weight <= 0) return;
  let max = 0;
  for (const s of scores) if (s > max) max = s;
  if (max <= 0) return;
  for (let i = 0; i < scores.length; i++) into[i]! += (weight * scores[i]!) / max;
}

interface IndexHeader {
  format: string;
  embedder: string;
  dim: number;
}

type IndexLine = IndexHeader | IndexRecord;

/**
 * The embedded L3: in-process, persisted as an append-only JSON-lines file in the data dir, which
 * every process on that data dir appends to and follows.
 * Ranks by fusing page-level BM25 (words and bigrams), best-passage BM25 (sentence windows of 1, 3
 * and 5 sentences, which reward the page where the query's words sit together), and the embedder's cosine.
 */
export class EmbeddedIndex implements L3Index {
  readonly name = 'embedded';
  private readonly ids: string[] = [];
  private readonly index = new Map<string, number>();
  private readonly vectors: Float32Array[] = [];
  private readonly vocabulary = new Vocabulary();
  private readonly pages = new Bm25(1.2, 0.75);
  private readonly passages = new SentenceWindows(0.7, 0.75);
  private pending: IndexRecord[] = [];

  private constructor(
    private readonly log: JsonlLog<IndexLine>,
    private readonly embedder: Embedder,
    private readonly weights: FusionWeights,
  ) {}

  /**
   * Opens (or creates) the index file; refuses one of another format or built by another embedder.
   * Follows the file afterwards, so pages indexed by other processes on the same data dir are found.
   * `tmpDir` (the data dir's, by default a `tmp` directory beside the file) takes the lock's temp files.
   */
  static async open(
    file: string,
    embedder: Embedder,
    { weights = DEFAULT_WEIGHTS, tmpDir = tempDirOf(dirname(file)) }: { weights?: FusionWeights; tmpDir?: string } = {},
  ): Promise<EmbeddedIndex> {
    const log = new JsonlLog<IndexLine>(file, tmpDir);
    const idx = new EmbeddedIndex(log, embedder, weights);
    let lines = await log.read();
    if (!lines.length) {
      await log.append([{ format: FORMAT, embedder: embedder.name, dim: embedder.dim }]);
      lines = await log.read();
    }
    const header = lines.find((l): l is IndexHeader => 'format' in l);
    if (header?.format !== FORMAT) {
      // Stored terms from another analyzer would never match the query's: rebuild rather than mis-rank.
      throw new EmbedderMismatchError(
        `the L3 index at ${file} has format ${header?.format}, this vmem reads ${FORMAT}; run \`vmem reindex\` to rebuild it from L4`,
      );
    }
    if (header.embedder !== embedder.name) {
      throw new EmbedderMismatchError(
        `the L3 index at ${file} was built by embedder ${header.embedder}, but ${embedder.name} is configured; run \`vmem reindex\` to rebuild it from L4`,
      );
    }
    idx.load(lines);
    log.follow((more) => idx.load(more));
    return idx;
  }

  private load(lines: IndexLine[]): void {
    for (const rec of lines) {
      if (!('id' in rec) || this.index.has(rec.id)) continue;
      const buf = Buffer.from(rec.v, 'base64');
      this.insert(
        rec.id,
        rec.s.map((s) => (s ? s.split(' ') : [])),
        new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4),
      );
    }
  }

  private insert(id: string, sentences: string[][], vector: Float32Array): void {
    const n = this.ids.length;
    this.ids.push(id);
    this.index.set(id, n);
    this.vectors.push(vector);
    const ids = sentences.map((s) => s.map((t) => this.vocabulary.id(t)));
    this.pages.add(n, withBigrams(ids.flat()));
    this.passages.add(n, ids);
  }

  async upsert(items: IndexItem[]): Promise<void> {
    const seen = new Set<string>();
    const keyed = items.map((it) => ({ key: keyOf(it.meta.id, it.kind), text: it.text }));
    const fresh = keyed.filter((it) => !this.index.has(it.key) && !seen.has(it.key) && seen.add(it.key));
    if (!fresh.length) return;
    const vectors =
      this.weights.vector > 0
        ? await this.embedder.embed(fresh.map((it) => it.text))
        : fresh.map(() => new Float32Array(0));
    fresh.forEach((it, i) => {
      const sentences = splitSentences(it.text).map(analyze);
      const v = vectors[i]!;
      this.insert(it.key, sentences, v);
      const rec: IndexRecord = {
        id: it.key,
        s: sentences.map((s) => s.join(' ')),
        v: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64'),
      };
      this.pending.push(rec);
    });
  }

  async query(query: string, k: number): Promise<Hit[]> {
    const n = this.ids.length;
    if (!n || k <= 0) return [];
    const terms = analyze(query)
      .map((t) => this.vocabulary.find(t))
      .filter((t): t is number => t !== undefined);
    const pageScores = new Float64Array(n);
    this.pages.scorePages(withBigrams(terms), pageScores);
    let cosine: Float64Array | undefined;
    if (this.weights.vector > 0) {
      const [q] = await this.embedder.embed([query]);
      cosine = new Float64Array(n);
      for (let i = 0; i < n; i++) cosine[i] = Math.max(0, dot(q!, this.vectors[i]!));
    }
    // The top k are among the pages the page-level signals rank best, and only those get the costlier
    // passage scores: every signal below is computed for these candidates alone.
    const candidates = [
      ...new Set([
        ...topIndices(pageScores, PASSAGE_CANDIDATES),
        ...(cosine ? topIndices(cosine, PASSAGE_CANDIDATES) : []),
      ]),
    ];
    const rows = new Int32Array(n);
    candidates.forEach((page, r) => (rows[page] = r + 1));
    const m = candidates.length;
    const perWindow = WINDOWS.map(() => new Float64Array(m));
    this.passages.scorePages(
      terms,
      WINDOWS.map((w) => w.half),
      rows,
      perWindow,
    );
    // Each window size is normalised to its best page before mixing, so the weights mean the same for any query.
    const passageScores = new Float64Array(m);
    WINDOWS.forEach((w, h) => addNormalised(passageScores, perWindow[h]!, w.weight));
    const fused = new Float64Array(m);
    addNormalised(
      fused,
      Float64Array.from(candidates, (i) => pageScores[i]!),
      this.weights.page,
    );
    addNormalised(fused, passageScores, this.weights.passage);
    if (cosine)
      addNormalised(
        fused,
        Float64Array.from(candidates, (i) => cosine[i]!),
        this.weights.vector,
      );
    return topIndices(fused, k).map((r) => ({ ...itemOfKey(this.ids[candidates[r]!]!), score: fused[r]! }));
  }

  has(pageId: string, kind?: ItemKind): boolean {
    return this.index.has(keyOf(pageId, kind));
  }

  /** Every item indexed, in the order it was added. */
  items(): { pageId: string; kind: ItemKind }[] {
    return this.ids.map(itemOfKey);
  }

  size(): number {
    return this.ids.length;
  }

  async flush(): Promise<void> {
    if (!this.pending.length) return;
    const records = this.pending;
    this.pending = [];
    await this.log.append(records);
  }

  async close(): Promise<void> {
    await this.flush();
    this.log.unfollow();
  }
}
