# Sourced by toolchain.sh and go-build-cache.sh: one way to run a build step, its output in a log
# and, when it fails, the log's last lines on stderr.
#
#   logged_build LOG FUNCTION SAY   runs FUNCTION with its output in LOG; sets BUILD_RC and
#                                   BUILD_SECONDS; on failure SAY (a log function) says so
#
# Always returns 0: a caller in an `if` or `||` would switch `set -e` off inside FUNCTION (bash
# ignores it there, even in a subshell that sets it again), so callers test BUILD_RC instead.

logged_build() {
  local log="$1" fn="$2" say="$3" start=$SECONDS
  set +e
  ( set -euo pipefail; "$fn" ) >"$log" 2>&1
  BUILD_RC=$?
  set -e
  BUILD_SECONDS=$((SECONDS - start))
  if [[ $BUILD_RC -ne 0 ]]; then
    "$say" "FAILED after ${BUILD_SECONDS}s; last lines of $log:"
    tail -n 20 "$log" >&2
  fi
  return 0
}
