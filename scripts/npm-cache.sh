# Sourced by scripts that install tools from the npm registry into a cache folder of their own:
#   npm_cache_install <who> <dir> <what, for the message> <package spec>...
# installs the specs into <dir> (a private package of its own), or, with VMEM_NO_FETCH=1 (the tests set it
# unless CI=true or VMEM_TEST_FETCH=1), installs nothing and exits with status 3, saying what was not fetched.
npm_cache_install() {
  local who=$1 dir=$2 what=$3
  shift 3
  if [ "${VMEM_NO_FETCH:-}" = 1 ]; then
    echo "$who: $what is not in $dir; not fetched (VMEM_NO_FETCH=1)" >&2
    exit 3
  fi
  mkdir -p "$dir"
  [ -f "$dir/package.json" ] || echo '{"name":"vmem-cache","private":true}' > "$dir/package.json"
  (cd "$dir" && npm install --no-audit --no-fund --loglevel=error "$@" >&2)
}
