#!/usr/bin/env bash
# Checks the "break it" exercises: each tests/breakit/NAME.breakit names a change of
# one or two lines and exactly the tests it makes fail. For each, this script applies
# the change to a copy of the tree, builds the named test binaries there, runs them,
# and compares the tests that failed with the `fails` line. A chapter quotes that
# line as a figure (`<!-- fig: breakit.NAME.fails -->`), so the exercise the student
# reads is the exercise this script ran.
#
#   bash tests/tools/breakit.sh [NAME...]      (default: every tests/breakit/*.breakit)
#   bash tests/tools/breakit.sh --static       only check that each change still applies
#                                              (make test: its file exists, each `find`
#                                              occurs exactly once); builds nothing
#
# A .breakit file is `key = value` lines (# starts a comment):
#   file = src/protocol/utf8.cpp           the file to change
#   find = free_ = freed;                  text that occurs exactly once in it ...
#   replace =                              ... and what replaces it (may be empty);
#                                          more find/replace pairs may follow
#   tests = ch01_core_test                 test binaries to build and run
#   fails = Ch01_BlockPool.A Ch01_X.B      exactly the tests that must fail
#
# The copy lives in a temporary directory with the objects of build/obj copied in
# (timestamps kept), so only the changed file and its dependents recompile.
# WORKERS=2 (the default) runs two copies side by side, each on half the exercises.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
static=0
if [ "${1:-}" = "--static" ]; then static=1; shift; fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
JOBS=${JOBS:-2}

