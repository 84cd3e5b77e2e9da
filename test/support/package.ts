/**
 * The package as its users get it, for test/package.test.ts and bench/package.ts: `npm pack` of the
 * project, installed into an empty folder as a consumer installs it, and the size of that install.
 *
 * The pack runs on a copy of the sources (with the checkout's node_modules linked in), so its
 * `prepare` builds the copy's dist/ and never rewrites the checkout's, which other tests are running.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { join } from 'node:path';

/** What `npm pack` needs to build and pack the project. */
const SOURCES = ['package.json', 'package-lock.json', 'README.md', 'tsconfig.json', 'src', 'scripts', 'schemas'];

/** The packages a default install must not bring (optional peers: installed only by those who configure them). */
export const HEAVY_BACKENDS = ['@aws-sdk/client-s3', 'better-sqlite3', 'chromadb', 'ioredis', 'openai'];

/** Why an npm command failed when the reason is the registry being out of reach, else undefined. */
export function registryUnreachable(output: string): string | undefined {
  const line = output
    .split('\n')
    .find((l) => /ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ENETUNREACH|ETIMEDOUT|ENOTCACHED|network/i.test(l));
  return line?.trim();
}

export class NpmError extends Error {
  constructor(
    readonly args: string[],
    readonly output: string,
  ) {
    super(`npm ${args.join(' ')} failed:\n${output.slice(-3000)}`);
  }
}

/** Runs npm in `cwd`; throws an NpmError with its output when it fails. */
export function npm(cwd: string, args: string[]): string {
  const r = spawnSync('npm', args, {
    cwd,
    encoding: 'utf8',
    timeout: 240_000,
    env: { ...process.env, npm_config_update_notifier: 'false' },
  });
  const output = `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}`;
  if (r.status !== 0) throw new NpmError(args, output);
  return output;
}

/** `npm pack` of the project at `root` into `into` (built from a copy of its sources there); the tarball's path. */
export function packProject(root: string, into: string): string {
  const copy = join(into, 'source');
  fs.mkdirSync(copy, { recursive: true });
  for (const name of SOURCES) fs.cpSync(join(root, name), join(copy, name), { recursive: true });
  fs.symlinkSync(join(root, 'node_modules'), join(copy, 'node_modules'), 'dir');
  npm(copy, ['pack', '--pack-destination', into, '--loglevel=error']);
  const tarball = fs.readdirSync(into).find((f) => f.endsWith('.tgz'));
  if (!tarball) throw new Error(`npm pack wrote no tarball into ${into}`);
  return join(into, tarball);
}

/**
 * Installs `spec` (a tarball path or a registry spec) into `dir`, a new empty project, as a consumer does:
 * without devDependencies, from npm's cache when it has what is needed.
 */
export function installInto(dir: string, spec: string): void {
  fs.mkdirSync(dir, { recursive: true });
  // A package.json of its own, so npm installs here and not into a project above the folder.
  fs.writeFileSync(join(dir, 'package.json'), '{ "name": "consumer", "private": true }\n');
  npm(dir, ['install', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', spec]);
}

/** Bytes of the files under `dir` (symlinks count as links, not followed). */
export function treeBytes(dir: string): number {
  let bytes = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) bytes += treeBytes(path);
    else bytes += fs.lstatSync(path).size;
  }
  return bytes;
}

/** Megabytes as npm counts them (10^6 bytes). */
export const MB = 1e6;
