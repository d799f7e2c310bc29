#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Prints, one per line, the ninja targets that the tests selected by
meson test's suite options need (what `meson test --suite ...` itself
would rebuild), so that scripts/test builds only those:

    test_targets.py BUILDDIR [--suite S]... [--no-suite S]...

A test is selected as meson test selects it: in one of the --suite
suites (all when none is given) and in none of the --no-suite ones; a
suite matches a test's suite by its name or as "project:name".
"""
import json
import os
import subprocess
import sys


def introspect(builddir, what):
    out = subprocess.run(["meson", "introspect", builddir, what],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def matches(wanted, suites):
    return any(w in suites or any(s.split(":", 1)[-1] == w for s in suites) for w in wanted)


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    builddir, rest = argv[1], argv[2:]
    include, exclude = [], []
    while rest:
        opt, rest = rest[0], rest[1:]
        if opt not in ("--suite", "--no-suite") or not rest:
            sys.exit(f"unexpected argument {opt!r}\n{__doc__}")
        (include if opt == "--suite" else exclude).append(rest[0])
        rest = rest[1:]
    files = {t["id"]: t["filename"] for t in introspect(builddir, "--targets")}
    wd = os.path.realpath(builddir)
    out = set()
    for test in introspect(builddir, "--tests"):
        if include and not matches(include, test["suite"]):
            continue
        if matches(exclude, test["suite"]):
            continue
        for dep in test.get("depends", []):
            out.update(os.path.relpath(f, wd) for f in files.get(dep, []))
    if not out:
        sys.exit(f"no test of {builddir} is selected by {' '.join(argv[2:])}")
    print("\n".join(sorted(out)))


if __name__ == "__main__":
    main(sys.argv)
