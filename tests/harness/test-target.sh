#!/usr/bin/env bash
# Proof for tests/harness/target: two concurrent sshd "private VMs" in
# network namespaces, real OpenSSH logins by key and by password, host key
# pinning, isolation, failure cleanup, gc of dead runs, and a clean down.
# Needs root. Prints "ok - ..." / "not ok - ..."; exit 0 = all passed.
set -uo pipefail
export LC_ALL=C

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TARGET=$HERE/target
PASS=0 FAIL=0

ok() {
  echo "ok - $*"
  PASS=$((PASS + 1))
}
not_ok() {
  echo "not ok - $*"
  FAIL=$((FAIL + 1))
}
# check DESC CMD...: CMD must succeed.
check() {
  local desc=$1
  shift
  if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}
# check_eq DESC EXPECTED ACTUAL
check_eq() {
  if [[ $2 == "$3" ]]; then ok "$1"; else not_ok "$1 (expected '$2', got '$3')"; fi
}
# bail DESC: a failure the rest cannot run without.
bail() {
  not_ok "$1"
  echo "# giving up after a fatal failure" >&2
  exit 1
}

if ((EUID != 0)); then
  echo "not ok - test-target.sh needs root (network namespaces, users)"
  exit 1
fi

TMP=$(mktemp -d /tmp/gh-target-test.XXXXXX)
chmod 755 "$TMP" # the per-run users must reach their homes below it
UP_PIDS=()
OWNER_PID=""
cleanup() {
  local rc=$? p d
  trap '' INT TERM HUP
  # Background "up"s ignore SIGINT (bash async jobs): stop them first, so
  # their own cleanup runs before ours.
  for p in ${UP_PIDS[@]+"${UP_PIDS[@]}"}; do kill -TERM "$p" 2>/dev/null || true; done
  for p in ${UP_PIDS[@]+"${UP_PIDS[@]}"}; do wait "$p" 2>/dev/null || true; done
  [[ -n $OWNER_PID ]] && kill "$OWNER_PID" 2>/dev/null
  for d in "$TMP"/t*/; do
    if [[ -d $d ]]; then "$TARGET" down --state-dir "$d" || true; fi
  done
  rm -rf "$TMP"
  if ((rc > 128)); then
    echo "INTERRUPTED (signal $((rc - 128))) after $PASS passed, $FAIL failed; cleaned up"
    exit "$rc"
  elif ((FAIL > 0 || rc != 0)); then
    echo "FAILED: $FAIL failed, $PASS passed"
    exit 1
  fi
  echo "all $PASS checks passed"
  exit 0
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# alive PID: exists and is not a zombie (PID 1 here may not reap orphans).
alive() {
  local s
  s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  s=${s##*) }
  [[ ${s:0:1} != Z && ${s:0:1} != X ]]
}

# load_env FILE ARRAY: KEY=value lines into an associative array.
load_env() {
  local -n arr=$2
  local k v
  while IFS='=' read -r k v; do
    # shellcheck disable=SC2034 # arr is a nameref to the caller's array
    [[ -n $k ]] && arr["$k"]=$v
  done <"$1"
}

# tcp_connect [NS] ADDR: try a TCP connect to ADDR:22 (3 s bound); the
# error text goes to stdout.
tcp_connect() {
  local pre=()
  if (($# == 2)); then
    pre=(ip netns exec "$1")
    shift
  fi
  "${pre[@]}" timeout 3 bash -c "exec 3<>/dev/tcp/$1/22" 2>&1
}

# has TEXT REGEX: TEXT contains a match.
has() { grep -qE -- "$2" <<<"$1"; }
# gone PID: no such process, or only its zombie left.
gone() { ! alive "$1"; }

# in_range ADDR: inside 198.18.0.0/15.
in_range() { [[ $1 =~ ^198\.1[89]\.[0-9]{1,3}\.[0-9]{1,3}$ ]]; }

# ---------------------------------------------------------------- up x2

mkdir -p "$TMP/t1" "$TMP/t2"
"$TARGET" up --state-dir "$TMP/t1" --name alpha >"$TMP/t1.out" 2>"$TMP/t1.err" &
UP_PIDS+=($!)
"$TARGET" up --state-dir "$TMP/t2" --owner-pid $$ >"$TMP/t2.out" 2>"$TMP/t2.err" &
UP_PIDS+=($!)
rc1=0 rc2=0
wait "${UP_PIDS[0]}" || rc1=$?
wait "${UP_PIDS[1]}" || rc2=$?
UP_PIDS=()
[[ $rc1 == 0 ]] || bail "up #1 succeeded (exit $rc1: $(cat "$TMP/t1.err"))"
ok "up #1 succeeded"
[[ $rc2 == 0 ]] || bail "up #2 succeeded (exit $rc2: $(cat "$TMP/t2.err"))"
ok "up #2 succeeded (concurrently with #1)"

declare -A T1=() T2=()
load_env "$TMP/t1/target.env" T1
load_env "$TMP/t2/target.env" T2
check_eq "up prints target.env on stdout" "$(cat "$TMP/t1/target.env")" "$(cat "$TMP/t1.out")"
check_eq "up is quiet on stderr" "" "$(cat "$TMP/t1.err" "$TMP/t2.err")"

missing=""
for k in GH_TARGET_NS GH_TARGET_ADDR GH_TARGET_GW_ADDR GH_TARGET_PORT GH_TARGET_USER \
  GH_TARGET_PASSWORD GH_TARGET_KEY GH_TARGET_HOSTKEY_SHA256 GH_TARGET_KNOWN_HOSTS \
  GH_TARGET_SSHD_PID GH_TARGET_HOSTNAME; do
  [[ -n ${T1[$k]:-} && -n ${T2[$k]:-} ]] || missing="$missing $k"
done
check_eq "target.env has every key" "" "$missing"
bad=$(grep -vE '^GH_TARGET_[A-Z0-9_]+=[^ "'\''$`\\]*$' "$TMP/t1/target.env" "$TMP/t2/target.env")
check_eq "target.env lines are plain KEY=value (no quotes, no spaces)" "" "$bad"

check "different namespaces (${T1[GH_TARGET_NS]} / ${T2[GH_TARGET_NS]})" \
  test "${T1[GH_TARGET_NS]}" != "${T2[GH_TARGET_NS]}"
check "different addresses (${T1[GH_TARGET_ADDR]} / ${T2[GH_TARGET_ADDR]})" \
  test "${T1[GH_TARGET_ADDR]}" != "${T2[GH_TARGET_ADDR]}"
check "different /30s" test "${T1[GH_TARGET_SUBNET]}" != "${T2[GH_TARGET_SUBNET]}"
check "different users" test "${T1[GH_TARGET_USER]}" != "${T2[GH_TARGET_USER]}"
check "addresses inside 198.18.0.0/15" in_range "${T1[GH_TARGET_ADDR]}"
check "gateway addresses inside 198.18.0.0/15" in_range "${T2[GH_TARGET_GW_ADDR]}"
check_eq "port is 22" "22 22" "${T1[GH_TARGET_PORT]} ${T2[GH_TARGET_PORT]}"
check_eq "hostname follows --name" "alpha" "${T1[GH_TARGET_HOSTNAME]}"
check_eq "owner pid defaults to the caller" "$$" "${T1[GH_TARGET_OWNER_PID]}"
check "safety route 'unreachable 198.18.0.0/15' present" \
  bash -c 'ip -4 route show type unreachable | grep -qE "(^| )198\.18\.0\.0/15( |$)"'

for n in 1 2; do
  declare -n T=T$n
  ns=${T[GH_TARGET_NS]} user=${T[GH_TARGET_USER]}
  check "#$n namespace $ns exists" test -e "/run/netns/$ns"
  check_eq "#$n namespace has no default route" "" "$(ip -n "$ns" route show default)"
  check "#$n lo is up in the namespace" bash -c "ip -n $ns link show dev lo | grep -q LOWER_UP"
  check_eq "#$n root side carries the gateway address" "${T[GH_TARGET_GW_ADDR]}/30" \
    "$(ip -4 -o addr show dev "${T[GH_TARGET_IFACE]}" | awk '{print $4}')"
  check "#$n sshd runs" alive "${T[GH_TARGET_SSHD_PID]}"
  check_eq "#$n sshd runs inside the namespace" "$ns" "$(ip netns identify "${T[GH_TARGET_SSHD_PID]}")"
  IFS=: read -r _ _ _ _ gecos home shell < <(getent passwd "$user")
  want_owner=$$
  check_eq "#$n user comment" "gatehouse-test pid=$want_owner" "$gecos"
  check_eq "#$n user home inside the state dir" "$TMP/t$n/home" "$home"
  check_eq "#$n user shell" "/bin/bash" "$shell"
  check_eq "#$n account has a usable password (not locked)" "P" "$(passwd -S "$user" | awk '{print $2}')"
  check_eq "#$n home/.ssh modes and owner" "755 $user 700 $user" \
    "$(stat -c '%a %U' "$home" "$home/.ssh" | tr '\n' ' ' | sed 's/ $//')"
  check_eq "#$n empty .bashrc/.profile" "0 0" "$(stat -c %s "$home/.bashrc" "$home/.profile" | tr '\n' ' ' | sed 's/ $//')"
  check_eq "#$n client key is root-only" "600 root" "$(stat -c '%a %U' "${T[GH_TARGET_KEY]}")"
  check "#$n registry entry exists" test -f "/run/gatehouse-test/targets/$ns"
done
unset -n T

# ---------------------------------------------------------------- ssh

SSH_OPTS=(-F /dev/null -o StrictHostKeyChecking=yes -o ConnectTimeout=5)
# key_ssh ARRAY CMD...: key login to the target described by ARRAY.
key_ssh() {
  local -n t=$1
  shift
  ssh "${SSH_OPTS[@]}" -i "${t[GH_TARGET_KEY]}" -o BatchMode=yes \
    -o UserKnownHostsFile="${t[GH_TARGET_KNOWN_HOSTS]}" \
    "${t[GH_TARGET_USER]}@${t[GH_TARGET_ADDR]}" "$@" </dev/null
}

for n in 1 2; do
  declare -n T=T$n
  word="hello-$RANDOM$RANDOM"
  check_eq "#$n key login runs a command" "$word" "$(key_ssh T$n echo "$word" 2>&1)"
  check_eq "#$n key login lands on the target user" "${T[GH_TARGET_USER]}" "$(key_ssh T$n id -un 2>&1)"
  check_eq "#$n target's hostname" "${T[GH_TARGET_HOSTNAME]}" "$(key_ssh T$n hostname 2>&1)"
  check_eq "#$n target's IPv4 addresses (ip -4 addr)" "lo 127.0.0.1/8 eth0 ${T[GH_TARGET_ADDR]}/30" \
    "$(key_ssh T$n ip -4 -o addr 2>&1 | awk '{printf "%s %s ", $2, $4}' | sed 's/ $//')"
done
unset -n T

# What ssh itself saw as the host key, and what a keyscan sees.
seen=$(key_ssh T1 -v true 2>&1 | tr -d '\r' | sed -n 's/.*Server host key: ssh-ed25519 \(SHA256:[^ ]*\).*/\1/p')
check_eq "ssh saw the pinned host key" "${T1[GH_TARGET_HOSTKEY_SHA256]}" "$seen"
scan=$(ssh-keyscan -T 5 -t ed25519 "${T2[GH_TARGET_ADDR]}" 2>/dev/null | ssh-keygen -lf - | awk '{print $2}')
check_eq "ssh-keyscan fingerprint matches target.env" "${T2[GH_TARGET_HOSTKEY_SHA256]}" "$scan"

out=$(ssh "${SSH_OPTS[@]}" -i "${T1[GH_TARGET_KEY]}" -o BatchMode=yes \
  -o UserKnownHostsFile="${T2[GH_TARGET_KNOWN_HOSTS]}" \
  "${T1[GH_TARGET_USER]}@${T1[GH_TARGET_ADDR]}" true </dev/null 2>&1)
check "the other target's known_hosts is refused (rc=$?)" has "$out" 'Host key verification failed'

out=$(ssh "${SSH_OPTS[@]}" -i "${T2[GH_TARGET_KEY]}" -o BatchMode=yes \
  -o UserKnownHostsFile="${T1[GH_TARGET_KNOWN_HOSTS]}" \
  "${T1[GH_TARGET_USER]}@${T1[GH_TARGET_ADDR]}" true </dev/null 2>&1)
check "#1 refuses #2's client key" test $? -ne 0

# Password login through SSH_ASKPASS (no sshpass here).
cat >"$TMP/askpass" <<'EOF'
#!/bin/sh
printf '%s\n' "$GH_TEST_PW"
EOF
chmod 700 "$TMP/askpass"
pw_ssh() { # ARRAY PASSWORD CMD...
  local -n t=$1
  local pw=$2
  shift 2
  GH_TEST_PW=$pw SSH_ASKPASS=$TMP/askpass SSH_ASKPASS_REQUIRE=force DISPLAY=none \
    ssh "${SSH_OPTS[@]}" -o BatchMode=no -o PreferredAuthentications=password \
    -o PubkeyAuthentication=no -o NumberOfPasswordPrompts=1 \
    -o UserKnownHostsFile="${t[GH_TARGET_KNOWN_HOSTS]}" \
    "${t[GH_TARGET_USER]}@${t[GH_TARGET_ADDR]}" "$@" </dev/null
}
word="pw-$RANDOM"
check_eq "#1 password login works" "$word" "$(pw_ssh T1 "${T1[GH_TARGET_PASSWORD]}" echo "$word" 2>&1)"
check_eq "#2 password login works" "$word" "$(pw_ssh T2 "${T2[GH_TARGET_PASSWORD]}" echo "$word" 2>&1)"
out=$(pw_ssh T1 "wrong-${T1[GH_TARGET_PASSWORD]}" echo bad 2>&1)
rc=$?
check "#1 wrong password refused (rc=$rc)" test "$rc" -ne 0 -a "$out" != bad

# sftp subsystem and the forwarding ban.
echo "sftp-$RANDOM" >"$TMP/sftp-in"
printf 'put %s up.txt\n' "$TMP/sftp-in" >"$TMP/sftp-batch"
sftp -q -F /dev/null -o StrictHostKeyChecking=yes -o BatchMode=yes -o ConnectTimeout=5 \
  -i "${T1[GH_TARGET_KEY]}" -o UserKnownHostsFile="${T1[GH_TARGET_KNOWN_HOSTS]}" \
  -b "$TMP/sftp-batch" "${T1[GH_TARGET_USER]}@${T1[GH_TARGET_ADDR]}" >/dev/null 2>&1
check_eq "sftp subsystem works" "$(cat "$TMP/sftp-in")" "$(key_ssh T1 cat up.txt 2>&1)"
out=$(key_ssh T1 -W 127.0.0.1:22 2>&1)
check "TCP forwarding is refused (rc=$?)" has "$out" 'administratively prohibited'

# ---------------------------------------------------------------- isolation

out=$(tcp_connect "${T1[GH_TARGET_NS]}" "${T2[GH_TARGET_ADDR]}")
check "#1's namespace cannot reach #2's address (${out##*: })" has "$out" 'Network is unreachable'
out=$(tcp_connect "${T1[GH_TARGET_NS]}" "${T2[GH_TARGET_GW_ADDR]}")
check "#1's namespace cannot reach #2's gateway address (${out##*: })" has "$out" 'Network is unreachable'
defgw=$(ip -4 route show default | awk '{print $3; exit}')
if [[ -n $defgw ]]; then
  out=$(tcp_connect "${T1[GH_TARGET_NS]}" "$defgw")
  check "#1's namespace has no way out (root's default gateway $defgw: ${out##*: })" \
    has "$out" 'Network is unreachable'
fi
# Port 9 on the root side is closed: "refused" proves the path works.
out=$(ip netns exec "${T1[GH_TARGET_NS]}" timeout 3 bash -c "exec 3<>/dev/tcp/${T1[GH_TARGET_GW_ADDR]}/9" 2>&1)
check "#1's namespace reaches its own gateway address (${out##*: })" has "$out" 'Connection refused'

# An unused address inside the range: the unreachable route answers at once.
unused=""
for _ in {1..50}; do
  cand="198.19.$((RANDOM % 256)).$((RANDOM % 252 + 2))"
  if ! ip -4 route get "$cand" >/dev/null 2>&1; then
    unused=$cand
    break
  fi
done
[[ -n $unused ]] || bail "found an unused address in 198.18.0.0/15"
t0=$(date +%s%N)
out=$(tcp_connect "$unused")
ms=$((($(date +%s%N) - t0) / 1000000))
check "connect to unused $unused fails (${out##*: })" has "$out" 'No route to host|Network is unreachable'
check "... and fails at once (${ms} ms < 1000 ms)" test "$ms" -lt 1000

# ---------------------------------------------------------------- failures

# One error line and nothing left when up fails late (sshd) or early (user).
for stage in user sshd; do
  mkdir -p "$TMP/tf-$stage"
  out=$(GH_TARGET_INJECT_FAIL=$stage "$TARGET" up --state-dir "$TMP/tf-$stage" 2>&1 >/dev/null)
  rc=$?
  check "up failing at '$stage' exits non-zero" test "$rc" -ne 0
  check_eq "... with one clear error line" "1 target: error: injected failure at $stage" \
    "$(wc -l <<<"$out") ${out%%$'\n'*}"
  fns=$(sed -n 's/^NS=//p' "$TMP/tf-$stage/target.state")
  fuser=$(sed -n 's/^USER=//p' "$TMP/tf-$stage/target.state")
  check "... its namespace $fns is gone" test -n "$fns" -a ! -e "/run/netns/$fns"
  check "... its veth is gone" bash -c "! ip link show dev ${fns}r >/dev/null 2>&1"
  check "... its user $fuser is gone" bash -c "! getent passwd $fuser >/dev/null"
  check "... its registry entry is gone" test ! -e "/run/gatehouse-test/targets/$fns"
done
out=$("$TARGET" up --state-dir "$TMP/does-not-exist" 2>&1)
check "up with a missing state dir fails with one line (rc=$?)" \
  test "$(wc -l <<<"$out")" = 1 -a "${out#target: error:}" != "$out"
mkdir -p "$TMP/t-never"
check "down on a dir that never came up is fine" "$TARGET" down --state-dir "$TMP/t-never"

# ---------------------------------------------------------------- gc

mkdir -p "$TMP/t-gc"
sleep 300 &
OWNER_PID=$!
gout=$("$TARGET" up --state-dir "$TMP/t-gc" --owner-pid "$OWNER_PID" 2>&1)
check "up for a short-lived owner (rc=$?)" test -f "$TMP/t-gc/target.env"
gns=$(sed -n 's/^GH_TARGET_NS=//p' <<<"$gout")
guser=$(sed -n 's/^GH_TARGET_USER=//p' <<<"$gout")
gpid=$(sed -n 's/^GH_TARGET_SSHD_PID=//p' <<<"$gout")
"$TARGET" gc >/dev/null 2>&1
check "gc leaves a run with a live owner alone" alive "$gpid"
kill "$OWNER_PID"
wait "$OWNER_PID" 2>/dev/null
OWNER_PID=""
"$TARGET" gc >"$TMP/gc.out" 2>&1
check "gc succeeds" test $? -eq 0
check "gc removed the dead owner's namespace" test ! -e "/run/netns/$gns"
check "gc removed the dead owner's user" bash -c "! getent passwd $guser >/dev/null"
check "gc stopped the dead owner's sshd" gone "$gpid"
check "gc left live run #1 alone" alive "${T1[GH_TARGET_SSHD_PID]}"
check "gc left live run #2 alone" test -e "/run/netns/${T2[GH_TARGET_NS]}" -a -n "$(getent passwd "${T2[GH_TARGET_USER]}")"
check_eq "#1 still answers after gc" "still" "$(key_ssh T1 echo still 2>&1)"

# ---------------------------------------------------------------- down

# netns_procs INODE: live processes in the namespace with that inode.
netns_procs() {
  local p l
  for p in /proc/[0-9]*; do
    l=$(readlink "$p/ns/net" 2>/dev/null) || continue
    [[ $l == "net:[$1]" ]] && alive "${p#/proc/}" && echo "${p#/proc/}"
  done
  return 0
}

# An open session on #1 (a remote sleep) must be ended by down too.
key_ssh T1 sleep 120 >/dev/null 2>&1 &
SESSION=$!
for _ in {1..50}; do
  [[ -n $(pgrep -u "${T1[GH_TARGET_UID]}" -x sleep) ]] && break
  sleep 0.1
done
check "a session is open on #1" test -n "$(pgrep -u "${T1[GH_TARGET_UID]}" -x sleep)"

for n in 1 2; do
  declare -n T=T$n
  ns=${T[GH_TARGET_NS]}
  inode=$(stat -L -c %i "/run/netns/$ns")
  uid=${T[GH_TARGET_UID]}
  check "#$n down succeeds" "$TARGET" down --state-dir "$TMP/t$n"
  check "#$n namespace gone" test ! -e "/run/netns/$ns"
  check "#$n root-side veth gone" bash -c "! ip link show dev ${T[GH_TARGET_IFACE]} >/dev/null 2>&1"
  check "#$n /30 released (no route left)" bash -c "! ip -4 route show ${T[GH_TARGET_SUBNET]} | grep -q ."
  check "#$n user gone" bash -c "! getent passwd ${T[GH_TARGET_USER]} >/dev/null"
  check "#$n user's group gone" bash -c "! getent group ${T[GH_TARGET_USER]} >/dev/null"
  check "#$n sshd gone" gone "${T[GH_TARGET_SSHD_PID]}"
  check_eq "#$n no process left in the namespace" "" "$(netns_procs "$inode")"
  left=$(pgrep -u "$uid" | while read -r p; do alive "$p" && echo "$p"; done)
  check_eq "#$n no process left of the user" "" "$left"
  check "#$n registry entry gone" test ! -e "/run/gatehouse-test/targets/$ns"
  check "#$n down again is a no-op" "$TARGET" down --state-dir "$TMP/t$n"
done
unset -n T
for _ in {1..30}; do
  alive "$SESSION" || break
  sleep 0.1
done
check "the open session's client ended" gone "$SESSION"
wait "$SESSION" 2>/dev/null

check_eq "no user of this test left" "" "$(getent passwd | grep "gatehouse-test pid=$$\$" || true)"
