// `prepare`: npm runs it after `npm install` in a checkout, for `npm pack`, `npm install -g .` and when
// it installs vmem from git, so each of those gets a built dist/. It is plain JavaScript because it may
// run before the devDependencies are there (`npm install -g .` in a fresh clone); it installs them first.
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

// `npm install -g <git URL>`: npm prepares the clone with a nested `npm install` that inherits --global
// (npm/cli#8440), so it links the temporary clone into the global folder, and the real install then lands
// in a link to a deleted directory (npm/cli#3692): a `vmem` that points nowhere. Say so, with what works.
if (process.env._PACOTE_NO_PREPARE_ && process.env.npm_config_global === 'true') {
  console.error(
    'vmem: npm install -g <git URL> cannot install vmem with this npm (npm/cli#8440, #3692: it would leave a vmem that points nowhere); ' +
      'instead run: npm pack <git URL> && npm install -g ./vmem-<version>.tgz',
  );
  process.exit(1);
}

if (!['esbuild', 'tsx', '@modelcontextprotocol/sdk'].every(installed)) {
  const npm = process.env.npm_execpath;
  const args = [
    'install',
    '--global=false',
    '--include=dev',
    '--ignore-scripts',
    '--no-save',
    '--no-audit',
    '--no-fund',
  ];
  if (npm?.endsWith('.js')) run(process.execPath, [npm, ...args]);
  else run(npm || 'npm', args);
}
run(process.execPath, ['--import', 'tsx', 'scripts/build.ts']);
