import { Redis, ReplyError } from 'ioredis';
import { delayOf } from '../backoff.js';
import { settingName, shownUrl } from '../config.js';
import { ConfigError, PageTableUnavailableError } from '../errors.js';

/**
 * Connections to the durable Redis that vmem servers on several machines share (VMEM_CATALOG_URL): the page
 * table's stream, locks and summary claims live there. Loaded with a dynamic `import()` only when that
 * setting is set (see wiring.ts), like L2's client.
 *
 * Unlike L2, which is a cache and should run `allkeys-lru`, this Redis holds state that exists nowhere else
 * until L4 has it, so it must neither evict nor forget:
 * - `appendonly yes`: without AOF a restart loses every write since the last RDB snapshot;
 * - `maxmemory-policy noeviction`: any evicting policy may drop the page table when memory runs out, and
 *   the `volatile-*` ones drop exactly the keys with a TTL, that is, locks and claims still held.
 * Run it as `redis-server --appendonly yes --maxmemory-policy noeviction`, a separate instance from the L2
 * cache (whose allkeys-lru would drop the page table).
 *
 * `appendfsync` is the operator's trade-off, not checked: `always` loses nothing acknowledged; `everysec`
 * (Redis's default) may lose up to about one second of acknowledged writes if Redis itself crashes or its
 * machine loses power (not when only a vmem process dies).
 */

export interface DurableRedisOptions {
  /** The setting the URL came from, named in errors. Default VMEM_CATALOG_URL / --catalog-url. */
  setting?: string;
  /** How long the first connection may take before vmem stops with an error; also each later attempt's limit. Default 5000. */
  connectTimeoutMs?: number;
  /** A command not answered within this many ms fails. Default 5000. Not applied to blocking connections. */
  commandTimeoutMs?: number;
  /** Upper bound of the reconnect backoff after an outage. Default 2000. */
  maxReconnectDelayMs?: number;
  /**
   * A connection for blocking commands (XREAD BLOCK, BLPOP): no command timeout, since a blocked read
   * waits on purpose. Such a connection serves nothing else while it waits: make it one of its own.
   */
  blocking?: boolean;
}

/** What the durability check found. `via` says where: CONFIG GET, or INFO where CONFIG is disabled (managed Redis). */
export interface Durability {
  appendonly: boolean;
  maxmemoryPolicy: string;
  /** Only CONFIG tells it. */
  appendfsync?: string;
  via: 'CONFIG' | 'INFO';
}

/**
 * A connection to the Redis at `url`, ready (AUTH and SELECT done), without the durability check: for extra
 * connections to an instance `openDurableRedis` has checked, such as a stream follower's blocking one.
 * Fails with a PageTableUnavailableError (an operator's problem) naming the URL when the first attempt fails or times out, rather than
 * waiting. Afterwards the client reconnects by itself forever (backoff up to `maxReconnectDelayMs`); while it is
 * disconnected commands fail at once (no offline queue), so a caller sees an outage instead of hanging on it.
 */
export async function connectRedis(url: string, opts: DurableRedisOptions = {}): Promise<Redis> {
  const setting = opts.setting ?? settingName('catalogUrl');
  const connectTimeout = opts.connectTimeoutMs ?? 5000;
  const backoff = { initialMs: 50, maxMs: opts.maxReconnectDelayMs ?? 2000 };
  const client = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    // A command in flight when the connection drops fails rather than being sent again later: a lock taken
    // twice, or a stream entry appended twice, is worse than an error the caller sees.
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    commandTimeout: opts.blocking ? undefined : (opts.commandTimeoutMs ?? 5000),
    connectTimeout,
    retryStrategy: (times) => delayOf(backoff, times),
  });
  let lastError: Error | undefined;
  // 'error' must have a listener or ioredis prints every failed attempt; outages show as failed commands.
  client.on('error', (err: Error) => {
    lastError = err;
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client.connect(),
      new Promise((_, reject) => {
        // connectTimeout bounds the TCP connect; this bounds what follows it too (TLS, AUTH, the ready check).
        timer = setTimeout(() => reject(new Error(`no answer within ${connectTimeout} ms`)), connectTimeout + 1000);
      }),
    ]);
  } catch (err) {
    client.disconnect();
    const cause = lastError ?? (err as Error);
    throw new PageTableUnavailableError(
      `cannot reach the Redis at ${shownUrl(url)} (${setting}): ${cause.message}; start it, or check the URL, its password and the network`,
      { cause },
    );
  } finally {
    clearTimeout(timer);
  }
  return client;
}

