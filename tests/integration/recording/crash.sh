#!/usr/bin/env bash
# Recordings written by gh_recording play in stock asciinema (Debian's
# 2.2): a closed one; one the gateway never closed (SIGKILL-like: only
# flushed lines are in it); and one cut in the middle of a line, which
# asciinema prints up to its last whole line. gh_cast_scan sees the same.
#   crash.sh CAST_TOOL
. "$(dirname "$0")/../lib.sh"

tool=${1:?usage: crash.sh CAST_TOOL}
if ! command -v asciinema >/dev/null || ! command -v script >/dev/null; then
  echo "not ok - asciinema or script missing (scripts/install-deps)"
  exit 1
fi
cd "$GH_TMP" || exit 1

# asciinema cat wants a terminal (PITFALLS.md): run it under script(1).
# Its stdout is the pty's; its stderr goes to FILE.err.
acat() {
  script -qec "asciinema cat '$1' 2>'$1.err'" /dev/null
}
# One key of cast-tool scan's output.
scan() { "$tool" scan . "$1" | sed -n "s/^$2=//p"; }

# 1. A closed recording: asciinema prints exactly the terminal output.
"$tool" write . whole.cast whole.expect
check_eq "cast-tool writes a closed recording" 0 $?
acat whole.cast >whole.out
check_eq "asciinema cat accepts it (exit 0)" 0 $?
check "asciinema shows exactly what the user saw" cmp -s whole.out whole.expect
check "our reader shows the same" bash -c '"$1" cat whole.cast | cmp -s - whole.expect' _ "$tool"
check_eq "scan: whole, 9 events" "0 9" "$(scan whole.cast truncated) $(scan whole.cast events)"
check_eq "scan: size is the file's" "$(stat -c %s whole.cast)" "$(scan whole.cast size)"
check_eq "scan: SHA-256 is sha256sum's" "$(sha256sum <whole.cast | cut -c1-64)" "$(scan whole.cast sha256)"

# 2. Never closed: what was flushed is there, in whole lines, and plays.
"$tool" write . crash.cast crash.expect crash
check_eq "cast-tool 'crashes' after a flush" 0 $?
check "the unflushed event is not in the file" bash -c '! grep -q "never flushed" crash.cast'
check_eq "the file ends at a line's end" "0a" "$(tail -c1 crash.cast | od -An -tx1 | tr -d ' ')"
acat crash.cast >crash.out
check_eq "asciinema cat accepts the crashed file (exit 0)" 0 $?
check "and shows everything flushed" cmp -s crash.out crash.expect
check_eq "scan: not truncated, size = whole size" "0 $(stat -c %s crash.cast)" \
  "$(scan crash.cast truncated) $(scan crash.cast whole_size)"

# 3. Cut in the middle of the last line (a crash inside a write()).
cp crash.cast cut.cast
size=$(stat -c %s cut.cast)
truncate -s $((size - 5)) cut.cast
whole=$(scan cut.cast whole_size)
check_eq "scan: truncated, 8 events, last at 1200 ms" "1 8 1200" \
  "$(scan cut.cast truncated) $(scan cut.cast events) $(scan cut.cast last_ms)"
check_eq "scan: size as it is" "$((size - 5))" "$(scan cut.cast size)"
check_eq "scan: SHA-256 of the file as it is" "$(sha256sum <cut.cast | cut -c1-64)" "$(scan cut.cast sha256)"
check "scan changed nothing" test "$(stat -c %s cut.cast)" -eq $((size - 5))
acat cut.cast >cut.out
rc=$?
# asciinema 2.2 raises on the partial line (exit 1) after printing the
# whole lines before it.
check "asciinema cat fails only on the cut line" grep -q JSONDecodeError cut.cast.err
check_eq "asciinema cat of the cut file exits 1 (PITFALLS)" 1 "$rc"
head -c "$whole" cut.cast >cut-whole.cast
acat cut-whole.cast >cut-whole.out
check_eq "the file up to scan's whole_size plays cleanly (exit 0)" 0 $?
check "asciinema printed every whole line of the cut file" cmp -s cut.out cut-whole.out
lost=$(printf 'bad:\357\277\275\357\277\275.\r\n' | wc -c)
check_eq "that is all but the cut event" "$(($(stat -c %s crash.expect) - lost))" "$(stat -c %s cut.out)"
check "and a prefix of what the user saw" bash -c 'cmp -s cut.out <(head -c "$(stat -c %s cut.out)" crash.expect)'
check "our reader plays the cut file to the same point" bash -c '"$1" cat cut.cast 2>cut.ours.err | cmp -s - cut.out && grep -q truncated cut.ours.err' _ "$tool"
gh_finish
