#!/usr/bin/env bash
# Every C source and header is formatted by the repository's .clang-format.
set -uo pipefail
: "${GH_SOURCE_DIR:?}"
cd "$GH_SOURCE_DIR"
command -v clang-format >/dev/null || { echo "not ok - clang-format missing (scripts/install-deps)"; exit 1; }
mapfile -t files < <(find gateway include recording tests/unit tests/bench tests/fuzz -name '*.[ch]' 2>/dev/null | sort)
bad=0
for f in "${files[@]}"; do
  if clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
    :
  else
    echo "not ok - $f is not clang-formatted (run: clang-format -i $f)"
    bad=$((bad + 1))
  fi
done
echo "$(( ${#files[@]} - bad )) passed, $bad failed"
[ "${#files[@]}" -gt 0 ] && [ "$bad" -eq 0 ]
