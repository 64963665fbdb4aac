#!/usr/bin/env bash
# Runs each GoogleTest binary given as an argument, one after the other, and
# prints one closing line for the whole run: "tests: N passed, N failed, N skipped",
# then the name of every failing test.
#
# Every failing test counts, not one per binary: gtest's brief mode prints one
# "[  FAILED  ] Suite.Name (N ms)" line per failed test and no footer, so the
# failures are counted from those lines, the passes and skips from the closing
# "[  PASSED  ] N tests." and "[  SKIPPED ] N tests." lines. A binary that crashes
# (no "[==========] ... ran." line) counts as one more failure, named after the
# binary, on top of the tests that failed before the crash.
# Exits non-zero if any binary failed (or crashed, or printed no result).
set -u
passed=0 failed=0 skipped=0 broken=() failing=()
for bin in "$@"; do
  name=$(basename "$bin")
  echo "=== $name"
  log=$(mktemp)
  "$bin" --gtest_brief=1 --gtest_color=no 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n 1)
  s=$(sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*/\1/p' "$log" | tail -n 1)
  mapfile -t names < <(sed -n 's/^\[  FAILED  \] \([A-Za-z_0-9/]*\.[A-Za-z_0-9/]*\).*/\1/p' "$log" | sort -u)
  ran=$(grep -c '^\[==========\] .* ran\.' "$log")
  rm -f "$log"
  passed=$((passed + ${p:-0})); skipped=$((skipped + ${s:-0}))
  failed=$((failed + ${#names[@]}))
  [ ${#names[@]} -gt 0 ] && failing+=("${names[@]}")
  if [ "$rc" -ne 0 ]; then
    if [ "$ran" -eq 0 ] || [ ${#names[@]} -eq 0 ]; then
      # It stopped before its summary (a crash, an abort, a timeout kill): the
      # test that was running is lost, so the binary itself counts as one failure.
      failed=$((failed + 1))
      if [ "$rc" -gt 128 ]; then
        failing+=("$name: crashed (signal $((rc - 128)))")
      else
        failing+=("$name: exited $rc before its summary")
      fi
    fi
    broken+=("$name (exit $rc)")
  fi
done
echo
if [ ${#broken[@]} -gt 0 ]; then
  echo "failing test binaries:"; printf '  %s\n' "${broken[@]}"
  echo "failing tests:"; printf '  %s\n' "${failing[@]}"
fi
echo "tests: $passed passed, $failed failed, $skipped skipped"
[ ${#broken[@]} -eq 0 ]
