#!/usr/bin/env bash
# `make exercise-check` (CI): for every chapter with a skeleton in exercises/chNN/,
# checks both directions of exercise mode (exercises/README.md):
#   1. the skeleton matches the real module: its object defines exactly the external
#      symbols the real object defines (a function added to, removed from or
#      renamed in the header shows up here, before a student meets a link error);
#   2. on the skeleton, most of the chapter's tests fail (more than half), every
#      test binary reaches its summary (no crash, no hang), and every failure that
#      reached a stub says "TODO: ...";
#   3. the real module passes every one of them.
#
#   BUILD=build bash tests/tools/exercise-check.sh 01 02 ...   (make builds the binaries first)
#   BUILD=build bash tests/tools/exercise-check.sh --symbols-only 01 02 ...   (1. only: make test)
set -u
symbols_only=0
if [ "${1:-}" = "--symbols-only" ]; then symbols_only=1; shift; fi
build=${BUILD:-build}
limit=${EXERCISE_TIMEOUT:-300}   # seconds per test binary: a stub must never hang a test
ok=0 bad=0
summary=()

# external_symbols OBJECT: the functions and data it defines for other files, sorted.
external_symbols() { nm -g --defined-only -P "$1" | awk '$2 ~ /^[TDBR]$/ { print $1 }' | sort; }

# counts LOG: "passed failed crashed" from one gtest --gtest_brief run.
counts() {
  local p f c=0
  p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$1" | tail -n 1)
  f=$(sed -n 's/^\[  FAILED  \] \([A-Za-z_0-9/]*\.[A-Za-z_0-9/]*\).*/\1/p' "$1" | sort -u | wc -l)
  grep -q '^\[==========\] .* ran\.' "$1" || c=1
  echo "${p:-0} $f $c"
}

for ch in "$@"; do
  problems=()
  # 1. the same symbols as the real object
  for skeleton in exercises/ch"$ch"/*.cpp; do
    base=$(basename "$skeleton" .cpp)
    real=$(ls "$build"/obj/src/*/"$base".o 2>/dev/null | head -n 1)
    mine="$build/exercise/obj/exercises/ch$ch/$base.o"
    if [ -z "$real" ]; then
      problems+=("$skeleton replaces no src/*/$base.cpp"); continue
    fi
    missing=$(comm -23 <(external_symbols "$real") <(external_symbols "$mine") | c++filt)
    extra=$(comm -13 <(external_symbols "$real") <(external_symbols "$mine") | c++filt)
    [ -n "$missing" ] && problems+=("$skeleton lacks what src/ defines:"$'\n'"$(sed 's/^/        /' <<<"$missing")")
    [ -n "$extra" ] && problems+=("$skeleton defines what src/ does not:"$'\n'"$(sed 's/^/        /' <<<"$extra")")
    if [ -n "$missing$extra" ]; then
      problems+=("the header changed: regenerate the skeleton with"$'\n'"      $(sed -n 's|^//   \(python3 exercises/tools/skeleton.py .*\)|\1 > '"$skeleton"'|p' "$skeleton")")
    fi
  done
  if [ "$symbols_only" -eq 1 ]; then
    if [ ${#problems[@]} -eq 0 ]; then ok=$((ok + 1)); else
      bad=$((bad + 1)); echo "FAIL  ch$ch: the skeleton no longer matches the real module"
      printf '      %s\n' "${problems[@]}"
    fi
    continue
  fi
  # 2. and 3. the chapter's tests, on the skeleton and on the real code
  s_pass=0 s_fail=0 r_pass=0 r_fail=0
  for test in tests/ch"$ch"_*_test.cpp; do
    bin=$(basename "$test" .cpp)
    log=$(mktemp)
    (cd . && OPENPIPE_BUILD=$build timeout "$limit" "$build/exercise/ch$ch/tests/$bin" \
       --gtest_brief=1 --gtest_color=no >"$log" 2>&1)
    rc=$?
    read -r p f c <<<"$(counts "$log")"
    s_pass=$((s_pass + p)); s_fail=$((s_fail + f))
    [ "$c" -eq 1 ] && problems+=("skeleton: $bin crashed or hung (exit $rc): $(tail -n 3 "$log" | tr '\n' ' ')")
    if grep -q 'thrown in the test body' "$log" && ! grep -q 'TODO: ' "$log"; then
      problems+=("skeleton: $bin: an exception that is not a TODO stub's")
    fi
    OPENPIPE_BUILD=$build timeout "$limit" "$build/tests/$bin" --gtest_brief=1 --gtest_color=no >"$log" 2>&1
    rc=$?
    read -r p f c <<<"$(counts "$log")"
    r_pass=$((r_pass + p)); r_fail=$((r_fail + f + c))
    [ "$rc" -ne 0 ] && problems+=("real code: $bin fails (exit $rc)")
    rm -f "$log"
  done
  total=$((s_pass + s_fail))
  [ $((2 * s_fail)) -le "$total" ] && problems+=("skeleton: only $s_fail of $total tests fail: stub more of the module")
  line=$(printf 'ch%s: skeleton %3d of %3d tests fail, %3d pass; real code %3d pass, %d fail' \
         "$ch" "$s_fail" "$total" "$s_pass" "$r_pass" "$r_fail")
  if [ ${#problems[@]} -eq 0 ]; then
    ok=$((ok + 1)); echo "ok    $line"
  else
    bad=$((bad + 1)); echo "FAIL  $line"; printf '      %s\n' "${problems[@]}"
  fi
  summary+=("$line")
done
if [ "$symbols_only" -eq 1 ]; then
  echo "exercises: $ok skeletons match their modules, $bad do not"
else
  echo "exercise-check: $ok chapters ok, $bad failed"
fi
[ "$bad" -eq 0 ]
