#!/usr/bin/env bash
# config/gatehoused.conf.example shows every key gatehoused knows, under its
# section, with its built-in default; and gatehoused accepts the file.
. "$(dirname "$0")/lib.sh"

ex="$GH_SOURCE_DIR/config/gatehoused.conf.example"
# Defaults as gatehoused prints them, minus the compiled-in web root,
# which depends on where it was built.
"$GATEHOUSED" -T >"$GH_TMP/defaults" 2>&1
check_eq "-T with no file exits 0" 0 $?
section=""
keys=0
while IFS= read -r line; do
  case "$line" in
    "") continue ;;
    "["*"]") section=$line; continue ;;
  esac
  keys=$((keys + 1))
  name=${line%% = *}
  value=${line#* = }
  [ "$section/$name" = "[server]/web_root" ] && value=web
  [ "$section/$name" = "[sessions]/worker" ] && value=gatehouse-worker
  # The line "# name = value" (or "# name =" for empty) must follow the
  # section header in the example.
  want="# $name =${value:+ $value}"
  found=$(awk -v s="$section" -v w="$want" '
    $0 == s { in_s = 1; next }
    /^\[/ { in_s = 0 }
    in_s && $0 == w { print "yes"; exit }' "$ex")
  check_eq "example shows $section $name with default '$value'" yes "$found"
done <"$GH_TMP/defaults"
check "the table has keys at all ($keys)" test "$keys" -ge 10
(cd "$GH_TMP" && "$GATEHOUSED" -t -c "$ex" 2>"$GH_TMP/t.err")
check_eq "gatehoused -t accepts the example" 0 $?
check "systemd unit is Type=notify" grep -qx "Type=notify" "$GH_SOURCE_DIR/config/gatehoused.service"
if command -v systemd-analyze >/dev/null; then
  # verify complains about the absent binary path on a build machine; only
  # syntax problems ("Unknown key", "Invalid") count here.
  out=$(systemd-analyze verify "$GH_SOURCE_DIR/config/gatehoused.service" 2>&1)
  check "systemd unit has no unknown keys" bash -c "! grep -Eiq 'unknown|invalid|failed to parse' <<<\"\$1\"" _ "$out"
fi
gh_finish
