#!/usr/bin/env bash
# Starts the Chroma server that ships in the `chromadb` npm package:
#   scripts/chroma-server.sh <data-dir> <port>
# Its native binding needs glibc >= 2.39. On an older system (Debian 12 has 2.36) it runs under a
# newer glibc's loader, fetched once with apt from Debian 13 ("trixie") on the mirror apt already uses,
# and cached in $VMEM_GLIBC_DIR (default .cache/glibc in the repo). Nothing is installed system-wide.
# With VMEM_NO_FETCH=1 (the tests set it unless CI=true or VMEM_TEST_FETCH=1) it fetches nothing and
# exits with status 3 when the fetch would be needed.
set -euo pipefail
dir=${1:?usage: chroma-server.sh <data-dir> <port>}
port=${2:?usage: chroma-server.sh <data-dir> <port>}
root=$(cd "$(dirname "$0")/.." && pwd)
cli="$root/node_modules/chromadb/dist/cli.mjs"
[ -f "$cli" ] || { echo "chroma-server: $cli missing; run npm install" >&2; exit 1; }

glibc_ok() {
  local v
  v=$(ldd --version 2>/dev/null | head -n1 | grep -oE '[0-9]+\.[0-9]+$' || echo 0.0)
  [ "$(printf '%s\n2.39\n' "$v" | sort -V | head -n1)" = "2.39" ]
}

if glibc_ok; then
  exec node "$cli" run --path "$dir" --port "$port"
fi

cache=${VMEM_GLIBC_DIR:-$root/.cache/glibc}
lib="$cache/root/usr/lib/x86_64-linux-gnu"
if [ ! -x "$lib/ld-linux-x86-64.so.2" ]; then
  if [ "${VMEM_NO_FETCH:-}" = 1 ]; then
    echo "chroma-server: needs Debian 13's libc6 (glibc >= 2.39, about 3 MB) in $cache; not fetched (VMEM_NO_FETCH=1)" >&2
    exit 3
  fi
  echo "chroma-server: system glibc is older than 2.39; fetching Debian 13's libc6 into $cache" >&2
  mkdir -p "$cache/sources" "$cache/lists/partial" "$cache/archives/partial" "$cache/root"
  src=/etc/apt/sources.list.d/debian.sources
  [ -f "$src" ] || { echo "chroma-server: $src not found; run on glibc >= 2.39 instead" >&2; exit 1; }
  # Same mirror, newer suite; the -updates suite is dropped (it may not exist for trixie on every mirror).
  sed -e 's/bookworm-updates//g' -e 's/bookworm/trixie/g' "$src" > "$cache/sources/trixie.sources"
  apt_opts=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$cache/sources"
    -o "Dir::State::Lists=$cache/lists" -o "Dir::Cache::Archives=$cache/archives" -o Debug::NoLocking=1)
  apt-get "${apt_opts[@]}" update >&2
  (cd "$cache/archives" && apt-get "${apt_opts[@]}" download libc6 >&2)
  dpkg -x "$(ls "$cache"/archives/libc6_*.deb | head -n1)" "$cache/root"
fi
exec "$lib/ld-linux-x86-64.so.2" --library-path "$lib:/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu" \
  "$(command -v node)" "$cli" run --path "$dir" --port "$port"
