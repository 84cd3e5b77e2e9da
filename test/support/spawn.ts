import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport, type StdioServerParameters } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ListRootsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { REPO } from '../helpers.ts';

export const CLI = join(REPO, 'dist', 'cli.js');
/**
 * A clean environment for a spawned vmem. On a Node without node:sqlite (20), better-sqlite3 must be beside
 * vmem, as its users install it: the repository's copy stands in, through NODE_PATH.
 */
export const ENV: Record<string, string> = {
  PATH: process.env.PATH ?? '',
  HOME: process.env.HOME ?? '',
  ...(hasNodeSqlite() ? {} : { NODE_PATH: join(REPO, 'node_modules') }),
};

function hasNodeSqlite(): boolean {
  try {
    createRequire(import.meta.url)('node:sqlite');
    return true;
  } catch {
    return false;
  }
}

export interface Spawned {
  client: Client;
  transport: StdioClientTransport;
  errors: Error[];
  stderr: () => string;
  close: () => Promise<void>;
}

/** A server spawned by the SDK's stdio transport, as a host spawns it, with the stderr it has written so far. */
export interface Connected {
  client: Client;
  transport: StdioClientTransport;
  stderr: () => string;
}

/**
 * Spawns `server` (command, args, env, cwd) and connects a real SDK client to it over stdio. `prepare` may set
 * capabilities' handlers before the connection; a failed connection names what the server wrote on stderr.
 */
export async function connectStdio(
  server: Omit<StdioServerParameters, 'stderr'>,
  client = new Client({ name: 'vmem-stdio-test', version: '1.0.0' }),
): Promise<Connected> {
  const transport = new StdioClientTransport({ ...server, stderr: 'pipe' });
  let stderr = '';
  transport.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  await client.connect(transport).catch((err: Error) => {
    throw new Error(`${err.message}; server stderr: ${stderr}`);
  });
  return { client, transport, stderr: () => stderr };
}

/**
 * Spawns the built binary as an MCP server over stdio, with a real SDK client. `beforeConnect` may set
 * notification handlers, to see what the server says during initialization. With `roots`, the client
 * offers them as its MCP roots (the directories `ingest {path}` may read).
 */
export async function spawnServer(
  dataDir: string,
  extra: string[] = [],
  beforeConnect?: (client: Client) => void,
  roots?: string[],
): Promise<Spawned> {
  const client = new Client(
    { name: 'vmem-stdio-test', version: '1.0.0' },
    roots ? { capabilities: { roots: { listChanged: true } } } : {},
  );
  if (roots)
    client.setRequestHandler(ListRootsRequestSchema, () => ({
      roots: roots.map((r) => ({ uri: pathToFileURL(r).href, name: r })),
    }));
  const errors: Error[] = [];
  // A non-JSON-RPC line on stdout fails to parse and surfaces here.
  client.onerror = (e) => void errors.push(e);
  beforeConnect?.(client);
  const { transport, stderr } = await connectStdio(
    { command: process.execPath, args: [CLI, 'serve', '--data-dir', dataDir, ...extra], env: ENV },
    client,
  );
  return { client, transport, errors, stderr, close: () => client.close() };
}
