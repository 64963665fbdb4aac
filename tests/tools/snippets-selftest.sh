#!/usr/bin/env bash
# Self-test of the snippet tool (tests/tools/snippets.cpp): builds a tiny project in a
# temporary directory, runs the tool on it with --root, and checks the happy path and
# every problem the tool must catch. Prints one line per case and a closing total.
#
#   bash tests/tools/snippets-selftest.sh [path/to/snippets]   (default: build/tools/snippets)
#
# The region markers are written through $OPEN and $CLOSE: this script lives under tests/,
# where the real tool looks for regions, and must not look like one itself.
set -u
tool=${1:-build/tools/snippets}
[ -x "$tool" ] || { echo "snippets self-test: $tool is not built (run: make $tool)"; exit 1; }
tool=$(realpath "$tool")
OPEN='//>'
CLOSE='//<'
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0 failed=0

# A fresh small project: one header with two nested regions, one chapter that quotes both
# and names the header.
new_project() {
  root="$work/project"
  rm -rf "$root"
  mkdir -p "$root/include/lib" "$root/tutorial"
  cat >"$root/include/lib/a.h" <<EOF
#pragma once
struct A {
  $OPEN a.outer
  int x;
  $OPEN a.inner
  int y;
  $CLOSE a.inner
  int z;
  $CLOSE a.outer
};
EOF
  cat >"$root/tutorial/01-a.md" <<EOF
# Chapter one: \`include/lib/a.h\`
<!-- snippet: a.outer -->
<!-- /snippet -->
Between the blocks.
<!-- snippet: a.inner -->
<!-- /snippet -->
The end.
EOF
}

# expect NAME EXIT TEXT ARGS...: runs the tool, wants that exit status and TEXT in its output.
expect() {
  local name=$1 want=$2 text=$3
  shift 3
  local out rc
  out=$("$tool" "$@" --root "$root" 2>&1)
  rc=$?
  if [ "$rc" -eq "$want" ] && grep -qF -- "$text" <<<"$out"; then
    passed=$((passed + 1))
    echo "ok    $name"
  else
    failed=$((failed + 1))
    echo "FAIL  $name: wanted exit $want and \"$text\", got exit $rc:"
    sed 's/^/        /' <<<"$out"
  fi
}

# same NAME FILE EXPECTED: FILE must hold exactly EXPECTED (no final newline added).
same() {
  if [ "$(cat "$2")" == "$3" ]; then
    passed=$((passed + 1))
    echo "ok    $1"
  else
    failed=$((failed + 1))
    echo "FAIL  $1: $2 is:"
    sed 's/^/        /' "$2"
  fi
}

# has_line NAME FILE LINE: FILE must hold LINE as one whole line.
has_line() {
  if grep -qxF -- "$3" "$2"; then
    passed=$((passed + 1))
    echo "ok    $1"
  else
    failed=$((failed + 1))
    echo "FAIL  $1: no line \"$3\" in $2:"
    sed 's/^/        /' "$2"
  fi
}

