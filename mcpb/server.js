// The entry point of the MCP Bundle (server/index.js in the .mcpb): Claude Desktop runs
//   node server/index.js [ingest folder...]
// with the settings of manifest.json in the environment, and this starts `vmem serve` on stdio.
// Two things differ from a plain `vmem serve`:
// - MCPB passes a setting of several folders as separate arguments; vmem reads its ingest roots
//   from one VMEM_INGEST_ROOTS list.
// - A setting the app leaves without a value may arrive as its placeholder, "${user_config.…}";
//   that means unset, never a path or a URL.
import { createRequire } from 'node:module';
import { delimiter } from 'node:path';

const placeholder = (v) => /^\$\{[^}]*\}$/.test(v);

for (const [name, value] of Object.entries(process.env)) {
  if ((name.startsWith('VMEM_') || name === 'OPENAI_API_KEY') && value !== undefined && placeholder(value))
    delete process.env[name];
}
const roots = process.argv.slice(2).filter((a) => a && !placeholder(a));
if (roots.length) process.env.VMEM_INGEST_ROOTS = roots.join(delimiter);
process.argv.splice(2, Infinity, 'serve');

// The package's own command, wherever its build puts it.
const pkg = createRequire(import.meta.url)('../package.json');
const bin = typeof pkg.bin === 'string' ? pkg.bin : pkg.bin.vmem;
await import(new URL(`../${bin}`, import.meta.url).href);
