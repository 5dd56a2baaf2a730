#!/usr/bin/env python3
"""Flags code that can stop the process (a trap) in Sources/: force unwraps, try!, as!,
fatalError, precondition, unsafelyUnwrapped, and floating-point values converted to integers
without a check (Int(x) traps when x is not finite or out of range; use Int(exactly:) or a
bounded helper such as Timestamp(epochMilliseconds:)).

A construct that cannot fire stays, with the reason in a comment on its line or the line above:
    let first = list.first!  // cannot trap: the list is never empty (built with one element)
Exit 1 when anything unexplained is found. CI runs it (issue: hostile input never crashes)."""
import os, re, sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Sources")
STRING = re.compile(r'#"(?:[^"]|"(?!#))*"#|"(?:\\.|[^"\\])*"')
CHECKS = [
    ("force unwrap", re.compile(r"[\w\)\]\}]!(?!=)")),
    ("try!", re.compile(r"\btry!")),
    ("as!", re.compile(r"\bas!")),
    ("fatalError", re.compile(r"\bfatalError\(")),
    ("precondition", re.compile(r"\bprecondition(Failure)?\(")),
    ("unsafelyUnwrapped", re.compile(r"\.unsafelyUnwrapped\b")),
    ("unchecked float to integer",
     re.compile(r"\bU?Int(8|16|32|64)?\((?!exactly:|clamping:|truncatingIfNeeded:|bitPattern:)[^()]*"
                r"(\.rounded\(|\*\s*1000\b|\bDouble\(|\b\d+e\d+\b|\.timeIntervalSince)")),
]

problems = []
# The benchmark tool is not part of the appliance: no input reaches it but its own arguments.
SKIP = {"leadsync-bench"}
for dirpath, dirs, files in os.walk(ROOT):
    dirs[:] = [d for d in dirs if d not in SKIP]
    for name in sorted(files):
        if not name.endswith(".swift"):
            continue
        path = os.path.join(dirpath, name)
        lines = open(path, encoding="utf-8").read().split("\n")
        in_block = False
        for i, raw in enumerate(lines):
            line = raw
            if in_block:
                if "*/" not in line:
                    continue
                line = line.split("*/", 1)[1]
                in_block = False
            line = STRING.sub('""', line)
            if "/*" in line and "*/" not in line.split("/*", 1)[1]:
                line, in_block = line.split("/*", 1)[0], True
            code = line.split("//", 1)[0]
            if not code.strip():
                continue
            explained = "cannot trap:" in raw or (i > 0 and "cannot trap:" in lines[i - 1])
            for what, pattern in CHECKS:
                if pattern.search(code) and not explained:
                    rel = os.path.relpath(path, os.path.join(ROOT, ".."))
                    problems.append(f"{rel}:{i + 1}: {what}: {raw.strip()[:120]}")
for p in problems:
    print(p)
print(f"check-traps: {len(problems)} unexplained trap{'s' if len(problems) != 1 else ''} in Sources/"
      if problems else "check-traps: no unexplained trap in Sources/")
sys.exit(1 if problems else 0)
