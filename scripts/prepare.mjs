// `prepare`: npm runs it after `npm install` in a checkout, for `npm pack`, and when it installs vmem from
// git, so each of those gets a built dist/. It is plain JavaScript because it may run before the
// devDependencies are there: `npm install -g <git URL>` prepares the clone in a nested install that
// inherits --global and so installs none (npm/cli#8440); they are installed here first, then.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);
const installed = (pkg) => {
  try {
    require.resolve(`${pkg}/package.json`);
    return true;
  } catch {
    return false;
  }
};
const run = (command, args) => execFileSync(command, args, { cwd: root, stdio: 'inherit' });

if (!['esbuild', 'tsx', '@modelcontextprotocol/sdk'].every(installed)) {
  const npm = process.env.npm_execpath;
  const args = ['install', '--global=false', '--include=dev', '--ignore-scripts', '--no-save', '--no-audit', '--no-fund'];
  if (npm?.endsWith('.js')) run(process.execPath, [npm, ...args]);
  else run(npm || 'npm', args);
}
run(process.execPath, ['--import', 'tsx', 'scripts/build.ts']);
