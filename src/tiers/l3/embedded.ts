import { mkdir, rename } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { splitSentences } from '../../core/sentences.js';
import { analyze, analyzeQuery } from '../../embed/analyzer.js';
import { EmbedderMismatchError } from '../../errors.js';
import { exists } from '../../store/atomic-file.js';
import { jsonLines } from '../../store/json-lines.js';
import type { StatusListener } from '../status.js';
import { type Hit, type IndexItem, type ItemKind, itemOfKey, keyOf, type L3Index } from './index.js';
import { idfOf, PageScores, topIndices, windowScores, withBigrams } from './lexical.js';
import { LexicalStore } from './lexical-store.js';
import { type SemanticOptions, VectorCatchUp } from './vector-catch-up.js';
import { bestPassages, fuseByRank } from './vector-rank.js';
import { VectorStore } from './vector-store.js';

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
/**
 * What the store holds: terms from the Porter-stemming, truncating, accent-folding analyzer (as in v3,
 * the JSON-lines log, which v4 imports), in SQLite.
 */
const FORMAT = 'vmem-l3-embedded/4';
const LEGACY_FORMAT = 'vmem-l3-embedded/3';

/** How much each lexical signal weighs in the lexical score (each normalised to the best page first). */
export interface FusionWeights {
  page: number;
  passage: number;
}

/**
 * Page BM25 with bigrams finds the article, the passage windows the page within it. The offline hashing
 * embedder's cosine is not among them: alone it ranks pages far worse than BM25 (35% vs 81% recall@1 on
 * SQuAD), and at weight 0.1 it lowered the fused recall@1 (88.3% to 87.7%).
 */
export const DEFAULT_WEIGHTS: FusionWeights = { page: 0.4, passage: 0.6 };

/**
 * What the meta's `embedder` says of a lexical-only index. Indexes written before semantic embedders
 * name the hashing embedder there, whose vectors were never stored (its weight was 0): lexical-only too.
 */
const LEXICAL_ONLY = 'lexical';
const LEXICAL_ONLY_BEFORE = 'hashing-v2-1024';
const builtBy = (name: string | undefined) => (name === LEXICAL_ONLY_BEFORE ? LEXICAL_ONLY : name);

export interface EmbeddedIndexOptions {
  weights?: FusionWeights;
  /** The previous format's log, imported once if present. */
  legacy?: string;
  /** A semantic embedder and what it needs; absent: lexical ranking alone, offline. */
  semantic?: SemanticOptions;
}

/** A record of the previous format's log (`embedded.jsonl`), imported once into the store. */
interface LegacyRecord {
  id: string;
  /** Analysed terms of each sentence, space-joined. */
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

type LegacyLine = { format: string; embedder: string } | LegacyRecord;

/** The items table's own vector column is left empty: passage vectors live in their own table. */
const NO_VECTOR = new Float32Array(0);

/**
 * A query's embedding waits this long, once: a fault should not wait on a slow endpoint longer than the
 * lexical ranking alone would be worth.
 */
const QUERY_TIMEOUT_MS = 5000;

/** Items imported from the previous format per transaction. */
const IMPORT_BATCH = 1000;

/**
 * The embedded L3: in-process ranking over an index on disk (a SQLite file in the data dir, see
 * lexical-store.ts) that every process on that data dir writes and reads; nothing of it is loaded at
 * open. Ranks by fusing page-level BM25 (words and bigrams), best-passage BM25 (sentence windows of 1,
 * 3 and 5 sentences, which reward the page where the query's words sit together); with a semantic embedder,
 * fused by rank with the best cosine of each page's passages (see vector-rank.ts).
 */
export class EmbeddedIndex implements L3Index {
  readonly name = 'embedded';
  private readonly pageScores = new PageScores();

  private constructor(
    private readonly store: LexicalStore,
    private readonly weights: FusionWeights,
    private readonly semantic?: { opts: SemanticOptions; vectors: VectorStore; catchUp: VectorCatchUp },
  ) {
    semantic?.catchUp.kick(); // items a killed process left without vectors
  }

