#!/usr/bin/env bash
# Runs each GoogleTest binary given as an argument, one after the other, and
# prints one closing line for the whole run: "tests: N passed, N failed, N skipped".
# Exits non-zero if any binary failed (or crashed, or printed no result).
set -u
passed=0 failed=0 skipped=0 broken=()
for bin in "$@"; do
  name=$(basename "$bin")
  echo "=== $name"
  log=$(mktemp)
  "$bin" --gtest_brief=1 --gtest_color=no 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n 1)
  f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n 1)
  s=$(sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*/\1/p' "$log" | tail -n 1)
  rm -f "$log"
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0})); skipped=$((skipped + ${s:-0}))
  if [ "$rc" -ne 0 ]; then
    broken+=("$name (exit $rc)")
    [ -z "$f" ] && failed=$((failed + 1))   # a crash counts as one failure
  fi
done
echo
if [ ${#broken[@]} -gt 0 ]; then
  echo "failing test binaries:"; printf '  %s\n' "${broken[@]}"
fi
echo "tests: $passed passed, $failed failed, $skipped skipped"
[ ${#broken[@]} -eq 0 ]
