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
    or SKIP; text (a log tail) goes into a failure's body, or is a skip's
    reason."""
    with open(out, "w") as f:
        f.write('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites>\n')
        fails = sum(1 for c in cases if c[1] == "FAIL")
        f.write(f'<testsuite name={quoteattr(suite)} tests="{len(cases)}" failures="{fails}">\n')
        for name, result, secs, text in cases:
            time = f' time="{secs:.1f}"' if secs is not None else ""
            f.write(f"  <testcase name={quoteattr(name)} classname={quoteattr(suite)}{time}>")
            if result == "FAIL":
                f.write(f"<failure message={quoteattr(headline(text))}>{escape(text or '')}</failure>")
            elif result == "SKIP":
                f.write(f"<skipped message={quoteattr(text)}/>" if text else "<skipped/>")
            f.write("</testcase>\n")
        f.write("</testsuite>\n</testsuites>\n")


def headline(text):
    """A failure's message: its first line that says error, else "failed"."""
    for line in (text or "").splitlines():
        if re.search(r"error|panicked", line, re.I):
            return line.strip()[:200]
    return "failed"


def from_output(kind, text):
    if kind == "go":
        cases = []
        for m in re.finditer(r"^\s*--- (PASS|FAIL|SKIP): (\S+)", text, re.M):
            body = None
            if m.group(1) == "FAIL":
                # go test -v: the test's output follows its "=== RUN" line.
                before = text[:m.start()]
                run = before.rfind("=== RUN   " + m.group(2) + "\n")
                body = "\n".join((before[run:] if run >= 0 else before).splitlines()[-80:])
            cases.append((m.group(2), m.group(1), None, body))
        return cases
    results = {"ok": "PASS", "FAILED": "FAIL", "ignored": "SKIP"}
    cases = []
    # "ignored, REASON": cargo's form of a skip with a reason.
    for m in re.finditer(r"^test (\S+) \.\.\. (ok|FAILED|ignored)(?:, (.*))?", text, re.M):
        name, result = m.group(1), results[m.group(2)]
        if result == "FAIL":
            body = failure_text(text, m, name)
        else:
            body = m.group(3) if result == "SKIP" else None
        cases.append((name, result, None, body))
    return cases


def failure_text(text, m, name):
    """Why a cargo case failed: its "---- NAME stdout ----" section (cargo
    test prints those after the results), else the output between its
    "== rust: STEP" header and its result line (a test.sh step), else the
    lines just before its result line."""
    short = name.split("::", 1)[1] if name.startswith(("rust::", "release::", "miri::")) else name
    sec = re.search(r"^---- " + re.escape(short) + r" stdout ----\n(.*?)(?=^---- |^failures:|\Z)",
                    text, re.M | re.S)
    if sec:
        body = sec.group(1)
    else:
        before = text[:m.start()]
        head = before.rfind("== rust: " + short + "\n")
        body = before[head:] if head >= 0 else before
    return "\n".join(body.splitlines()[-80:])


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