  /**
   * Opens (or creates) the index file; refuses one built by another analyzer or embedder. A data dir
   * of the previous format (`legacy`, the JSON-lines log) is imported once, and the log set aside.
   */
  static async open(
    file: string,
    { weights = DEFAULT_WEIGHTS, legacy, semantic }: EmbeddedIndexOptions = {},
  ): Promise<EmbeddedIndex> {
    await mkdir(dirname(file), { recursive: true });
    const store = LexicalStore.open(file);
    const embedder = semantic?.embedder.name ?? LEXICAL_ONLY;
    let vectors: VectorStore | undefined;
    try {
      if (!store.meta('format')) store.initMeta({ format: FORMAT, embedder });
      const format = store.meta('format');
      if (format !== FORMAT) {
        // Stored terms from another analyzer would never match the query's: rebuild rather than mis-rank.
        throw new EmbedderMismatchError(
          `the L3 index at ${file} has format ${format}, this vmem reads ${FORMAT}; run \`vmem reindex\` to rebuild it from L4`,
        );
      }
      const built = builtBy(store.meta('embedder'));
      if (built !== embedder) {
        throw new EmbedderMismatchError(
          `the L3 index at ${file} was built by embedder ${built}, but ${embedder} is configured; run \`vmem reindex\` to rebuild it from L4`,
        );
      }
      if (legacy && (await exists(legacy))) await importLegacy(store, legacy);
      if (semantic) vectors = VectorStore.open(file);
    } catch (err) {
      store.close();
      throw err;
    }
    return new EmbeddedIndex(
      store,
      weights,
      semantic && vectors && { opts: semantic, vectors, catchUp: new VectorCatchUp(vectors, semantic) },
    );
  }

  /** Whether the embeddings endpoint is not known to be down (always, without one). */
  available(): boolean {
    return this.semantic?.catchUp.reachable() ?? true;
  }

  onStatus(listener: StatusListener): () => void {
    return this.semantic?.catchUp.onStatus(listener) ?? (() => {});
  }

  /** Resolves when the background embedding has nothing running (tests). */
  async vectorsIdle(): Promise<void> {
    await this.semantic?.catchUp.idle();
  }

  async upsert(items: IndexItem[]): Promise<void> {
    const seen = new Set<string>();
    const keyed = items.map((it) => ({ key: keyOf(it.meta.id, it.kind), text: it.text }));
    const fresh = keyed.filter((it) => !seen.has(it.key) && seen.add(it.key) && !this.store.has(it.key));
    if (!fresh.length) return;
    this.store.add(
      fresh.map((it) => ({ key: it.key, sentences: splitSentences(it.text).map(analyze), vector: NO_VECTOR })),
    );
    // Findable by their words now; their vectors follow in the background.
    this.semantic?.catchUp.kick();
  }

  async query(query: string, k: number): Promise<Hit[]> {
    const totals = this.store.totals();
    if (!totals.items || k <= 0) return [];
    // The query's words no item has are dropped; bigram keys come from the rest, in order.
    const ids = this.store.termIds(analyzeQuery(query)).filter((t): t is number => t !== undefined);
    // Page BM25 over words and bigrams; the words' sentence frequencies come with their postings.
    const keys = [...new Set(withBigrams(ids))];
    const postings = this.store.postings(keys);
    const lists = keys.flatMap((key) => {
      const p = postings.get(key);
      return p ? [{ parts: p.parts, idf: idfOf(totals.items, p.units), units: p.units }] : [];
    });
    // The top k are among the pages the page-level signals rank best, and only those get the costlier
    // passage scores: every signal below is computed for these candidates alone.
    const byPage = this.pageScores.best(this.store.maxItem(), lists, totals.length / totals.items, PASSAGE_CANDIDATES);
    const byMeaning = await this.byMeaning(query);
    // Removed items (forgotten or superseded pages) leave postings behind; they are dropped here, among a
    // bounded number of candidates, so the cost does not grow with the store.
    const candidates = this.store.liveOf([
      ...new Set([...byPage.map((c) => c.item), ...(byMeaning ?? []).map((c) => c.item)]),
    ]);
    const pageScore = new Map(byPage.map((c) => [c.item, c.score]));
    const words = [...new Set(ids)].filter((t) => postings.get(t)?.sentences);
    const idf = words.map((t) => idfOf(totals.sentences, postings.get(t)!.sentences));
    const perWindow = WINDOWS.map(() => new Float64Array(candidates.length));
    if (words.length)
      this.store.wordsOf(candidates).forEach((page, r) => {
        const best = windowScores(
          page,
          words,
          idf,
          totals.sentenceLength / totals.sentences,
          WINDOWS.map((w) => w.half),
        );
        best.forEach((score, h) => (perWindow[h]![r] = score));
      });
    // Each window size is normalised to its best page before mixing, so the weights mean the same for any query.
    const passageScores = new Float64Array(candidates.length);
    WINDOWS.forEach((w, h) => addNormalised(passageScores, perWindow[h]!, w.weight));
    const fused = new Float64Array(candidates.length);
    addNormalised(
      fused,
      Float64Array.from(candidates, (i) => pageScore.get(i) ?? 0),
      this.weights.page,
    );
    addNormalised(fused, passageScores, this.weights.passage);
    if (byMeaning?.length) {
      const live = new Set(candidates);
      const ranked = fuseByRank(
        candidates,
        fused,
        byMeaning.filter((c) => live.has(c.item)),
        k,
      );
      const keys = this.store.keysOf(ranked.map((r) => r.item));
      return ranked.map((r, i) => ({ ...itemOfKey(keys[i]!), score: r.score }));
    }
    const best = topIndices(fused, k);
    const hits = this.store.keysOf(best.map((r) => candidates[r]!));
    return best.map((r, i) => ({ ...itemOfKey(hits[i]!), score: fused[r]! }));
  }

