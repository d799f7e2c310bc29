#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes the JUnit XML files that scripts/test collects: the one writer
for the suite's checks, README blocks and bindings.

usage: junit_from.py go|cargo SUITE OUT.xml     (test output on stdin)
       junit_from.py status SUITE NAME RC SECONDS OUT.xml
The first form echoes its input and turns `go test -v` or `cargo test`
lines into test cases; it exits non-zero if any failed or none ran. The
second writes one case from a script's exit status and exits with RC.
Python callers (scripts/test-readme) import write().
"""
import re
import sys
from xml.sax.saxutils import escape, quoteattr


def write(out, suite, cases):
    """cases: (name, result, seconds or None, text): result is PASS, FAIL
    or SKIP; text (a log tail) goes into a failure's body."""
    with open(out, "w") as f:
        f.write('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites>\n')
        fails = sum(1 for c in cases if c[1] == "FAIL")
        f.write(f'<testsuite name={quoteattr(suite)} tests="{len(cases)}" failures="{fails}">\n')
        for name, result, secs, text in cases:
            time = f' time="{secs:.1f}"' if secs is not None else ""
            f.write(f"  <testcase name={quoteattr(name)} classname={quoteattr(suite)}{time}>")
            if result == "FAIL":
                f.write(f'<failure message="failed">{escape(text or "")}</failure>')
            elif result == "SKIP":
                f.write("<skipped/>")
            f.write("</testcase>\n")
        f.write("</testsuite>\n</testsuites>\n")


def from_output(kind, text):
    if kind == "go":
        return [(m.group(2), m.group(1), None, None)
                for m in re.finditer(r"^\s*--- (PASS|FAIL|SKIP): (\S+)", text, re.M)]
    results = {"ok": "PASS", "FAILED": "FAIL", "ignored": "SKIP"}
    return [(m.group(1), results[m.group(2)], None, None)
            for m in re.finditer(r"^test (\S+) \.\.\. (ok|FAILED|ignored)", text, re.M)]


def main(argv):
    if len(argv) == 7 and argv[1] == "status":
        suite, name, rc, secs, out = argv[2], argv[3], int(argv[4]), float(argv[5]), argv[6]
        write(out, suite, [(name, "FAIL" if rc else "PASS", secs, f"exit status {rc}" if rc else None)])
        return rc
    if len(argv) != 4 or argv[1] not in ("go", "cargo"):
        sys.exit(__doc__)
    kind, suite, out = argv[1:]
    text = sys.stdin.read()
    sys.stdout.write(text)
    cases = from_output(kind, text)
    if not cases:
        cases = [("no-tests", "FAIL", None, "no test ran")]
    write(out, suite, cases)
    return 1 if any(c[1] == "FAIL" for c in cases) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