if [ $# -gt 0 ]; then
  specs=(); for name in "$@"; do specs+=("tests/breakit/$name.breakit"); done
else
  specs=(tests/breakit/*.breakit)
fi

# Several workers: each runs this script on every WORKERS-th exercise (one compile
# each, so two workers keep two cores busy); their reports are printed in turn.
WORKERS=${WORKERS:-2}
if [ "$static" -eq 0 ] && [ "$WORKERS" -gt 1 ] && [ ${#specs[@]} -gt 1 ]; then
  pids=()
  for ((w = 0; w < WORKERS; w++)); do
    share=()
    for ((k = w; k < ${#specs[@]}; k += WORKERS)); do share+=("$(basename "${specs[k]}" .breakit)"); done
    WORKERS=1 JOBS=1 bash "$0" "${share[@]}" >"$work/worker$w.log" 2>&1 &
    pids+=($!)
  done
  status=0
  for pid in "${pids[@]}"; do wait "$pid" || status=1; done
  cat "$work"/worker*.log | grep -v '^breakit: [0-9]* passed'
  passed=$(cat "$work"/worker*.log | grep -c '^ok ')
  echo "breakit: $passed passed, $((${#specs[@]} - passed)) failed"
  exit "$status"
fi

# value KEY FILE: every value of KEY, one per line, in order.
values() { sed -n "s/^$1 = \{0,1\}//p" "$2"; }

# apply FILE N FIND... REPLACE...: applies every pair to FILE, or prints the problem.
apply() {
  python3 - "$@" <<'EOF'
import sys
path, n = sys.argv[1], int(sys.argv[2])
finds, replaces = sys.argv[3:3 + n], sys.argv[3 + n:3 + 2 * n]
try:
    text = open(path).read()
except OSError:
    print(f"no file {path.split('/', 3)[-1]}")
    sys.exit(0)
for find, replace in zip(finds, replaces):
    if text.count(find) != 1:
        print(f"'{find}' occurs {text.count(find)} times in {path.split('/', 3)[-1]}, not once: "
              "the code changed; update the .breakit file and the chapter's exercise")
        sys.exit(0)
    text = text.replace(find, replace)
open(path, "w").write(text)
EOF
}

if [ "$static" -eq 1 ]; then
  bad=0
  for spec in "${specs[@]}"; do
    file=$(values file "$spec" | head -n 1)
    mapfile -t finds < <(values find "$spec")
    mapfile -t replaces < <(values replace "$spec")
    mkdir -p "$work/$(dirname "$file")"
    cp "$file" "$work/$file" 2>/dev/null
    problem=$(apply "$work/$file" "${#finds[@]}" "${finds[@]}" "${replaces[@]}")
    [ ${#finds[@]} -ne ${#replaces[@]} ] && problem="every 'find' needs a 'replace'"
    if [ -n "$problem" ]; then bad=$((bad + 1)); echo "$spec: $problem"; fi
  done
  echo "breakit: ${#specs[@]} exercises still apply to the code ($bad do not)"
  [ "$bad" -eq 0 ]
  exit
fi

echo "breakit: copying the tree to $work"
cp -a Makefile src include tests examples "$work/"
mkdir -p "$work/build"
[ -d build/obj ] && cp -a build/obj "$work/build/"
# Tests that read the source tree have its path compiled in: rebuild them in the copy.
for src in $(grep -l OPENPIPE_SOURCE_DIR tests/*.cpp); do
  rm -f "$work/build/obj/${src%.cpp}.o"
done

passed=0 failed=0
for spec in "${specs[@]}"; do
  name=$(basename "$spec" .breakit)
  file=$(values file "$spec" | head -n 1)
  mapfile -t finds < <(values find "$spec")
  mapfile -t replaces < <(values replace "$spec")
  read -r -a bins <<<"$(values tests "$spec" | tr '\n' ' ')"
  want=$(values fails "$spec" | tr ' ' '\n' | sed '/^$/d' | sort | tr '\n' ' ')
  problem=""
  if [ ${#finds[@]} -ne ${#replaces[@]} ]; then
    problem="every 'find' needs a 'replace'"
  else
    # Apply every pair to the copy; each text must occur exactly once.
    problem=$(apply "$work/$file" "${#finds[@]}" "${finds[@]}" "${replaces[@]}")
  fi
  got=""
  if [ -z "$problem" ]; then
    targets=(); for bin in "${bins[@]}"; do targets+=("build/tests/$bin"); done
    rm -f "$work/saved.o"
    [ -f "$work/build/obj/${file%.cpp}.o" ] && cp -p "$work/build/obj/${file%.cpp}.o" "$work/saved.o"
    # Only the changed file compiles here, and quickly: -O1 without debug information.
    if ! make -C "$work" -j"$JOBS" --no-print-directory OPT='-O1 -g0' "${targets[@]}" \
         >"$work/$name.log" 2>&1; then
      problem="the changed tree does not build (see the end of the log below)"
      tail -n 20 "$work/$name.log"
    else
      for bin in "${bins[@]}"; do
        (cd "$work" && "build/tests/$bin" --gtest_brief=1 --gtest_color=no >"$work/$name.$bin.out" 2>&1)
        got+=$(sed -n 's/^\[  FAILED  \] \([A-Za-z_0-9/]*\.[A-Za-z_0-9/]*\).*/\1/p' "$work/$name.$bin.out")$'\n'
        grep -q '^\[==========\] .* ran\.' "$work/$name.$bin.out" || got+="$bin:crashed"$'\n'
      done
      got=$(printf '%s' "$got" | sed '/^$/d' | sort -u | tr '\n' ' ')
    fi
  fi
  # Restore the file with its old time and its object as it was: nothing recompiles
  # for the next exercise (the object is touched, so the library is archived again).
  cp -p "$file" "$work/$file"
  if [ -f "$work/saved.o" ]; then
    cp -p "$work/saved.o" "$work/build/obj/${file%.cpp}.o" && touch "$work/build/obj/${file%.cpp}.o"
  fi
  if [ -z "$problem" ] && [ "$got" = "$want" ]; then
    passed=$((passed + 1))
    echo "ok    $name: $(wc -w <<<"$want") test(s) fail, as written"
  else
    failed=$((failed + 1))
    echo "FAIL  $name (${spec})"
    [ -n "$problem" ] && echo "      $problem"
    [ -z "$problem" ] && { echo "      want: $want"; echo "      got:  $got"; }
  fi
done
echo "breakit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
