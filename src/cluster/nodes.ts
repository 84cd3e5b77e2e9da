import { randomBytes, randomUUID } from 'node:crypto';
import { type Config, settingName } from '../config.js';
import { ConfigError } from '../errors.js';
import { loadOptional } from '../optional.js';
import type { Networked } from '../tiers/status.js';

/**
 * Several `vmem serve --http` behind one address: a session's L1 and its server→client stream live in the
 * process that initialized it, so every request of a session must reach that process. Session ids name it
 * (`<nodeId>.<uuid>`), and the node directory tells where each live node is reached, so any server can
 * pass a request on to the one that owns its session (see forward.ts).
 */
export interface NodeDirectory extends Networked {
  /**
   * This server's id: VMEM_NODE_ID, else random at each start. Either way a session minted before a restart is
   * gone after it (sessions live in the process), and the restarted server answers 404 for it.
   */
  readonly nodeId: string;
  /** Announces this node at `url` (its origin, e.g. http://10.0.0.5:7411) until `close`; a ConfigError when another live server has its id. */
  join(url: string): Promise<void>;
  /**
   * The origin a live node is reached at; undefined when no live node has that id (it stopped, or its
   * announcement lapsed). Throws when the directory itself cannot be asked.
   */
  lookup(nodeId: string): Promise<string | undefined>;
  /** Says that a node did not answer at the origin `lookup` gave, so the next lookup asks the directory again. */
  unreachable(nodeId: string): void;
  /** Withdraws the announcement and disconnects. */
  close(): Promise<void>;
}

/** A node id: 12 URL-safe characters, random per process start. */
export const newNodeId = (): string => randomBytes(9).toString('base64url');

/** A session id that names the node owning it; the UUID keeps it unguessable. */
export const sessionIdOn = (nodeId: string): string => `${nodeId}.${randomUUID()}`;

/** The node a session id names, or undefined for an id minted by a server outside a cluster. */
export function nodeOfSession(sessionId: string): string | undefined {
  const dot = sessionId.indexOf('.');
  return dot > 0 ? sessionId.slice(0, dot) : undefined;
}

const WILDCARDS = ['0.0.0.0', '::', '[::]', '0:0:0:0:0:0:0:0'];

/**
 * The origin other servers reach this one at: `advertiseUrl` (VMEM_ADVERTISE_URL), else `http://host:port` when
 * the listening host is a real address. A wildcard host says nothing the others could dial, so it needs the
 * setting: a ConfigError naming it. `port` is the port listened on (known after listening when 0 was asked for).
 */
export function advertisedOrigin(host: string, port: number, advertiseUrl?: string): string {
  if (advertiseUrl) return advertiseUrl.replace(/\/$/, '');
  if (WILDCARDS.includes(host))
    throw new ConfigError(
      `${settingName('catalogUrl')} is set and ${settingName('httpHost')} is ${host}, an address other servers cannot dial: set ${settingName('advertiseUrl')} to the origin they reach this server at, e.g. http://10.0.0.5:7411`,
    );
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** The node directory on the catalog Redis (its client loaded only then), or undefined outside a cluster. */
export async function openNodeDirectory(
  config: Pick<Config, 'catalogUrl' | 'namespace' | 'nodeId'>,
): Promise<NodeDirectory | undefined> {
  if (!config.catalogUrl) return undefined;
  const { RedisNodeDirectory } = await loadOptional(
    'ioredis',
    `${settingName('catalogUrl')} is set`,
    () => import('./redis-nodes.js'),
  );
  return RedisNodeDirectory.open(config.catalogUrl, {
    prefix: `${config.namespace}:nodes:`,
    nodeId: config.nodeId,
    nodeIdSetting: settingName('nodeId'),
  });
}