# ---- the happy path ---------------------------------------------------------------
new_project
printf %s "$(cat "$root/tutorial/01-a.md")" >"$root/tutorial/01-a.md" # drop the final newline
expect "check finds the empty blocks stale" 1 "tutorial/01-a.md:3: block 'a.outer' differs" check
expect "check names the fix" 1 "run 'make snippets'" check
expect "update fills both blocks" 0 "2 block(s) and figure(s) rewritten" update
fence='```'
same "update writes the region without markers, dedented" "$root/tutorial/01-a.md" "# Chapter one: \`include/lib/a.h\`
<!-- snippet: a.outer -->
From \`include/lib/a.h\`:
${fence}cpp
int x;
int y;
int z;
${fence}
<!-- /snippet -->
Between the blocks.
<!-- snippet: a.inner -->
From \`include/lib/a.h\`:
${fence}cpp
int y;
${fence}
<!-- /snippet -->
The end."
same "update keeps the missing final newline missing" <(tail -c 1 "$root/tutorial/01-a.md") "."
expect "check passes after update" 0 "snippets: ok (2 regions, 2 blocks, 0 figures in 1 chapters)" check
expect "a second update changes nothing" 0 "0 block(s) and figure(s) rewritten" update
expect "--list shows where a region is quoted" 0 "a.inner  include/lib/a.h:5  quoted in tutorial/01-a.md:11" --list

before=$(cat "$root/tutorial/01-a.md")
sed -i 's/^int y;$/int y = 2;/' "$root/tutorial/01-a.md"
expect "check reports the first differing line" 1 'expected: "int y;"' check
expect "check points at that line" 1 "tutorial/01-a.md:6: block 'a.outer' differs" check
edited=$(cat "$root/tutorial/01-a.md")
"$tool" check --root "$root" >/dev/null 2>&1
same "check changes nothing" "$root/tutorial/01-a.md" "$edited"
"$tool" update --root "$root" >/dev/null 2>&1
same "update repairs an edited block" "$root/tutorial/01-a.md" "$before"

# Other languages: HTML and shell wrap the marker in their own comment.
new_project
mkdir -p "$root/examples"
printf '%s\n' '<p>' "  <!-- $OPEN page.body -->" '  <b>hi</b>' "  <!-- $CLOSE page.body -->" \
  >"$root/examples/page.html"
printf '%s\n' "# $OPEN run.main" 'cat <<MD' '```' 'MD' "# $CLOSE run.main" >"$root/examples/run.sh"
printf '%s\n' '<!-- snippet: page.body -->' '<!-- /snippet -->' \
  '<!-- snippet: run.main -->' '<!-- /snippet -->' >"$root/tutorial/02-b.md"
"$tool" update --root "$root" >/dev/null 2>&1
expect "html and sh regions are found" 0 "snippets: ok (4 regions" check
has_line "an .html region is fenced as html" "$root/tutorial/02-b.md" '```html'
has_line "a fence is longer than any backtick run in the code" "$root/tutorial/02-b.md" '````sh'

# Blocks shown as examples inside a code fence are not blocks.
new_project
"$tool" update --root "$root" >/dev/null 2>&1
printf '\n%s\n' '```' '<!-- snippet: nothing.here -->' '<!-- /snippet -->' '```' \
  >>"$root/tutorial/01-a.md"
expect "blocks inside a code fence are ignored" 0 "snippets: ok" check

# ---- figures ------------------------------------------------------------------------
# A figure source, a break-it file, and a chapter quoting both, inline.
new_figures() {
  new_project
  "$tool" update --root "$root" >/dev/null 2>&1
  mkdir -p "$root/docs" "$root/tests/breakit"
  printf '%s\n' '# sizes' 'size.A = 12' 'not a figure line' >"$root/docs/figures.txt"
  printf '%s\n' 'file = x.cpp' 'fails = Ch01_A.One Ch01_A.Two' >"$root/tests/breakit/one.breakit"
  printf '%s\n' 'A is <!-- fig: size.A -->12<!-- /fig --> bytes; `<!-- fig: shown.only -->` is code.' \
    'It fails <!-- fig: breakit.one.fails -->x<!-- /fig --> (<!-- fig: breakit.one.count -->2<!-- /fig -->).' \
    >>"$root/tutorial/01-a.md"
}
new_figures
expect "a stale figure is reported with its source" 1 \
  "tutorial/01-a.md:19: figure 'breakit.one.fails' says 'x', its source tests/breakit/one.breakit:2 says" \
  check --figures docs/figures.txt
expect "update rewrites a figure" 0 "updated tutorial/01-a.md: figure breakit.one.fails" \
  update --figures docs/figures.txt
has_line "a break-it list is quoted and joined" "$root/tutorial/01-a.md" \
  'It fails <!-- fig: breakit.one.fails -->`Ch01_A.One` and `Ch01_A.Two`<!-- /fig --> (<!-- fig: breakit.one.count -->2<!-- /fig -->).'
expect "figures that match pass; inline code is skipped" 0 "2 blocks, 3 figures in 1 chapters" \
  check --figures docs/figures.txt
