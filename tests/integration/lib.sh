# lib.sh - shared helpers for the integration tests (bash, sourced).
#
# Each test gets a private temp dir, starts real gatehoused processes in
# it, and checks them with curl/openssl. Everything started is stopped and
# removed on exit, on failure and on Ctrl-C. Results print as TAP-like
# "ok - ..." / "not ok - ..." lines and a closing "N passed, N failed".
set -uo pipefail

: "${GATEHOUSED:?set GATEHOUSED to the gatehoused binary (ctest does)}"
: "${GH_SOURCE_DIR:?set GH_SOURCE_DIR to the source tree (ctest does)}"

GH_TMP=$(mktemp -d /tmp/gh-it.XXXXXX)
chmod 755 "$GH_TMP"
GH_PIDS=()
GH_NETNS=()
GH_PASS=0
GH_FAIL=0
# How long a gatehoused may take to say it is ready.
GH_READY_TIMEOUT=15

gh_cleanup() {
  local p n
  for p in "${GH_PIDS[@]}"; do
    kill -TERM "$p" 2>/dev/null && { timeout 3 tail --pid="$p" -f /dev/null || kill -KILL "$p" 2>/dev/null; }
  done
  for n in "${GH_NETNS[@]}"; do
    ip netns pids "$n" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
    ip netns del "$n" 2>/dev/null
  done
  rm -rf "$GH_TMP"
}
trap gh_cleanup EXIT
trap 'echo "interrupted"; exit 130' INT TERM

ok() { echo "ok - $*"; GH_PASS=$((GH_PASS + 1)); }
not_ok() { echo "not ok - $*"; GH_FAIL=$((GH_FAIL + 1)); }

# check "description" command...: passes when the command succeeds.
check() {
  local desc=$1
  shift
  if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}

# check_eq "description" expected actual
check_eq() {
  if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1 (expected '$2', got '$3')"; fi
}

# Finish: print the closing line and exit non-zero on any failure.
gh_finish() {
  echo "$GH_PASS passed, $GH_FAIL failed"
  [ "$GH_FAIL" -eq 0 ] && [ "$GH_PASS" -gt 0 ]
  exit $?
}

# gh_netns_new: a fresh network namespace with only loopback up, named in
# GH_NS. Removed by gh_cleanup. (Not for $(...): a subshell could not
# record it for the cleanup.)
gh_netns_new() {
  GH_NS="ghI$$_${#GH_NETNS[@]}"
  ip netns add "$GH_NS" || return 1
  GH_NETNS+=("$GH_NS")
  ip -n "$GH_NS" link set lo up
}

# gh_start DIR [gatehoused args...]
# Starts gatehoused with cwd DIR, stderr to DIR/gatehoused.log; waits for
# the ready line. Sets GH_PID, GH_PORT, GH_URL, GH_SPKI, GH_LOG. With
# GH_EXEC_PREFIX (e.g. "ip netns exec NS") the daemon runs under it.
gh_start() {
  local dir=$1 i line
  shift
  mkdir -p "$dir"
  GH_LOG="$dir/gatehoused.log"
  : >"$GH_LOG"
  (cd "$dir" && exec ${GH_EXEC_PREFIX:-} "$GATEHOUSED" "$@" 2>>"$GH_LOG" >>"$dir/stdout.log") &
  GH_PID=$!
  GH_PIDS+=("$GH_PID")
  for ((i = 0; i < GH_READY_TIMEOUT * 20; i++)); do
    line=$(grep -m1 'msg="Gatehouse is ready"' "$GH_LOG" 2>/dev/null) && break
    kill -0 "$GH_PID" 2>/dev/null || break
    sleep 0.05
  done
  if [ -z "${line:-}" ]; then
    echo "# gatehoused did not become ready; its log:" >&2
    sed 's/^/#   /' "$GH_LOG" >&2
    return 1
  fi
  GH_PORT=$(sed -n 's/.* port=\([0-9]*\) .*/\1/p' <<<"$line")
  GH_URL=$(sed -n 's/.* url=\([^ ]*\) .*/\1/p' <<<"$line")
  GH_SPKI=$(sed -n 's/.* spki_sha256=\([^ ]*\) .*/\1/p' <<<"$line")
  return 0
}

# gh_stop [signal]: signal GH_PID, wait for it; sets GH_EXIT and GH_STOP_MS.
gh_stop() {
  local sig=${1:-TERM} t0 t1
  t0=$(date +%s%N)
  kill "-$sig" "$GH_PID" 2>/dev/null
  wait "$GH_PID"
  GH_EXIT=$?
  t1=$(date +%s%N)
  GH_STOP_MS=$(((t1 - t0) / 1000000))
  local p keep=()
  for p in "${GH_PIDS[@]}"; do [ "$p" != "$GH_PID" ] && keep+=("$p"); done
  GH_PIDS=("${keep[@]}")
}

# gh_curl PATH [curl args...]: HTTPS request to the running gatehoused.
gh_curl() {
  local path=$1
  shift
  ${GH_CURL_PREFIX:-} curl -sk --max-time 10 "$@" "https://127.0.0.1:${GH_PORT}${path}"
}

# A minimal config file in DIR with the given lines; prints its path.
gh_conf() {
  local f=$1
  shift
  printf '%s\n' "$@" >"$f"
  echo "$f"
}
