import type { Redis } from 'ioredis';
import { SharedLog } from './catalog/shared-log.js';
import { Catalog } from './catalog.js';
import { FileLocks } from './cluster/file-locks.js';
import type { Locks } from './cluster/locks.js';
import { RedisLocks } from './cluster/redis-locks.js';
import { type Compressors, openCompressors } from './compress/index.js';
import { type Config, endpointKey, s3Location, settingName, shownUrl } from './config.js';
import type { ResendPolicy } from './core/l1.js';
import { tokenizer } from './core/tokenizer.js';
import { dataDirLayout } from './data-dir.js';
import type { Embedder } from './embed/embedder.js';
import { HashingEmbedder } from './embed/hashing.js';
import { ConfigError } from './errors.js';
import { EventBus } from './events.js';
import { backendsOf, watchHealth } from './health.js';
import { loadOptional } from './optional.js';
import { ReadPath } from './paging/read-path.js';
import { indexItemsIn } from './paging/summaries.js';
import { MemoryL2 } from './tiers/l2/memory.js';
import type { L2Store } from './tiers/l2/store.js';
import { EmbeddedIndex } from './tiers/l3/embedded.js';
import type { ItemKind, L3Index } from './tiers/l3/index.js';
import { FsL4 } from './tiers/l4/fs.js';
import type { L4Store } from './tiers/l4/store.js';

/**
 * The semantic embedder a configuration gives L3: an OpenAI-compatible embeddings API (its client loaded
 * only then), or none, for lexical ranking alone (offline).
 */
export async function semanticEmbedderFor(
  config: Config,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ embedder: Embedder; describe: string } | undefined> {
  if (config.embedder !== 'openai') return undefined;
  const apiKey = endpointKey(config.embedBaseUrl, env, 'embedder', 'embedBaseUrl');
  const { OpenAIEmbedder } = await loadOptional(
    'openai',
    `${settingName('embedder')} is openai`,
    () => import('./embed/openai.js'),
  );
  return {
    embedder: new OpenAIEmbedder({
      baseURL: config.embedBaseUrl,
      model: config.embedModel,
      apiKey,
    }),
    describe: `the embeddings endpoint ${config.embedBaseUrl} (model ${config.embedModel})`,
  };
}

/**
 * What Chroma's records get as vectors: Chroma needs one per record, and without one it would embed the
 * text itself with its default model (a download). The hashing embedder's vectors cost nothing, keep the
 * collections built so far valid, and at weight 0.03 only break ties (see hybrid.ts). Passage vectors of a
 * semantic embedder are ranked by the embedded index in the data dir; they do not go to Chroma (yet).
 */
const chromaEmbedder = (): Embedder => new HashingEmbedder();

/** L2 from the configuration: Redis when a URL is set (loaded only then), else the in-process map. */
export async function openL2(config: Config): Promise<L2Store> {
  if (!config.redisUrl) return new MemoryL2(config.l2MaxPages);
  const { RedisL2 } = await loadOptional(
    'ioredis',
    `${settingName('redisUrl')} is set`,
    () => import('./tiers/l2/redis.js'),
  );
  return RedisL2.open(config.redisUrl, { prefix: `${config.namespace}:` });
}

/** The durable Redis of VMEM_CATALOG_URL: a connection for commands (checked fit), one for the log's blocking reads. */
interface Cluster {
  client: Redis;
  blocking: Redis;
  /** The URL as messages show it (no password). */
  url: string;
}

/** Connects to the durable Redis when VMEM_CATALOG_URL is set (ioredis loaded only then; see cluster/redis.ts). */
async function openCluster(config: Config): Promise<Cluster | undefined> {
  if (!config.catalogUrl) return undefined;
  const setting = settingName('catalogUrl');
  const { openDurableRedis, connectRedis } = await loadOptional(
    'ioredis',
    `${setting} is set`,
    () => import('./cluster/redis.js'),
  );
  const client = await openDurableRedis(config.catalogUrl, { setting });
  const blocking = await connectRedis(config.catalogUrl, { setting, blocking: true }).catch((err: unknown) => {
    client.disconnect();
    throw err;
  });
  return { client, blocking, url: shownUrl(config.catalogUrl) };
}

/**
 * Locks and summary claims shared by the processes on the store: on the durable Redis when VMEM_CATALOG_URL is
 * set (servers on several machines), else files in the data dir.
 */
function locksOf(config: Config, cluster: Cluster | undefined): Locks {
  if (!cluster) return FileLocks.inDataDir(config.dataDir);
  const describe = `the Redis at ${cluster.url} (${settingName('catalogUrl')})`;
  // The page table's log owns the connection and closes it.
  return new RedisLocks(cluster.client, { namespace: config.namespace, describe });
}

/**
 * The page table's log on the durable Redis: the current generation; a new one for `fresh` (reindex). A store
 * without one is new, unless L4 holds documents already (a Redis emptied or replaced, or a store that was kept
 * in one data dir until now): then vmem stops and says to rebuild it from L4 with `vmem reindex`.
 */
async function openSharedLog(
  config: Config,
  cluster: Cluster,
  l4: L4Store,
  fresh: boolean | undefined,
): Promise<SharedLog> {
  const log = await SharedLog.open(cluster, config.namespace, { fresh });
  if (log) return log;
  if ((await l4.listRecords('manifests')).length)
    throw new ConfigError(
      `the shared page table on ${cluster.url} (${settingName('catalogUrl')}) is empty, but L4 holds documents: run \`vmem reindex\` with the same settings to rebuild it from L4`,
    );
  return (await SharedLog.open(cluster, config.namespace, { create: true }))!;
}

