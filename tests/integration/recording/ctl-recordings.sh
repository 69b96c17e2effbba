#!/usr/bin/env bash
# gatehousectl's session and recording verbs against a stand-in for the
# API (fake-api.py; the real server is tested end to end in tests/e2e):
# tables, JSON, kill, downloads checked against the index (size and
# SHA-256), no overwrite without --force, nothing left behind on failure,
# bounded memory for a large download, playback, and the refusals.
#   ctl-recordings.sh CAST_TOOL
. "$(dirname "$0")/../lib.sh"

tool=${1:?usage: ctl-recordings.sh CAST_TOOL}
: "${GATEHOUSECTL:?set GATEHOUSECTL (ctest does)}"
here=$(cd "$(dirname "$0")" && pwd)
srv="$GH_TMP/srv"
mkdir -p "$srv" "$GH_TMP/dl"
cd "$GH_TMP/dl" || exit 1
# A large recording (MiB) for the memory check.
BIG_MIB=32

"$tool" write "$srv" whole.cast "$srv/whole.expect" &&
  "$tool" write "$srv" crash.cast "$srv/crash.expect" crash &&
  (cd "$srv" && "$tool" big big.cast "$BIG_MIB") || { echo "not ok - cast-tool"; exit 1; }
cp "$srv/crash.cast" "$srv/cut.cast"
truncate -s -5 "$srv/cut.cast"
python3 - "$srv" <<'PY'
import hashlib, json, os, sys
d = sys.argv[1]
def entry(i, f, **kw):
    data = open(os.path.join(d, f), "rb").read()
    e = {"id": i, "session_id": 40 + i, "user": "alice", "target": "web1",
         "grant_id": 9, "started": 1700000000000, "ended": 1700000060000,
         "size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
         "cols": 80, "rows": 24, "state": "complete", "_file": f}
    e.update(kw)
    return e
idx = {"5": entry(5, "whole.cast"),
       "6": entry(6, "whole.cast", sha256="0" * 64),
       "7": entry(7, "whole.cast", state="recording", sha256=None, ended=None),
       "8": entry(8, "big.cast"),
       "9": entry(9, "whole.cast", size=100),
       "10": entry(10, "whole.cast", _refuse=True),
       "11": entry(11, "cut.cast", state="truncated"),
       "12": entry(12, "whole.cast", sha256="\u001b]0;pwned\u0007")}
json.dump(idx, open(os.path.join(d, "index.json"), "w"))
PY
python3 "$here/fake-api.py" "$srv" testtoken 2>"$GH_TMP/fake.err" &
GH_PIDS+=("$!")
for _ in $(seq 100); do [ -s "$srv/port" ] && break; sleep 0.05; done
GATEHOUSE_SERVER="http://127.0.0.1:$(cat "$srv/port")"
export GATEHOUSE_SERVER
ctl() { GATEHOUSE_TOKEN=testtoken "$GATEHOUSECTL" "$@"; }
last_request() { tail -n1 "$srv/requests.log"; }

# ---- help and usage errors: exit 0 / 2, nothing sent ----
for v in "sessions list" "sessions kill" "recordings list" "recordings show" \
  "recordings download" "recordings play"; do
  # shellcheck disable=SC2086
  out=$(ctl $v --help)
  check "'$v --help' exits 0 and shows the usage" test $? -eq 0 -a -n "$(grep "^usage: gatehousectl .*$v" <<<"$out")"
done
: >"$srv/requests.log"
ctl sessions kill abc >/dev/null 2>&1
check_eq "sessions kill abc: exit 2" 2 $?
ctl recordings play 5 --speed 5000 >/dev/null 2>&1
check_eq "--speed 5000: exit 2" 2 $?
ctl recordings play 5 --idle-cap 0 >/dev/null 2>&1
check_eq "--idle-cap 0: exit 2" 2 $?
ctl recordings list --since 1h --until 2h >/dev/null 2>&1
check_eq "--until before --since: exit 2" 2 $?
ctl recordings list --since yesterday >/dev/null 2>&1
check_eq "bad --since: exit 2" 2 $?
ctl recordings download 5 extra >/dev/null 2>&1
check_eq "an extra argument: exit 2" 2 $?
check_eq "usage errors send nothing" 0 "$(wc -l <"$srv/requests.log")"

# ---- sessions ----
out=$(ctl sessions list --live --user alice)
check_eq "sessions list: exit 0" 0 $?
check "sessions list: a table with the session" grep -Eq '^3 +alice +web1 +22 +ssh +browser +[0-9]{4}-[0-9]{2}-[0-9]{2}T.* +- +- +10 +2000 +5$' <<<"$out"
check "sessions list: header" grep -Eq '^ID +USER +TARGET +PORT +PROTO +KIND +STARTED +ENDED +END_REASON +BYTES_IN +BYTES_OUT +RECORDING$' <<<"$out"
check "sessions list: sends live and user" grep -q '^GET /api/v1/sessions?live=1&user=alice ' "$srv/requests.log"
out=$(ctl sessions list --json)
check_eq "sessions list --json parses" 3 "$(python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])' <<<"$out")"
out=$(ctl sessions kill 3 --reason "incident 7")
check_eq "sessions kill 3: exit 0" 0 $?
check_eq "sessions kill 3: says so" "session 3 killed" "$out"
check "sessions kill sends the reason" grep -q '^POST /api/v1/sessions/3/kill {"reason": *"incident 7"}' "$srv/requests.log"
err=$(ctl sessions kill 4 2>&1 >/dev/null)
check_eq "sessions kill 4 (ended): exit 1" 1 $?
check "the refusal is one line with the code" grep -qx 'gatehousectl: the session has ended (not_live)' <<<"$err"

