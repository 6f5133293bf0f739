# Source me: the environment for regstack's *offline* toolchain (the pulumi CLI built by
# `make toolchain` from the Go module proxy), as `make demo` and the tests use it.
#   make toolchain && source scripts/pulumi-env.sh
#
# Not for a machine that has its own Pulumi CLI: use that one as usual (README, Quickstart).
# Everything stays in this repository's .regstack/ (git-ignored): the CLI's home (plugins,
# credentials, logs), and the state of every stack (file:// backend). Nothing reaches the
# network: no update check, no plugin download, no registry look-ups. Plugins are the
# binaries beside the CLI on PATH ("ambient" plugins). Confirmation prompts stay on.
_regstack_root="$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd)"
if ! _regstack_bin="$(bash "$_regstack_root/scripts/toolchain.sh" --bin-dir 2>/dev/null)" ||
  [[ ! -x "$_regstack_bin/pulumi" ]]; then
  echo "pulumi-env.sh: the offline toolchain is not built; run 'make toolchain' first (needs Go)," \
    "or use your own Pulumi CLI without this script" >&2
  unset _regstack_root _regstack_bin
  return 1 2>/dev/null || exit 1
fi
case ":$PATH:" in
  *":$_regstack_bin:"*) ;;
  *) export PATH="$_regstack_bin:$PATH" ;;
esac
export PULUMI_HOME="${PULUMI_HOME:-$_regstack_root/.regstack/pulumi-home}"
_regstack_state="${REGSTACK_PULUMI_STATE:-$_regstack_root/.regstack/state}"
mkdir -p "$PULUMI_HOME" "$_regstack_state"
# The published lab passphrase (README) opens the committed dev stack and the lab's throwaway
# stacks, so it goes only with the lab's own state: never with a backend of yours, never over a
# passphrase (or passphrase file) you set. The program refuses a prod profile under it.
# metadata=skip: the file backend otherwise rewrites a `.attrs` file beside each checkpoint in
# place (gocloud's fileblob: truncate, then write), and the data guard's StackReference, which
# reads the stack's own checkpoint during an update, fails with `failed to load checkpoint: EOF`
# when it lands in between. The checkpoint itself is replaced by an atomic rename.
if [[ -z "${PULUMI_BACKEND_URL:-}" ]]; then
  export PULUMI_BACKEND_URL="file://$_regstack_state?metadata=skip"
  if [[ -z "${PULUMI_CONFIG_PASSPHRASE+set}${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]]; then
    export PULUMI_CONFIG_PASSPHRASE=regstack-local
  fi
fi
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_DISABLE_REGISTRY_RESOLVE=true
export PULUMI_EXPERIMENTAL=false
export PULUMI_DIY_BACKEND_NO_LEGACY_WARNING=true
unset _regstack_root _regstack_bin _regstack_state
