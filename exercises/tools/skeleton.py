#!/usr/bin/env python3
"""Writes the skeleton of one source file for exercise mode (exercises/README.md).

    python3 exercises/tools/skeleton.py SRC CHAPTER_FILE [FUNCTION...] > exercises/chNN/FILE.cpp

Every function defined in SRC at namespace scope keeps its comment and its
signature; its body becomes a TODO stub that throws (exercises/todo.h), so the
test that calls it fails with "TODO: Buffer::prepare ..." instead of crashing,
and the file compiles under -Wall -Wextra -Werror. With FUNCTION names
(e.g. Connection::on_data_piece), only those are stubbed and the rest is kept.

Kept as they are: destructors, noexcept functions (a throw there would end the
process), to_string() and operator<< (so failures print names), `= default`.
Helpers in an anonymous namespace, or `static`, are dropped when nothing kept
uses them any more: writing them is part of the exercise. Region markers
(//> name) are dropped, and each stub names the region it came from, so a
student who is stuck knows which block of the chapter shows the answer.

The skeleton is written once and then belongs to the student; `make
exercise-check` compares its symbols with the real object's, so a header that
changes without the skeleton is caught.
"""
import re
import shutil
import subprocess
import sys

KEEP_REAL = ("to_string", "operator<<")


def params_of(signature):
    """Parameter names of a definition's signature (unnamed ones are skipped)."""
    signature = strip_attributes(signature)
    start = signature.index("(")
    depth, end = 0, start
    for i in range(start, len(signature)):
        c = signature[i]
        if c in "(<[{":
            depth += 1
        elif c in ")>]}":
            depth -= 1
            if depth == 0:
                end = i
                break
    inside = signature[start + 1:end]
    parts, depth, cur = [], 0, ""
    for c in inside:
        if c in "(<[{":
            depth += 1
        elif c in ")>]}":
            depth -= 1
        if c == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += c
    if cur.strip():
        parts.append(cur)
    names = []
    for p in parts:
        p = p.split("=")[0].strip()
        m = re.search(r"([A-Za-z_][A-Za-z_0-9]*)\s*(\[\s*\])?$", p)
        if not m:
            continue
        words = re.findall(r"[A-Za-z_][A-Za-z_0-9]*", p)
        # "const HttpRequest&" has no name: the last word is the type.
        if len(words) >= 2 and not p.rstrip().endswith(("&", "*", ">")):
            names.append(m.group(1))
    return names


def strip_attributes(signature):
    return re.sub(r"__attribute__\(\(.*?\)\)\s*", "", signature)


def function_name(signature):
    signature = strip_attributes(signature)
    head = signature[:signature.index("(")]
    m = re.search(r"((?:[A-Za-z_][A-Za-z_0-9]*::)*~?[A-Za-z_][A-Za-z_0-9]*(?:<<|=|==)?)\s*$", head)
    return m.group(1) if m else head.strip()


def main():
    src, chapter = sys.argv[1], sys.argv[2]
    only = set(sys.argv[3:])
    lines = open(src).read().split("\n")
    out = []
    helpers = []  # (name, start index in out, end index in out)
    regions = []
    in_anon = False
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        marker = re.match(r"^\s*//([<>])\s*(\S+)\s*$", line)
        if marker:
            if marker.group(1) == ">":
                regions.append(marker.group(2))
            elif regions:
                regions.pop()
            i += 1
            continue
        if line.startswith("namespace {"):
            in_anon = True
        elif in_anon and line.startswith("}") and "namespace" in line:
            in_anon = False
        starts_def = (line and not line[0].isspace() and not line.startswith(("//", "#", "}", "namespace", "using", "struct", "class", "enum", "template", "constexpr", "inline constexpr", "const "))
                      and "(" in line) or (line.startswith(("static ", "const ")) and "(" in line and not line.rstrip().endswith(";"))
        if not starts_def:
            out.append(line)
            i += 1
            continue
        # Gather the signature up to the line that opens the body.
        sig_lines = [line]
        j = i
        while not lines[j].rstrip().endswith(("{", ";", "{}")):
            j += 1
            sig_lines.append(lines[j])
        if lines[j].rstrip().endswith((";", "{}")):  # a declaration, `= default;`, an empty body
            out.extend(sig_lines)
            i = j + 1
            continue
        k = j + 1
        while lines[k] != "}":
            k += 1
        signature = "\n".join(sig_lines)
        name = function_name(signature)
        body = lines[j + 1:k]
        is_helper = in_anon or line.startswith("static ")
        short = name.split("::")[-1]
        listed = name in only
        keep = (is_helper or short.startswith("~") or "noexcept" in signature
                or (short in KEEP_REAL and not listed)
                or (only and not listed))
        start = len(out)
        if keep:
            out.extend(lines[i:k + 1])
        else:
            out.extend(sig_lines)
            for p in params_of(signature):
                out.append(f"  (void){p};")
            where = f"tutorial/{chapter}" + (f", region {regions[-1]}" if regions else "")
            out.append(f'  todo("{name} ({where})");')
            out.append("}")
        if is_helper:
            helpers.append((short, start, len(out)))
        i = k + 1

    # Drop helpers nothing else uses any more (repeat: one may use another).
    dropped = set()
    changed = True
    while changed:
        changed = False
        for short, a, b in helpers:
            if (a, b) in dropped:
                continue
            # Code outside this helper, its overloads and what is dropped; comments aside.
            skip = [(x, y) for s, x, y in helpers if s == short] + list(dropped)
            rest = "\n".join(l.split("//")[0] for n, l in enumerate(out)
                             if not any(x <= n < y for x, y in skip))
            if not re.search(r"\b" + re.escape(short) + r"\b", rest):
                dropped.add((a, b))
                changed = True
    result = [l for n, l in enumerate(out) if not any(a <= n < b for a, b in dropped)]
    if result and result[0].startswith("// "):  # the real file's opening comment
        result[0] = "// " + result[0][3:]
    for n, l in enumerate(result):
        if l.startswith('#include "openpipe/'):
            result.insert(n + 1, '#include "todo.h"  // todo(): what every stub below calls')
            break
    number = chapter[:2]
    banner = [
        f"// EXERCISE SKELETON for chapter {number} (tutorial/{chapter}): {src}",
        "// with the function bodies replaced by todo(). Write them here; run",
        f"//   make exercise CH={number}",
        "// and the chapter's tests say what is still wrong. Comments and signatures are",
        "// the real ones; the stubs name the chapter's region that shows the answer.",
        "// Regenerate (this overwrites your work) after the real module changes:",
        "//   python3 " + " ".join(["exercises/tools/skeleton.py"] + sys.argv[1:]),
    ]
    result = banner + result
    text = "\n".join(result)
    text = re.sub(r"\n{3,}", "\n\n", text)
    # An anonymous namespace left empty is removed.
    text = re.sub(r"namespace \{\s*\}  // namespace\n\n?", "", text)
    # clang-formatted like every source (make format-check covers exercises/ too).
    if shutil.which("clang-format"):
        text = subprocess.run(["clang-format", "--assume-filename=" + src], input=text,
                              capture_output=True, text=True, check=True).stdout
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
