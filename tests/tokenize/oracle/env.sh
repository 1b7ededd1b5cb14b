# Sourced by tests/tokenize/test_oracle_*.sh: sets XGD_SHARED/XGD_TMP defaults and exits 77 (skip)
# with a message when something the oracle comparison needs is missing.
#   oracle_require shared node   the shared reference files and the oracle's node_modules
#   oracle_require xgd           also a built `xgd tokenize`
ORACLE_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$ORACLE_DIR/../../.." && pwd)"
: "${XGD_SHARED:=$REPO_ROOT/../shared}"
: "${XGD_TMP:=${TMPDIR:-/tmp}/xgd-test-$$}"
export XGD_SHARED XGD_TMP
mkdir -p "$XGD_TMP"

skip() { echo "SKIP: $*"; exit 77; }

oracle_require() {
  for what in "$@"; do
    case "$what" in
      shared) [ -d "$XGD_SHARED/models" ] || skip "shared reference files not found at $XGD_SHARED (set XGD_SHARED)" ;;
      node)
        command -v node >/dev/null 2>&1 || skip "node is not installed (scripts/setup installs it)"
        [ -d "$ORACLE_DIR/node_modules/@huggingface/tokenizers" ] ||
          skip "the JS oracle is not installed: run (cd tests/tokenize/oracle && npm ci)" ;;
      xgd)
        [ -n "${XGD:-}" ] && [ -x "$XGD" ] || skip "XGD is not set to a built xgd binary"
        "$XGD" tokenize --help >/dev/null 2>&1 || skip "'$XGD tokenize --help' fails: the tokenize command is not built yet" ;;
    esac
  done
}
