import { ConfigError } from './errors.js';

/**
 * The optional peer dependencies: the clients of the networked backends, installed by those who use
 * them, with the versions vmem is tested with (package.json's peerDependencies; a test keeps them equal).
 * The embedded defaults need none of them, so a plain install does not carry them (chromadb alone
 * brings a 51 MB native binding).
 */
export const OPTIONAL_PACKAGES = {
  /** L4 on S3-compatible object storage. */
  '@aws-sdk/client-s3': '^3.1178.0',
  /** SQLite for Node 20; Node ≥ 22.13 has it built in (node:sqlite). */
  'better-sqlite3': '^12.11.1',
  chromadb: '^3.5.0',
  ioredis: '^6.0.0',
  openai: '^6.49.0',
} as const;
export type OptionalPackage = keyof typeof OPTIONAL_PACKAGES;

/** Whether `err` says that `pkg` itself (not something it imports) cannot be found. */
function isMissing(err: unknown, pkg: string): boolean {
  const e = err as { code?: string; message?: string } | undefined;
  if (e?.code !== 'ERR_MODULE_NOT_FOUND' && e?.code !== 'MODULE_NOT_FOUND') return false;
  const name = /Cannot find (?:package|module) '([^']+)'/.exec(e.message ?? '')?.[1];
  return name === pkg || !!name?.startsWith(`${pkg}/`);
}

/**
 * Runs `load`, which imports the module that uses `pkg`. When `pkg` is not installed, throws a
 * ConfigError (one line, exit code 2) that names what asked for it (`why`, e.g. "VMEM_CHROMA_URL /
 * --chroma-url is set") and how to add the package where vmem will find it.
 */
export async function loadOptional<T>(pkg: OptionalPackage, why: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (err) {
    if (!isMissing(err, pkg)) throw err;
    const spec = `${pkg}@${OPTIONAL_PACKAGES[pkg]}`;
    throw new ConfigError(
      `${why} but the package ${pkg} is not installed; install it next to vmem: npm install -g ${spec} (vmem installed with -g), npm install ${spec} (vmem in a project's node_modules), or npx -p <vmem> -p ${spec} vmem …`,
      { cause: err },
    );
  }
}
