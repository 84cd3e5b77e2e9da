import { homedir } from 'node:os';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { ConfigError } from './errors.js';

/** Tokenizer encodings vmem can count with. */
export const ENCODINGS = ['o200k_base', 'cl100k_base'] as const;
export type EncodingName = (typeof ENCODINGS)[number];
/** How evicted pages are compressed. */
export const COMPRESSORS = ['extractive', 'openai', 'sampling'] as const;
/** What L3 ranks with besides its lexical index: nothing (offline), or an OpenAI-compatible embeddings API. */
export const EMBEDDERS = ['lexical', 'openai'] as const;

function defaultDataDir(env: NodeJS.ProcessEnv): string {
  // Never the working directory: under `npx` that is a throwaway cache or the host's cwd.
  // The XDG spec says a relative XDG_DATA_HOME is invalid and must be ignored.
  const xdg = env.XDG_DATA_HOME && isAbsolute(env.XDG_DATA_HOME) ? env.XDG_DATA_HOME : undefined;
  const base = xdg ?? join(env.HOME || homedir(), '.local', 'share');
  return join(base, 'vmem');
}

const intFrom = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, 'must be a whole number of decimal digits')
    .transform(Number)
    .pipe(z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));

/** An optional setting: empty means unset. */
const optional = (schema: z.ZodString) =>
  z
    .string()
    .trim()
    .transform((v) => v || undefined)
    .pipe(schema.optional());

/** The one configuration schema; every setting has an env var `VMEM_<NAME>` and a flag `--<name>`. */
export const configSchema = z
  .object({
    dataDir: z.string().min(1, 'must not be empty'),
    pageTokens: intFrom(64, 32_000),
    l1Tokens: intFrom(256, 2_000_000),
    encoding: z.enum(ENCODINGS, { message: `must be one of ${ENCODINGS.join(', ')}` }),
    l2TtlSeconds: intFrom(1, 30 * 24 * 3600),
    l2MaxPages: intFrom(1, 10_000_000),
    maxIngestBytes: intFrom(1, 2 ** 31),
    namespace: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, _ or -'),
    redisUrl: optional(
      z.string().regex(/^rediss?:\/\/\S+$/, 'must be a redis:// or rediss:// URL, e.g. redis://localhost:6379/0'),
    ),
    compressor: z.enum(COMPRESSORS, { message: `must be one of ${COMPRESSORS.join(', ')}` }),
    compressRatio: intFrom(2, 100),
    compressConcurrency: intFrom(1, 64),
    openaiModel: z.string().min(1, 'must name a model'),
    openaiBaseUrl: z
      .string()
      .regex(
        /^https?:\/\/\S+$/,
        'must be an http:// or https:// URL of an OpenAI-compatible API, e.g. http://localhost:11434/v1',
      ),
    embedder: z.enum(EMBEDDERS, { message: `must be one of ${EMBEDDERS.join(', ')}` }),
    embedModel: z
      .string()
      .trim()
      .min(1, 'must name an embedding model, e.g. text-embedding-3-small or nomic-embed-text'),
    embedBaseUrl: z
      .string()
      .regex(
        /^https?:\/\/\S+$/,
        'must be an http:// or https:// URL of an OpenAI-compatible API, e.g. http://localhost:11434/v1',
      ),
    httpHost: z.string().regex(/^[A-Za-z0-9.:-]+$/, 'must be a host name or IP address, e.g. 127.0.0.1'),
    httpPort: intFrom(0, 65535),
    sessionIdleSeconds: intFrom(1, 7 * 24 * 3600),
    maxSessions: intFrom(1, 100_000),
    allowedHosts: z
      .string()
      .trim()
      .transform((v) =>
        v
          ? v
              .split(',')
              .map((h) => h.trim().toLowerCase())
              .filter(Boolean)
          : [],
      )
      .pipe(
        z.array(
          z.string().regex(/^[a-z0-9.:[\]-]+$/, 'must be host names separated by commas, e.g. vmem.internal,10.0.0.5'),
        ),
      ),
    authTokenFile: optional(z.string().min(1)),
    resendAfterSeconds: intFrom(0, 7 * 24 * 3600),
    watchIgnore: z.string().transform((v) =>
      v
        .split(',')
        .map((p) => p.trim())
        .filter(Boolean),
    ),
    ingestRoots: z
      .string()
      .trim()
      .transform((v) =>
        v
          ? v
              .split(delimiter)
              .map((r) => r.trim())
              .filter(Boolean)
          : [],
      )
      .pipe(
        z.array(
          z
            .string()
            .refine(isAbsolute, `must be absolute paths separated by ${JSON.stringify(delimiter)}, e.g. /home/me/docs`),
        ),
      ),
    chromaUrl: optional(
      z
        .string()
        .regex(
          /^https?:\/\/[^\s/]+\/?$/,
          'must be an http:// or https:// URL of a Chroma server, e.g. http://localhost:8000',
        ),
    ),
    l4Url: z
      .string()
      .trim()
      .regex(
        // A bucket name as S3 allows it (3-63 lowercase letters, digits, dots, hyphens), then an optional key prefix.
        /^(file:|s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/[^\s]*)?)$/,
        'must be file: (pages in the data dir) or s3://bucket[/prefix], e.g. s3://vmem-pages/team-a',
      ),
    catalogUrl: optional(
      z
        .string()
        .regex(
          /^rediss?:\/\/\S+$/,
          'must be a redis:// or rediss:// URL of a durable Redis (AOF on, noeviction), e.g. redis://catalog:6379/0',
        ),
    ),
    advertiseUrl: optional(
      z
        .string()
        .regex(
          /^https?:\/\/[^\s/]+\/?$/,
          'must be the http:// or https:// origin other servers reach this one at, e.g. http://10.0.0.5:7411',
        ),
    ),
    nodeId: optional(
      z
        .string()
        .regex(
          /^[A-Za-z0-9_-]{1,32}$/,
          'must be 1-32 letters, digits, _ or -, one per server sharing VMEM_CATALOG_URL, e.g. vmem-a',
        ),
    ),
    s3Endpoint: optional(
      z
        .string()
        .regex(
          /^https?:\/\/[^\s/]+\/?$/,
          'must be the http:// or https:// URL of an S3-compatible server, e.g. http://localhost:9000 (unset for AWS S3)',
        ),
    ),
  })
  .refine((c) => c.l1Tokens >= c.pageTokens, {
    path: ['l1Tokens'],
    message: 'must be at least pageTokens, or no page would fit in L1',
  })
  .refine((c) => !c.s3Endpoint || c.l4Url.startsWith('s3://'), {
    path: ['s3Endpoint'],
    message:
      'is set but L4 is not on object storage: set VMEM_L4_URL / --l4-url to s3://bucket[/prefix], or unset this',
  });

