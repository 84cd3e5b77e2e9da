import { realpath } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { RootsListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { InputError } from '../errors.js';

/** Where `ingest {path}` may read: the server's own list, and the client's MCP roots where they count. */
export interface IngestRoots {
  /** The real path of `path` when it lies inside a root; otherwise an InputError naming the roots. */
  check(path: string): Promise<string>;
  /** Call once the session is initialized: reads the client's roots if they count and it has some. */
  start(): void;
}

const inside = (root: string, path: string) => {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
};

/** Real paths of the roots that exist; a root that does not is no root. */
async function realRoots(paths: string[]): Promise<string[]> {
  const real = await Promise.all(paths.map((p) => realpath(p).catch(() => undefined)));
  return real.filter((p): p is string => !!p);
}

/**
 * Ingest roots for one MCP session. `configured` is VMEM_INGEST_ROOTS. With `fromClient` (stdio: the
 * client runs on this machine), the client's `roots/list` counts too, read when the session starts and
 * again on `roots/list_changed`, as the reference filesystem server does. Over HTTP the client's roots
 * name another machine's files, so only the configured ones count, and with none, paths are refused.
 */
export function ingestRoots(server: McpServer, configured: string[], fromClient: boolean): IngestRoots {
  let client: string[] = [];
  let reading: Promise<void> = Promise.resolve();
  const readClientRoots = () => {
    reading = server.server
      .listRoots()
      .then(
        ({ roots }) =>
          void (client = roots.filter((r) => r.uri.startsWith('file://')).map((r) => fileURLToPath(r.uri))),
      )
      .catch((err: unknown) =>
        console.error(
          `vmem: reading the client's roots failed (${(err as Error).message}); only VMEM_INGEST_ROOTS apply`,
        ),
      );
  };
  if (fromClient) server.server.setNotificationHandler(RootsListChangedNotificationSchema, () => readClientRoots());

  return {
    start() {
      if (fromClient && server.server.getClientCapabilities()?.roots) readClientRoots();
    },
    async check(path) {
      if (!path.trim())
        throw new InputError('path', 'is empty; pass a file or directory, or the document itself as text');
      if (path.includes('\0'))
        throw new InputError(
          'path',
          'contains a NUL byte, which no file name can hold; pass the path as it is on disk',
        );
      await reading;
      const roots = await realRoots([...configured, ...client]);
      if (!roots.length) {
        throw new InputError(
          'path',
          fromClient
            ? 'reading files needs a root: set VMEM_INGEST_ROOTS on the server, or use a host that shares MCP roots; or pass the document as text'
            : 'reading files over HTTP is off unless the server sets VMEM_INGEST_ROOTS; pass the document as text',
        );
      }
      const refuse = () =>
        new InputError(
          'path',
          `${path} is outside the ingest roots (${roots.join(', ')}); pass a path inside one of them, or the document as text`,
        );
      // A relative path is taken from the first root; nothing is looked up outside the roots.
      const asked = resolve(roots[0]!, path);
      if (!roots.some((r) => inside(r, asked))) throw refuse();
      const real = await realpath(asked).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT')
          throw new InputError('path', `${path} does not exist; pass an existing file or directory`);
        if (err.code === 'EACCES') throw new InputError('path', `${path} is not readable (permission denied)`);
        throw err;
      });
      // Symlinks are followed first: a link inside a root that points out of it is refused.
      if (!roots.some((r) => inside(r, real))) throw refuse();
      return real;
    },
  };
}
