/**
 * `npm run build`, also run by `prepare` (so `npm install` in a checkout, `npm pack` and installs from
 * git build too): bundles the command into dist/ with esbuild.
 *
 * Why a bundle: a consumer install then has no runtime dependency at all, the optional backends aside,
 * and is about 6 MB. Installing the MCP SDK, zod and js-tiktoken instead would bring whole packages
 * and their dependencies (js-tiktoken alone is 22 MB of every encoding's ranks, of which vmem uses two),
 * and reading one file at start is faster than resolving and loading some hundred modules from
 * node_modules (spawn to `initialize` about 330 ms against 700 ms before; BENCHMARKS.md has the figures).
 *
 * - chromadb, ioredis and openai stay external: optional peer dependencies, imported only when their
 *   setting asks for them (src/optional.ts names the package to add when one is missing).
 * - What a command needs only sometimes (the Chroma, Redis and OpenAI adapters, the HTTP server, the
 *   demo, reindex) is imported dynamically, so esbuild splits it into a chunk read only then.
 * - Each encoding's BPE ranks go to dist/ranks/<name>.json, read by the tokenizer on first use.
 * - CommonJS dependencies bundled into ESM call `require` for Node's built-ins: the banner provides one.
 * - The licenses of the bundled packages go to dist/THIRD-PARTY-LICENSES.md.
 * - Source maps without sources: `node --enable-source-maps dist/cli.js` gives stack traces in src/.
 */
import { chmodSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { ENCODINGS } from '../src/config.js';
import { OPTIONAL_PACKAGES } from '../src/optional.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = join(root, 'dist');

rmSync(dist, { recursive: true, force: true });
const { metafile } = await build({
  absWorkingDir: root,
  entryPoints: { cli: 'src/cli.ts' },
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: Object.keys(OPTIONAL_PACKAGES),
  banner: {
    js: "import { createRequire as __vmemRequire } from 'node:module'; const require = __vmemRequire(import.meta.url);",
  },
  define: { VMEM_BUNDLE: 'true' },
  sourcemap: 'linked',
  sourcesContent: false,
  metafile: true,
  logLevel: 'warning',
});
chmodSync(join(dist, 'cli.js'), 0o755);

mkdirSync(join(dist, 'ranks'));
for (const encoding of ENCODINGS) {
  const { default: ranks } = (await import(`js-tiktoken/ranks/${encoding}`)) as { default: unknown };
  writeFileSync(join(dist, 'ranks', `${encoding}.json`), JSON.stringify(ranks));
}

/** The packages whose code (or data: the ranks) dist/ holds, by their directory under node_modules. */
const bundled = new Set(['node_modules/js-tiktoken']);
for (const input of Object.keys(metafile.inputs)) {
  const dir = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input)?.[1];
  if (dir) bundled.add(dir);
}
const notices = [...bundled].sort().map((dir) => {
  const pkg = JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8')) as {
    name: string;
    version: string;
    license?: string;
    repository?: string | { url?: string };
  };
  const file = readdirSync(join(root, dir)).find((f) => /^(licen[cs]e|copying)(\.|$)/i.test(f));
  const repository = typeof pkg.repository === 'string' ? pkg.repository : pkg.repository?.url;
  const text = file
    ? readFileSync(join(root, dir, file), 'utf8').trim()
    : `${pkg.license ?? 'no license'}: the package ships no license file; its text is in the package's repository${repository ? `, ${repository}` : ''}`;
  return `## ${pkg.name} ${pkg.version} (${pkg.license ?? 'no license field'})\n\n\`\`\`text\n${text}\n\`\`\`\n`;
});
writeFileSync(
  join(dist, 'THIRD-PARTY-LICENSES.md'),
  `# Third-party code in dist/\n\nvmem's bundle includes these packages; their licenses follow.\n\n${notices.join('\n')}`,
);
