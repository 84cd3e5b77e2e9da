/**
 * The Chroma L3: pages in a collection on a Chroma server, shared by every process that points at it.
 * This is the only module that imports `chromadb`; it is loaded by dynamic import only when configured,
 * so the embedded backend never pays for it.
 *
 * vmem embeds with its own embedder and hands Chroma the vectors: Chroma never embeds anything itself
 * (no default model download, no network beyond the server), and the collection records which embedder
 * built it so that a query is never compared against vectors of another embedder.
 */
import { ChromaClient, ChromaNotFoundError, type Collection, type Metadata } from 'chromadb';
import type { Embedder } from '../../embed/embedder.js';
import { EmbedderMismatchError } from '../../errors.js';
import { type Hit, type IndexItem, type ItemKind, itemOfKey, keyOf, type L3Index } from './index.js';

/** Collection metadata keys recording what built the vectors. */
const EMBEDDER_KEY = 'vmem:embedder';
const DIM_KEY = 'vmem:dim';
/** Page size when listing ids at open, and batch size for upserts (Chroma caps a request's records). */
const BATCH = 1000;

export interface ChromaIndexOptions {
  /** Server URL, e.g. http://127.0.0.1:8000. */
  url: string;
  /** The collection: one per namespace, named by the caller. */
  collection: string;
  embedder: Embedder;
}

/** A client for the server at `url` (http:// or https://, default port 8000 or 443). */
export function clientFor(url: string): ChromaClient {
  const u = new URL(url);
  const ssl = u.protocol === 'https:';
  return new ChromaClient({ host: u.hostname, port: Number(u.port || (ssl ? 443 : 8000)), ssl });
}

/** The collection holding a namespace's pages (Chroma names: 3-512 of [A-Za-z0-9._-], alphanumeric at both ends). */
export function collectionName(namespace: string): string {
  return `vmem-${namespace}-pages`;
}

export class ChromaIndex implements L3Index {
  readonly name = 'chroma';

  private constructor(
    private readonly collection: Collection,
    private readonly embedder: Embedder,
    /** Every page id in the collection: `has`/`size` are synchronous in L3Index, so they cannot ask the server. */
    private readonly ids: Set<string>,
  ) {}

  /** Opens (or creates) the collection; refuses one built by another embedder. */
  static async open({ url, collection, embedder }: ChromaIndexOptions): Promise<ChromaIndex> {
    const client = clientFor(url);
    // embeddingFunction: null is chromadb 3.x's "none": the collection's config stores no embedding
    // function, so the client never tries to load @chroma-core/default-embed (which would fetch a model).
    // The metadata is only written on creation; an existing collection keeps what it was created with.
    const col = await client.getOrCreateCollection({
      name: collection,
      embeddingFunction: null,
      configuration: { hnsw: { space: 'cosine' } },
      metadata: { [EMBEDDER_KEY]: embedder.name, [DIM_KEY]: embedder.dim },
    });
    const builtBy = col.metadata?.[EMBEDDER_KEY];
    if (builtBy !== embedder.name || col.metadata?.[DIM_KEY] !== embedder.dim) {
      throw new EmbedderMismatchError(
        `the Chroma collection ${collection} at ${url} was built by embedder ${String(builtBy)} (dim ${String(col.metadata?.[DIM_KEY])}), ` +
          `but ${embedder.name} (dim ${embedder.dim}) is configured; run \`vmem reindex\` to rebuild it from L4`,
      );
    }
    const ids = new Set<string>();
    for (let offset = 0; ; offset += BATCH) {
      const page = await col.get({ limit: BATCH, offset, include: [] });
      for (const id of page.ids) ids.add(id);
      if (page.ids.length < BATCH) break;
    }
    return new ChromaIndex(col, embedder, ids);
  }

  /**
   * Renames a collection out of the way (`vmem reindex` keeps the old index as a backup, as it does
   * with files); false when there is none.
   */
  static async retire(url: string, collection: string, renameTo: string): Promise<boolean> {
    const client = clientFor(url);
    let col: Collection;
    try {
      col = await client.getCollection({ name: collection });
    } catch (err) {
      if (err instanceof ChromaNotFoundError) return false;
      throw err;
    }
    await col.modify({ name: renameTo });
    return true;
  }

  async upsert(items: IndexItem[]): Promise<void> {
    // Pages are immutable and content-addressed: one already stored needs no write (and no embedding).
    const seen = new Set<string>();
    const keyed = items.map((it) => ({ ...it, key: keyOf(it.meta.id, it.kind) }));
    const fresh = keyed.filter((it) => !this.ids.has(it.key) && !seen.has(it.key) && seen.add(it.key));
    for (let i = 0; i < fresh.length; i += BATCH) {
      const batch = fresh.slice(i, i + BATCH);
      const vectors = await this.embedder.embed(batch.map((it) => it.text));
      // Chroma's upsert is itself idempotent, so a page another process stored meanwhile is harmless.
      await this.collection.upsert({
        ids: batch.map((it) => it.key),
        embeddings: vectors.map((v) => Array.from(v)),
        documents: batch.map((it) => it.text),
        metadatas: batch.map(
          (it): Metadata => ({
            documentId: it.meta.documentId,
            source: it.meta.source,
            ordinal: it.meta.ordinal,
            tokens: it.meta.tokens,
          }),
        ),
      });
      for (const it of batch) this.ids.add(it.key);
    }
  }

  async query(query: string, k: number): Promise<Hit[]> {
    if (k <= 0) return [];
    const [q] = await this.embedder.embed([query]);
    const res = await this.collection.query({ queryEmbeddings: [Array.from(q!)], nResults: k, include: ['distances'] });
    const ids = res.ids[0] ?? [];
    const distances = res.distances[0] ?? [];
    // Cosine space: distance = 1 - cosine similarity, so the score is the similarity, best first.
    return ids.map((key, i) => ({ ...itemOfKey(key), score: 1 - (distances[i] ?? 1) }));
  }

  async remove(pageIds: string[]): Promise<void> {
    const keys = pageIds.flatMap((id) => [keyOf(id, 'page'), keyOf(id, 'summary')]);
    for (let i = 0; i < keys.length; i += BATCH) await this.collection.delete({ ids: keys.slice(i, i + BATCH) });
    for (const key of keys) this.ids.delete(key);
  }

  has(pageId: string, kind?: ItemKind): boolean {
    return this.ids.has(keyOf(pageId, kind));
  }

  size(): number {
    return this.ids.size;
  }

  /** Every upsert is written through to the server before it resolves: nothing to flush. */
  async flush(): Promise<void> {}

  /** The client holds no connection open (it speaks plain HTTP per request). */
  async close(): Promise<void> {}
}
