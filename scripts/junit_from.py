#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Turns `go test -v` or `cargo test` output (stdin) into a JUnit XML file.

usage: junit_from.py go|cargo SUITE OUT.xml
Exits non-zero if any test failed or no test ran.
"""
import re
import sys
from xml.sax.saxutils import escape, quoteattr

kind, suite, out = sys.argv[1], sys.argv[2], sys.argv[3]
text = sys.stdin.read()
sys.stdout.write(text)
cases = []  # (name, ok)
if kind == "go":
    for m in re.finditer(r"^\s*--- (PASS|FAIL|SKIP): (\S+)", text, re.M):
        cases.append((m.group(2), m.group(1)))
elif kind == "cargo":
    for m in re.finditer(r"^test (\S+) \.\.\. (ok|FAILED|ignored)", text, re.M):
        cases.append((m.group(1), {"ok": "PASS", "FAILED": "FAIL", "ignored": "SKIP"}[m.group(2)]))
else:
    sys.exit("unknown kind " + kind)
fails = sum(1 for _, r in cases if r == "FAIL")
with open(out, "w") as f:
    f.write('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites>\n')
    f.write(f'<testsuite name={quoteattr(suite)} tests="{len(cases)}" failures="{fails}">\n')
    for name, r in cases:
        f.write(f"  <testcase name={quoteattr(name)} classname={quoteattr(suite)}>")
        if r == "FAIL":
            f.write('<failure message="failed"/>')
        elif r == "SKIP":
            f.write("<skipped/>")
        f.write("</testcase>\n")
    if not cases:
        f.write(f'  <testcase name="no-tests" classname={quoteattr(suite)}>'
                f'<failure message="{escape("no test ran")}"/></testcase>\n')
    f.write("</testsuite>\n</testsuites>\n")
sys.exit(1 if fails or not cases else 0)