sed -i 's/size.A = 12/size.A = 16/' "$root/docs/figures.txt"
expect "a figure whose source changed fails the check" 1 \
  "figure 'size.A' says '12', its source docs/figures.txt:2 says '16'" check --figures docs/figures.txt
expect "a figure with no source" 1 "no figure source defines 'size.A'" check
expect "a missing figure source" 1 "docs/none.txt:0: figure source missing" check --figures docs/none.txt
printf '%s\n' 'B is <!-- fig: size.B -->1 and never closed' >>"$root/tutorial/01-a.md"
expect "an unclosed figure" 1 "tutorial/01-a.md:20: figure never closed" check --figures docs/figures.txt

# ---- every problem the tool must catch ----------------------------------------------
new_project
"$tool" update --root "$root" >/dev/null 2>&1
sed -i "\\#$CLOSE a.inner#d" "$root/include/lib/a.h"
expect "a close that does not match the open region" 1 \
  "include/lib/a.h:8: '//< a.outer' does not match the open region 'a.inner'" check
expect "a region never closed" 1 "include/lib/a.h:5: region 'a.inner' is never closed" check

new_project
echo "$CLOSE a.stray" >>"$root/include/lib/a.h"
expect "a close with no open region" 1 "include/lib/a.h:11: '//< a.stray' closes no open region" check

new_project
printf '%s\n' "$OPEN a.inner" "$CLOSE a.inner" >>"$root/include/lib/a.h"
expect "a name defined twice" 1 "include/lib/a.h:11: region 'a.inner' is defined twice (first at include/lib/a.h:5)" check

new_project
printf '%s\n' "$OPEN Bad_Name" "$CLOSE Bad_Name" >>"$root/include/lib/a.h"
expect "a bad region name" 1 "include/lib/a.h:11: bad region name 'Bad_Name'" check

new_project
printf '%s\n' '<!-- snippet: a.missing -->' '<!-- /snippet -->' >>"$root/tutorial/01-a.md"
expect "a quoted name that does not exist" 1 "tutorial/01-a.md:8: no region is named 'a.missing'" check

new_project
printf '%s\n' "$OPEN a.lonely" "$CLOSE a.lonely" >>"$root/include/lib/a.h"
expect "a region quoted by no chapter" 1 "include/lib/a.h:11: region 'a.lonely' is quoted by no chapter" check

new_project
printf '\n%s\n' '<!-- snippet: a.inner -->' >>"$root/tutorial/01-a.md"
expect "an unterminated block" 1 "tutorial/01-a.md:9: snippet block 'a.inner' is never closed" check
before=$(cat "$root/tutorial/01-a.md")
"$tool" update --root "$root" >/dev/null 2>&1
same "update leaves a chapter with an unterminated block alone" "$root/tutorial/01-a.md" "$before"

new_project
printf '\n%s\n' '<!-- /snippet -->' >>"$root/tutorial/01-a.md"
expect "a block close with no open block" 1 "tutorial/01-a.md:9: '<!-- /snippet -->' closes no block" check

new_project
printf '\n%s\n' '```cpp' 'int never_closed;' >>"$root/tutorial/01-a.md"
expect "an unclosed code fence" 1 "tutorial/01-a.md:9: code fence \`\`\` is never closed" check

new_project
mkdir -p "$root/src"
echo 'int b;' >"$root/src/b.cpp"
expect "a source file no chapter names" 1 "src/b.cpp:1: no chapter names this file" check
echo 'See src/b.cpp.' >"$root/tutorial/README.md"
expect "the table of contents does not count as naming a file" 1 "src/b.cpp:1: no chapter names" check
echo 'See src/b.cpp.' >>"$root/tutorial/01-a.md"
"$tool" update --root "$root" >/dev/null 2>&1
expect "a chapter naming the file satisfies the check" 0 "snippets: ok" check
echo 'int c;' >"$root/src/b.c"
expect "naming src/b.cpp does not name src/b.c" 1 "src/b.c:1: no chapter names this file" check

expect "an unknown command is a usage error" 2 "usage: snippets" frobnicate

echo "snippets self-test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
