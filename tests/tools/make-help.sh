#!/usr/bin/env bash
# `make help`: every target of the Makefile, generated from the Makefile itself,
# so a target someone adds is listed without anyone editing a help text.
#
# A target is documented by a comment line of the form
#     #   make NAME ...   what it does
# anywhere in the Makefile (usually at the top of its section), optionally followed
# by continuation lines indented past the name. Every such block is printed in
# the order of the file (a target documented twice is printed once), then every
# .PHONY target that no block documents, so nothing is ever missing.
set -eu
makefile=${1:-Makefile}

awk '
  # A documentation block: "#   make NAME ..." and the deeper-indented lines after it.
  /^#   make [a-zA-Z]/ {
    command = $0
    sub(/^#   /, "", command)
    sub(/  .*/, "", command)     # "make test CH=04": the words before the description
    keep = !(command in seen)
    seen[command] = 1
    documented[$3] = 1
    if (keep) { sub(/^# ?/, ""); print }
    in_block = 1
    next
  }
  in_block && /^#       +[^ ]/ { if (keep) { sub(/^# ?/, ""); print }; next }
  { in_block = 0 }

  # .PHONY lines, with backslash continuations.
  /^\.PHONY:/ { phony = 1; sub(/^\.PHONY:/, "") }
  phony {
    line = $0
    continued = line ~ /\\$/
    gsub(/\\$/, "", line)
    n = split(line, names, /[ \t]+/)
    for (i = 1; i <= n; i++) if (names[i] != "") targets[++count] = names[i]
    phony = continued
  }

  END {
    extra = ""
    for (i = 1; i <= count; i++) {
      t = targets[i]
      if (!(t in documented) && !(t in listed)) { extra = extra "  make " t "\n"; listed[t] = 1 }
    }
    if (extra != "") printf "\nother targets (used by the ones above; see the Makefile):\n%s", extra
  }
' "$makefile"