# ---- recordings list / show ----
out=$(ctl recordings list --since 2023-11-14T00:00:00Z --until 1700100000 --target web1)
check_eq "recordings list: exit 0" 0 $?
check "recordings list: header" grep -Eq '^ID +SESSION +USER +TARGET +STARTED +ENDED +SIZE +STATE$' <<<"$out"
check "recordings list: a row" grep -Eq '^5 +45 +alice +web1 .* complete$' <<<"$out"
check "recordings list: since/until as unix seconds" grep -q '^GET /api/v1/recordings?target=web1&since=1699920000&until=1700100000 ' "$srv/requests.log"
out=$(ctl recordings show 5)
check "recordings show: sha256 and state" bash -c 'grep -Eq "^sha256: +[0-9a-f]{64}$" <<<"$1" && grep -Eq "^state: +complete$" <<<"$1"' _ "$out"
err=$(ctl recordings show 99 2>&1)
check_eq "recordings show 99: exit 1" 1 $?
check "recordings show 99: not_found" grep -q '(not_found)$' <<<"$err"

# ---- download ----
out=$(ctl recordings download 5)
check_eq "download 5: exit 0" 0 $?
check "download 5: default name, identical to the server's file" cmp -s recording-5.cast "$srv/whole.cast"
check "download 5: says it was verified" grep -q "SHA-256 verified" <<<"$out"
check_eq "download 5: mode 0600" 600 "$(stat -c %a recording-5.cast)"
echo keep >mine.cast
ctl recordings download 5 -o mine.cast >/dev/null 2>err
check_eq "an existing file without --force: exit 2" 2 $?
check "and it is kept" test "$(cat mine.cast)" = keep
check "and the message says --force" grep -q -- "--force" err
ctl recordings download 5 -o mine.cast --force >/dev/null
check_eq "--force replaces it" 0 $?
check "with the recording" cmp -s mine.cast "$srv/whole.cast"
ln -s /etc/passwd link.cast
ctl recordings download 5 --output link.cast >/dev/null 2>&1
check_eq "a symlink in the way: exit 2" 2 $?
ctl recordings download 5 --output link.cast --force >/dev/null 2>&1
check "--force replaces the link, not its target" bash -c 'test ! -L link.cast && cmp -s link.cast "$1" && ! cmp -s /etc/passwd "$1"' _ "$srv/whole.cast"
mkdir -p sub
ctl --json recordings download 5 -o sub/x.cast >json.out
check_eq "download -o into a directory, --json: exit 0" 0 $?
check "the JSON names the file" grep -q '"file": "sub/x.cast"' json.out
before=$(ls -A | sort)
err=$(ctl recordings download 6 -o bad.cast 2>&1)
check_eq "a SHA-256 that does not match the index: exit 1" 1 $?
check "says it does not match" grep -q "does not match the gateway's index" <<<"$err"
check "nothing is left behind (no file, no temporary)" test "$(ls -A | sort)" = "$before"
err=$(ctl recordings download 7 2>&1)
check_eq "a recording still being written: exit 1" 1 $?
check "says why" grep -q "still being written" <<<"$err"
err=$(ctl recordings download 9 -o nine.cast 2>&1)
check_eq "more bytes than the index says: exit 1" 1 $?
check "says it was refused" grep -q "more than the 100 bytes" <<<"$err"
err=$(ctl recordings download 10 -o ten.cast 2>&1)
check_eq "the file refused (403): exit 1" 1 $?
check "the refusal is printed, control bytes replaced" grep -qx 'gatehousectl: not yours (?\[31mforbidden)' <<<"$err"
err=$(ctl recordings download 12 -o twelve.cast 2>&1)
check_eq "an index without a valid SHA-256: exit 1" 1 $?
check "nothing left after the refusals" test "$(ls -A | sort)" = "$before"
# A large download streams to disk: its peak memory is that of a small
# one (sanitizer builds included), not its size.
peak() {
  python3 - "$GATEHOUSECTL" "$@" <<'PY'
import os, resource, subprocess, sys
env = dict(os.environ, GATEHOUSE_TOKEN="testtoken")
r = subprocess.run([sys.argv[1], "recordings", "download"] + sys.argv[2:],
                   env=env, stdout=subprocess.DEVNULL)
print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
PY
}
small=$(peak 5 -o small.cast)
rss=$(peak 8 -o big.cast)
check_eq "a ${BIG_MIB} MiB download: exit 0" 0 "${rss%% *}"
check "and identical" cmp -s big.cast "$srv/big.cast"
check "its peak RSS (${rss#* } KiB) is within 4 MiB of a small one's (${small#* } KiB)" \
  test $((${rss#* } - ${small#* })) -lt 4096
rm -f small.cast big.cast

# ---- play ----
ctl recordings play 5 --speed 1000 >play.out
check_eq "play 5: exit 0" 0 $?
check "plays exactly the terminal output" cmp -s play.out "$srv/whole.expect"
ctl recordings play 11 --idle-cap 0.01 >play11.out 2>play11.err
check_eq "play of a truncated recording: exit 0" 0 $?
check "says it ends in a partial line" grep -q "partial line" play11.err
check "plays every whole line" bash -c 'cmp -s play11.out <(head -c "$(stat -c %s play11.out)" "$1") && test "$(stat -c %s play11.out)" -gt 40' _ "$srv/crash.expect"
ctl recordings play 6 >/dev/null 2>&1
check_eq "play of a recording that does not match: exit 1" 1 $?
t0=$(date +%s%N)
timeout -s INT 0.5 "$GATEHOUSECTL" recordings play 8 --speed 0.01 >/dev/null 2>&1 <<<"" &
wait $!
t1=$(date +%s%N)
check "Ctrl-C stops playing at once" test $(((t1 - t0) / 1000000)) -lt 5000
gh_finish