export type Config = z.infer<typeof configSchema>;

/** One setting's env var, flag, help line and default; `http` marks those only `serve --http` reads. */
export interface Setting {
  env: string;
  flag: string;
  doc: string;
  default: (env: NodeJS.ProcessEnv) => string;
  http?: true;
}

/** Setting name → env var and flag: the one table the CLI's flags, its help and error messages come from. */
export const SETTINGS: Record<keyof Config, Setting> = {
  dataDir: {
    env: 'VMEM_DATA_DIR',
    flag: '--data-dir',
    doc: 'where L4 pages, the page table and the L3 index live',
    default: defaultDataDir,
  },
  pageTokens: { env: 'VMEM_PAGE_TOKENS', flag: '--page-tokens', doc: 'maximum tokens per page', default: () => '2000' },
  l1Tokens: {
    env: 'VMEM_L1_TOKENS',
    flag: '--l1-tokens',
    doc: 'L1 (context) budget per session, in tokens',
    default: () => '16000',
  },
  encoding: {
    env: 'VMEM_ENCODING',
    flag: '--encoding',
    doc: 'tokenizer: o200k_base or cl100k_base',
    default: () => 'o200k_base',
  },
  l2TtlSeconds: {
    env: 'VMEM_L2_TTL',
    flag: '--l2-ttl',
    doc: 'seconds a page stays in L2 after its last use',
    default: () => '3600',
  },
  maxIngestBytes: {
    env: 'VMEM_MAX_INGEST_BYTES',
    flag: '--max-ingest-bytes',
    doc: 'largest text or file one ingest accepts',
    default: () => String(64 * 1024 * 1024),
  },
  l2MaxPages: {
    env: 'VMEM_L2_MAX_PAGES',
    flag: '--l2-max-pages',
    doc: 'pages the embedded L2 holds before dropping the least recently used',
    default: () => '4096',
  },
  namespace: {
    env: 'VMEM_NAMESPACE',
    flag: '--namespace',
    doc: 'Redis key prefix and Chroma collection name, so several stores can share one server',
    default: () => 'vmem',
  },
  redisUrl: {
    env: 'VMEM_REDIS_URL',
    flag: '--redis-url',
    doc: 'L2 on Redis (redis://[:password@]host:port[/db]); unset: in-process L2',
    default: () => '',
  },
  compressor: {
    env: 'VMEM_COMPRESSOR',
    flag: '--compressor',
    doc: "how evicted pages are summarized: extractive (offline), openai, or sampling (the host's model)",
    default: () => 'extractive',
  },
  compressRatio: {
    env: 'VMEM_COMPRESS_RATIO',
    flag: '--compress-ratio',
    doc: 'page tokens per summary token',
    default: () => '10',
  },
  compressConcurrency: {
    env: 'VMEM_COMPRESS_CONCURRENCY',
    flag: '--compress-concurrency',
    doc: 'pages summarized at once',
    default: () => '2',
  },
  openaiModel: {
    env: 'VMEM_OPENAI_MODEL',
    flag: '--openai-model',
    doc: 'chat model of the openai compressor',
    default: () => 'gpt-4o-mini',
  },
  openaiBaseUrl: {
    env: 'VMEM_OPENAI_BASE_URL',
    flag: '--openai-base-url',
    doc: 'OpenAI-compatible API (Ollama, vLLM, LM Studio, llama.cpp); the key comes from OPENAI_API_KEY',
    default: (env) => env.OPENAI_BASE_URL || 'https://api.openai.com/v1',
  },
  embedder: {
    env: 'VMEM_EMBEDDER',
    flag: '--embedder',
    doc: 'what L3 ranks with besides words: lexical (offline) or openai (an OpenAI-compatible embeddings API)',
    default: () => 'lexical',
  },
  embedModel: {
    env: 'VMEM_EMBED_MODEL',
    flag: '--embed-model',
    doc: 'embedding model of the openai embedder (e.g. nomic-embed-text on Ollama)',
    default: () => 'text-embedding-3-small',
  },
  embedBaseUrl: {
    env: 'VMEM_EMBED_BASE_URL',
    flag: '--embed-base-url',
    doc: 'OpenAI-compatible embeddings API (Ollama, vLLM, TEI, LM Studio, llama.cpp); the key comes from OPENAI_API_KEY',
    default: (env) => env.OPENAI_BASE_URL || 'https://api.openai.com/v1',
  },
  httpHost: {
    env: 'VMEM_HTTP_HOST',
    flag: '--host',
    doc: 'address to listen on (beyond loopback a bearer token is required)',
    http: true,
    default: () => '127.0.0.1',
  },
  httpPort: {
    env: 'VMEM_HTTP_PORT',
    flag: '--port',
    doc: 'port (0: any free port)',
    http: true,
    default: () => '7411',
  },
  sessionIdleSeconds: {
    env: 'VMEM_SESSION_IDLE',
    flag: '--session-idle',
    doc: 'seconds without a request before a session ends and its L1 is released',
    http: true,
    default: () => '1800',
  },
  maxSessions: {
    env: 'VMEM_MAX_SESSIONS',
    flag: '--max-sessions',
    doc: 'sessions open at once; a new client past it ends the longest-idle one',
    http: true,
    default: () => '64',
  },
  allowedHosts: {
    env: 'VMEM_ALLOWED_HOSTS',
    flag: '--allowed-hosts',
    doc: 'host names accepted in Host/Origin besides loopback and --host (comma-separated)',
    http: true,
    default: () => '',
  },
  authTokenFile: {
    env: 'VMEM_AUTH_TOKEN_FILE',
    flag: '--auth-token-file',
    doc: 'file holding the bearer token (or set VMEM_AUTH_TOKEN)',
    http: true,
    default: () => '',
  },
  resendAfterSeconds: {
    env: 'VMEM_RESEND_AFTER',
    flag: '--resend-after',
    doc: 'seconds after which page_fault sends a page in L1 again instead of assuming the model still sees it (0: always)',
    default: () => '600',
  },
  watchIgnore: {
    env: 'VMEM_WATCH_IGNORE',
    flag: '--watch-ignore',
    doc: 'files --watch leaves out besides the .gitignore of the watched directory: gitignore patterns separated by commas, e.g. *.log,drafts/',
    default: () => '',
  },
  ingestRoots: {
    env: 'VMEM_INGEST_ROOTS',
    flag: '--ingest-roots',
    doc: `directories ingest {path} may read, besides the client's MCP roots (stdio only); separated by "${delimiter}"`,
    default: () => '',
  },
  chromaUrl: {
    env: 'VMEM_CHROMA_URL',
    flag: '--chroma-url',
    doc: 'L3 vectors on a Chroma server (http://host:port), one collection per namespace; unset: embedded L3 only',
    default: () => '',
  },
  l4Url: {
    env: 'VMEM_L4_URL',
    flag: '--l4-url',
    doc: 'where L4 keeps every page: file: (the data dir) or s3://bucket[/prefix] (credentials from the AWS environment)',
    default: () => 'file:',
  },
  catalogUrl: {
    env: 'VMEM_CATALOG_URL',
    flag: '--catalog-url',
    doc: 'share the page table with vmem servers on other machines through a durable Redis (AOF on, noeviction); unset: the data dir',
    default: () => '',
  },
  advertiseUrl: {
    env: 'VMEM_ADVERTISE_URL',
    flag: '--advertise-url',
    doc: "where the other servers sharing VMEM_CATALOG_URL reach this one, to pass on requests of this server's sessions",
    http: true,
    default: () => '',
  },
  nodeId: {
    env: 'VMEM_NODE_ID',
    flag: '--node-id',
    doc: "this server's name at the head of its session ids, for a proxy that routes on it; unset: random at each start",
    http: true,
    default: () => '',
  },
  s3Endpoint: {
    env: 'VMEM_S3_ENDPOINT',
    flag: '--s3-endpoint',
    doc: 'an S3-compatible server for VMEM_L4_URL=s3://… (MinIO, Ceph, R2, Garage), path-style; unset: AWS S3',
    default: () => '',
  },
};

