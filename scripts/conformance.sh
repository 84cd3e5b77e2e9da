#!/usr/bin/env bash
# Runs the official MCP conformance suite (@modelcontextprotocol/conformance) against `vmem serve --http`:
#   scripts/conformance.sh
# The suite needs Node >= 22; it runs on a Node 22 from scripts/node-bin.sh, so the system Node may
# stay at 20. The suite is installed into .cache/conformance. Exit status 0 only if every applicable
# scenario passes; 3 when something is not cached and VMEM_NO_FETCH=1 (the tests set it unless CI=true
# or VMEM_TEST_FETCH=1).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${VMEM_CONFORMANCE_DIR:-$root/.cache/conformance}
suite_version=0.1.16
# The server scenarios that apply to vmem. Not listed, with the reason, in the README: scenarios that
# call fixture tools, prompts or resources of the suite's reference server (tools-call-*, prompts-get-*,
# resources-read-*, resources-templates-read, elicitation, sampling), completion (vmem offers none),
# and the SSE polling scenarios of the 2025-11-25 draft.
scenarios=(server-initialize ping logging-set-level tools-list resources-list resources-subscribe resources-unsubscribe prompts-list dns-rebinding-protection)

node22="$("$root/scripts/node-bin.sh" 22)/node" || exit $?
cli="$cache/node_modules/@modelcontextprotocol/conformance/dist/index.js"
. "$root/scripts/npm-cache.sh"
if [ ! -f "$cli" ] || ! grep -q "\"version\": \"$suite_version\"" "$cache/node_modules/@modelcontextprotocol/conformance/package.json"; then
  npm_cache_install conformance "$cache" "the suite (about 46 MB)" "@modelcontextprotocol/conformance@$suite_version"
fi

[ -f "$root/dist/cli.js" ] || (cd "$root" && npm run build >&2)
data=$(mktemp -d)
port=$(node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
node "$root/dist/cli.js" serve --http --port "$port" --data-dir "$data" 2> "$data.log" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$data" "$data.log"' EXIT
for _ in $(seq 1 100); do grep -q "serving MCP at" "$data.log" 2>/dev/null && break; sleep 0.1; done
grep -q "serving MCP at" "$data.log" || { cat "$data.log" >&2; echo "conformance: vmem did not start" >&2; exit 1; }

failed=0
for s in "${scenarios[@]}"; do
  if out=$("$node22" "$cli" server --url "http://127.0.0.1:$port/mcp" --scenario "$s" 2>&1) && grep -q "0 failed" <<<"$out"; then
    echo "conformance: $s passed"
  else
    echo "conformance: $s FAILED"; echo "$out" | tail -20
    failed=1
  fi
done
exit $failed