/**
 * Opens a connection to the Redis at `url` (see `connectRedis`) and checks that it is fit to hold state shared
 * between machines (see `checkDurable`). Call `.duplicate()` on the result, or `connectRedis`, for more connections.
 */
export async function openDurableRedis(url: string, opts: DurableRedisOptions = {}): Promise<Redis> {
  const client = await connectRedis(url, opts);
  try {
    await checkDurable(client, url, opts.setting);
  } catch (err) {
    client.disconnect();
    throw err;
  }
  return client;
}

/** Reads the instance's persistence and eviction settings: CONFIG GET, else INFO (CONFIG is often disabled on managed Redis). */
export async function durabilityOf(client: Redis): Promise<Durability> {
  try {
    const get = async (name: string) => ((await client.call('CONFIG', 'GET', name)) as string[])[1];
    const [appendonly, maxmemoryPolicy, appendfsync] = await Promise.all([
      get('appendonly'),
      get('maxmemory-policy'),
      get('appendfsync'),
    ]);
    if (appendonly !== undefined && maxmemoryPolicy !== undefined)
      return { appendonly: appendonly === 'yes', maxmemoryPolicy, appendfsync, via: 'CONFIG' };
  } catch (err) {
    // A refusal (renamed command, an ACL without +config) sends us to INFO; a lost connection does not.
    if (!(err instanceof ReplyError)) throw err;
  }
  const info = async (section: string) => {
    const fields = new Map<string, string>();
    for (const line of ((await client.info(section)) as string).split('\r\n')) {
      const at = line.indexOf(':');
      if (at > 0) fields.set(line.slice(0, at), line.slice(at + 1));
    }
    return fields;
  };
  const [persistence, memory] = await Promise.all([info('persistence'), info('memory')]);
  return {
    appendonly: persistence.get('aof_enabled') === '1',
    maxmemoryPolicy: memory.get('maxmemory_policy') ?? 'unknown',
    via: 'INFO',
  };
}

/**
 * Refuses, with a ConfigError naming the setting, what was found and the fix, a Redis that could lose the
 * page table: AOF off, or any maxmemory-policy but noeviction (checked even while maxmemory is 0, since it can
 * be raised at runtime). Returns what it found.
 */
export async function checkDurable(
  client: Redis,
  url: string,
  setting = settingName('catalogUrl'),
): Promise<Durability> {
  let found: Durability;
  try {
    found = await durabilityOf(client);
  } catch (err) {
    if (err instanceof ReplyError)
      throw new ConfigError(
        `${setting}: cannot tell whether the Redis at ${shownUrl(url)} is durable (neither CONFIG GET nor INFO answered: ${(err as Error).message}); allow the user vmem connects as to run INFO`,
        { cause: err },
      );
    throw new PageTableUnavailableError(
      `the Redis at ${shownUrl(url)} (${setting}) stopped answering: ${(err as Error).message}`,
      { cause: err },
    );
  }
  const wrong: string[] = [];
  if (!found.appendonly) wrong.push('appendonly is no (a restart loses what was written since the last snapshot)');
  if (found.maxmemoryPolicy !== 'noeviction')
    wrong.push(
      `maxmemory-policy is ${found.maxmemoryPolicy} (when memory runs out Redis drops keys: the page table, or locks still held)`,
    );
  if (wrong.length)
    throw new ConfigError(
      `${setting} is ${shownUrl(url)}, a Redis that can lose the shared page table: ${wrong.join('; ')}. ` +
        'Run a separate instance from the L2 cache (whose allkeys-lru would drop the page table) with ' +
        '`redis-server --appendonly yes --maxmemory-policy noeviction` (add --appendfsync always to lose no acknowledged write), ' +
        'or set appendonly yes and maxmemory-policy noeviction in its configuration',
    );
  return found;
}