/** Where L4 lives on object storage: the bucket and key prefix of an s3:// L4 URL; undefined for `file:`. */
export function s3Location(config: Pick<Config, 'l4Url'>): { bucket: string; prefix: string } | undefined {
  if (!config.l4Url.startsWith('s3://')) return undefined;
  const url = new URL(config.l4Url);
  return { bucket: url.hostname, prefix: decodeURIComponent(url.pathname).replace(/^\/+|\/+$/g, '') };
}

/** A service URL as messages show it: without the user name and password it may carry. */
export function shownUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return '(an unparsable URL)';
  }
}

/** How a setting is named in messages: its env var and its flag. */
export const settingName = (key: keyof Config): string => `${SETTINGS[key].env} / ${SETTINGS[key].flag}`;

/**
 * The key for an OpenAI-compatible endpoint at `baseUrl`, which `setting` (set to openai) calls: OPENAI_API_KEY.
 * Local servers take any key; OpenAI itself does not, so its absence there stops vmem, naming `baseUrlSetting`.
 */
export function endpointKey(
  baseUrl: string,
  env: NodeJS.ProcessEnv,
  setting: keyof Config,
  baseUrlSetting: keyof Config,
): string {
  const apiKey = env.OPENAI_API_KEY;
  if (apiKey) return apiKey;
  if (new URL(baseUrl).hostname === 'api.openai.com')
    throw new ConfigError(
      `${settingName(setting)} is openai: it needs OPENAI_API_KEY in the environment (or ${settingName(baseUrlSetting)} pointing at a local OpenAI-compatible server, e.g. http://localhost:11434/v1)`,
    );
  return 'unused';
}

/**
 * Builds the configuration from env vars, then flags (flags win). An empty (or blank) env var is
 * unset, so its default applies, as shells and service files often leave `VMEM_X=` behind; an
 * explicit empty flag is checked like any value. Unknown flags and bad values throw a ConfigError
 * naming the setting, its env var and flag.
 */
export function loadConfig(flags: Record<string, string> = {}, env: NodeJS.ProcessEnv = process.env): Config {
  const raw: Record<string, string> = {};
  const byFlag = new Map(Object.entries(SETTINGS).map(([k, s]) => [s.flag, k]));
  for (const flag of Object.keys(flags)) {
    if (!byFlag.has(flag)) throw new ConfigError(`unknown option ${flag}; known: ${[...byFlag.keys()].join(', ')}`);
  }
  for (const [key, s] of Object.entries(SETTINGS)) {
    raw[key] = flags[s.flag] ?? (env[s.env]?.trim() ? env[s.env] : undefined) ?? s.default(env);
  }
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const key = String(issue.path[0]) as keyof Config;
    throw new ConfigError(`invalid ${key} (${settingName(key)}) = ${JSON.stringify(raw[key])}: ${issue.message}`);
  }
  return { ...parsed.data, dataDir: resolve(parsed.data.dataDir) };
}
