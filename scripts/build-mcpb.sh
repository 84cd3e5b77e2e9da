#!/usr/bin/env bash
# Builds the MCP Bundle that Claude Desktop installs with one click:
#   scripts/build-mcpb.sh [--no-build] [out-dir]        (npm run bundle:mcpb)
# writes <out-dir>/vmem-<version>.mcpb (default: the repository root). The bundle holds exactly what
# `npm pack` ships (whatever the build leaves in dist/), its production dependencies as the lock file
# pins them, mcpb/manifest.json and mcpb/server.js (as server/index.js). Optional dependencies are left
# out: they are the native binaries of Chroma's own server, which vmem never loads (it talks to Chroma
# over HTTP), and they would tie the bundle to the platform it was built on. Optional peer
# dependencies are put in, since the bundle's settings offer Redis and Chroma.
# --no-build packs dist/ as it is. Exit status 75: the npm registry could not be reached.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=1
out=$root
for arg in "$@"; do
  case $arg in
    --no-build) build=0 ;;
    -*) echo "usage: scripts/build-mcpb.sh [--no-build] [out-dir]" >&2; exit 2 ;;
    *) out=$arg ;;
  esac
done
mkdir -p "$out"
out=$(cd "$out" && pwd)

version=$(node -p 'require(process.argv[1]).version' "$root/package.json")
manifest_version=$(node -p 'require(process.argv[1]).version' "$root/mcpb/manifest.json")
if [ "$version" != "$manifest_version" ]; then
  echo "build-mcpb: mcpb/manifest.json has version $manifest_version but package.json $version; make them equal" >&2
  exit 1
fi

stage=$(mktemp -d "${TMPDIR:-/tmp}/vmem-mcpb.XXXXXX")
trap 'rm -rf "$stage"' EXIT

# With --no-build, dist/ is packed as it is: no build, and none of npm pack's lifecycle scripts.
no_scripts=--ignore-scripts
if [ "$build" = 1 ]; then
  (cd "$root" && npm run build >&2)
  no_scripts=
fi
tarball=$(cd "$root" && npm pack ${no_scripts:+"$no_scripts"} --silent --pack-destination "$stage" | tail -n 1)
bundle=$stage/bundle
mkdir "$bundle"
tar -xzf "$stage/$tarball" -C "$bundle" --strip-components=1
cp "$root/package-lock.json" "$bundle/"

# The bundle's package.json lists what it holds: optional peers become dependencies (and stop being
# dev dependencies, which --omit=dev would leave out).
node -e '
  const fs = require("node:fs");
  const file = process.argv[1];
  const pkg = JSON.parse(fs.readFileSync(file, "utf8"));
  const meta = pkg.peerDependenciesMeta ?? {};
  for (const [name, range] of Object.entries(pkg.peerDependencies ?? {})) {
    // better-sqlite3 is SQLite for Node 20, a native build; the apps that run bundles have node:sqlite.
    if (!meta[name]?.optional || name === "better-sqlite3") continue;
    (pkg.dependencies ??= {})[name] = range;
    delete pkg.devDependencies?.[name];
  }
  fs.writeFileSync(file, JSON.stringify(pkg, null, 2) + "\n");
' "$bundle/package.json"

if ! (cd "$bundle" && npm install --omit=dev --omit=optional --ignore-scripts --prefer-offline --no-audit --no-fund --loglevel=error) >"$stage/npm.log" 2>&1; then
  cat "$stage/npm.log" >&2
  if grep -Eq 'E(NOTFOUND|AI_AGAIN|CONNREFUSED|CONNRESET|TIMEDOUT|NETUNREACH|HOSTUNREACH|NOTCACHED)|network' "$stage/npm.log"; then
    echo "build-mcpb: the npm registry could not be reached to install the bundle's dependencies" >&2
    exit 75
  fi
  exit 1
fi

cp "$root/mcpb/manifest.json" "$bundle/manifest.json"
mkdir -p "$bundle/server"
cp "$root/mcpb/server.js" "$bundle/server/index.js"

"$root/node_modules/.bin/mcpb" pack "$bundle" "$out/vmem-$version.mcpb" >&2
echo "$out/vmem-$version.mcpb"
