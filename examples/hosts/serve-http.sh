#!/bin/sh
# One vmem for every host on this machine, over Streamable HTTP: http://127.0.0.1:7411/mcp
# (loopback only; other flags such as --port are passed on). Every request must carry
# "Authorization: Bearer <token>"; the token is the first line of the token file, made here once,
# readable by you alone.
set -eu
token_file=${VMEM_AUTH_TOKEN_FILE:-${XDG_CONFIG_HOME:-$HOME/.config}/vmem/token}
if [ ! -s "$token_file" ]; then
  mkdir -p "$(dirname "$token_file")"
  (umask 077 && node -e 'console.log(require("node:crypto").randomBytes(24).toString("hex"))' >"$token_file")
fi
VMEM_AUTH_TOKEN_FILE=$token_file exec vmem serve --http "$@"