  /**
   * The items whose best passage is closest to the query, best first; undefined without a semantic
   * embedder, before any vector is stored, or when the endpoint does not answer (then the query ranks
   * lexically, at once: one short attempt, no retries, and the outage is the background's to retry).
   */
  private async byMeaning(query: string): Promise<{ item: number; cosine: number }[] | undefined> {
    const semantic = this.semantic;
    if (!semantic?.catchUp.reachable()) return undefined;
    const dim = semantic.vectors.dim();
    if (!dim) return undefined;
    let q: Float32Array;
    try {
      [q] = (await semantic.opts.embedder.embed([query], { timeoutMs: QUERY_TIMEOUT_MS, maxRetries: 0 })) as [
        Float32Array,
      ];
    } catch (err) {
      // The endpoint's failure, not the caller's: this query ranks lexically, the background retries.
      semantic.catchUp.lost(err);
      return undefined;
    }
    if (q.length !== dim) {
      semantic.catchUp.lost(
        new EmbedderMismatchError(
          `${semantic.opts.describe} returned a query vector of dimension ${q.length}, but the L3 index at ${this.store.file} holds vectors of dimension ${dim}; run \`vmem reindex\` to rebuild it from L4`,
        ),
      );
      return undefined;
    }
    return bestPassages(semantic.vectors.scan(), q, PASSAGE_CANDIDATES);
  }

  async remove(pageIds: string[]): Promise<void> {
    const removed = this.store.remove(pageIds.flatMap((id) => [keyOf(id, 'page'), keyOf(id, 'summary')]));
    // A store with vectors opens only with its embedder (see open): no process without it removes items there.
    this.semantic?.vectors.remove(removed);
  }

  has(pageId: string, kind?: ItemKind): boolean {
    return this.store.has(keyOf(pageId, kind));
  }

  /** Every item indexed, in the order it was added. */
  *items(): Generator<{ pageId: string; kind: ItemKind }> {
    for (const { key } of this.store.items()) yield itemOfKey(key);
  }

  size(): number {
    return this.store.totals().items;
  }

  /** Every upsert commits before it returns. */
  async flush(): Promise<void> {}

  async close(): Promise<void> {
    await this.semantic?.catchUp.close();
    this.semantic?.vectors.close();
    this.store.close();
  }
}

/**
 * Imports the previous format's log into `store`, a batch of items per transaction, streamed (the log may
 * be larger than memory), then renames it so it is imported once. Items are keyed by page id, so a second
 * process importing at the same time adds nothing twice; the rename and the message are the first one's.
 */
async function importLegacy(store: LexicalStore, file: string): Promise<void> {
  let batch: LegacyRecord[] = [];
  let count = 0;
  const flush = () => {
    if (!batch.length) return; // a write transaction for nothing
    store.add(batch.map((r) => ({ key: r.id, sentences: r.s.map((s) => (s ? s.split(' ') : [])), vector: NO_VECTOR })));
    count += batch.length;
    batch = [];
  };
  for await (const line of jsonLines<LegacyLine>(file)) {
    if ('format' in line) {
      // Its hashing vectors are not kept: they never ranked (a semantic embedder's are filled in afterwards).
      if (line.format === LEGACY_FORMAT && line.embedder === LEXICAL_ONLY_BEFORE) continue;
      console.error(
        `vmem: ${file} is of format ${line.format} by embedder ${line.embedder}, which this vmem does not import; run \`vmem reindex\` to index every page from L4`,
      );
      return;
    }
    batch.push(line);
    if (batch.length === IMPORT_BATCH) flush();
  }
  flush();
  const moved = await rename(file, `${file}.migrated`).then(
    () => true,
    () => false, // another process moved it first, and says so
  );
  if (moved)
    console.error(
      `vmem: moved the L3 index from ${basename(file)} into ${basename(store.file)} (${count} items); the old log is kept as ${basename(file)}.migrated`,
    );
}