/**
 * L3 from the configuration: the embedded index (with passage vectors from a semantic embedder when one is
 * configured, filled in from L4 in the background), fused with vectors on Chroma when a URL is set (the
 * Chroma client is loaded only then). Chroma catches up from L4.
 */
export async function openL3(config: Config, l4: L4Store): Promise<L3Index> {
  const layout = dataDirLayout(config.dataDir);
  const semantic = await semanticEmbedderFor(config);
  const texts = (items: { pageId: string; kind: ItemKind }[]) => indexItemsIn(l4, items);
  const lexical = await EmbeddedIndex.open(layout.lexicalIndex, {
    legacy: layout.legacyLexicalIndex,
    semantic: semantic && { ...semantic, texts, tokenizer: tokenizer(config.encoding) },
  });
  if (!config.chromaUrl) return lexical;
  const { ChromaIndex, collectionName } = await loadOptional(
    'chromadb',
    `${settingName('chromaUrl')} is set`,
    () => import('./tiers/l3/chroma.js'),
  );
  const { HybridIndex } = await import('./tiers/l3/hybrid.js');
  const url = config.chromaUrl;
  return HybridIndex.open({
    lexical,
    connect: () => ChromaIndex.open({ url, collection: collectionName(config.namespace), embedder: chromaEmbedder() }),
    texts,
  });
}

/**
 * L4 from the configuration: S3-compatible object storage for an s3:// URL (its client loaded only then), else
 * the data dir's files.
 */
export async function openL4(config: Config): Promise<L4Store> {
  const location = s3Location(config);
  if (!location) return FsL4.open(config.dataDir);
  const why = `${settingName('l4Url')} is ${config.l4Url}`;
  const { S3L4 } = await loadOptional('@aws-sdk/client-s3', why, () => import('./tiers/l4/s3.js'));
  return S3L4.open({ ...location, endpoint: config.s3Endpoint, setting: settingName('l4Url') });
}

/**
 * A page counts as seen for VMEM_RESEND_AFTER seconds, until an L1 budget of other text was sent after
 * it, and for one re-fault: the next one sends it again. Chosen on the scripted-host figures in BENCHMARKS.md.
 */
export function defaultResendPolicy(config: Pick<Config, 'resendAfterSeconds' | 'l1Tokens'>): ResendPolicy {
  return { maxAgeMs: config.resendAfterSeconds * 1000, maxTokensSince: config.l1Tokens, maxOmissions: 1 };
}

/** Levels and policies to use instead of those the configuration gives (tests, benchmarks). */
export interface StoreParts {
  /** The compressor (and, for tests, how soon a failed summary is retried). */
  compressors?: Compressors & { retryMs?: number };
  l2?: L2Store;
  l3?: L3Index;
  l4?: L4Store;
  locks?: Locks;
  /** With VMEM_CATALOG_URL: write a new generation of the shared page table, current once published (reindex). */
  freshCatalog?: boolean;
  /** Epoch milliseconds; injectable for tests. */
  now?: () => number;
  /** When resident pages are sent again (default: from the configuration). */
  resend?: ResendPolicy;
}

/** Everything a configuration opens, shared by every session of the process. */
export interface Store {
  config: Config;
  /** The page table, shared with the other processes through its append-only log. */
  catalog: Catalog;
  l2: L2Store;
  l3: L3Index;
  l4: L4Store;
  /** Locks and summary claims shared with the other processes on the store (see openLocks). */
  locks: Locks;
  /** Page text from L2, else L4 (which then warms L2). */
  read: ReadPath;
  compressors: Compressors & { retryMs?: number };
  now: () => number;
  resend: ResendPolicy;
  events: EventBus;
}

/**
 * The composition root: opens the levels a configuration gives (or the `parts` given instead), the read path over
 * them and the event bus, which hears of the page table's changes (this process's and the others') and of each
 * networked level's outages.
 */
export async function openStore(config: Config, parts: StoreParts = {}): Promise<Store> {
  // First, so that a compressor's configuration error stops vmem before anything is opened.
  const compressors = parts.compressors ?? (await openCompressors(config, tokenizer(config.encoding)));
  // Before anything else is opened: a shared Redis unreachable or unfit stops vmem.
  const cluster = await openCluster(config);
  let l4: L4Store;
  let catalog: Catalog;
  try {
    l4 = parts.l4 ?? (await openL4(config));
    const shared = cluster && (await openSharedLog(config, cluster, l4, parts.freshCatalog));
    catalog = await Catalog.open(config.dataDir, { shared });
  } catch (err) {
    // Until the page table is open, nothing else would close them (an open one closes them itself).
    cluster?.client.disconnect();
    cluster?.blocking.disconnect();
    throw err;
  }
  const locks = parts.locks ?? locksOf(config, cluster);
  const l3 = parts.l3 ?? (await openL3(config, l4));
  const l2 = parts.l2 ?? (await openL2(config));
  const events = new EventBus();
  catalog.on('changed', () => events.emit('pages'));
  const store: Store = {
    config,
    catalog,
    l2,
    l3,
    l4,
    locks,
    read: new ReadPath(l2, l4, config.l2TtlSeconds),
    compressors,
    now: parts.now ?? Date.now,
    resend: parts.resend ?? defaultResendPolicy(config),
    events,
  };
  for (const { level, store: part } of backendsOf({ l2, l3, l4, sharedPageTable: catalog.shared }))
    watchHealth(level, part, (h) => events.emit('health', h));
  return store;
}
