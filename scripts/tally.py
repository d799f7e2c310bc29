#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Sums meson's JUnit logs into one 'N passed, N failed' line."""
import json
import os
import sys
import xml.etree.ElementTree as ET

passed = failed = skipped = 0
failures = []
details = []  # (name, text): what each failed case's XML says, for the log's tail
notes = []  # skips whose reason starts "environment:": what a machine could not do


def failure_text(case):
    """The message and the last lines of a failed case's body and output."""
    out = []
    for tag in ("failure", "error"):
        node = case.find(tag)
        if node is None:
            continue
        if node.get("message"):
            out.append(node.get("message"))
        if node.text:
            out.extend(node.text.rstrip().splitlines()[-25:])
    for tag in ("system-out", "system-err"):
        node = case.find(tag)
        if node is not None and node.text and len(out) < 10:
            out.extend(node.text.rstrip().splitlines()[-15:])
    return out
for path in sys.argv[1:]:
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as e:
        print(f"tally: cannot read {path}: {e}", file=sys.stderr)
        failed += 1
        continue
    for suite in root.iter("testsuite"):
        cases = list(suite.iter("testcase"))
        for case in cases:
            if case.find("failure") is not None or case.find("error") is not None:
                failed += 1
                name = f"{path}: {case.get('classname', '')} {case.get('name', '')}"
                failures.append(name)
                details.append((name, failure_text(case)))
            elif case.find("skipped") is not None:
                skipped += 1
                why = case.find("skipped").get("message") or ""
                if why.startswith("environment:"):
                    notes.append(f"{case.get('classname', '')} {case.get('name', '')}: {why}")
            else:
                passed += 1
    # A test program that failed as a whole (a sanitizer report at exit, a
    # crash before its XML was written) counts even if no case says so.
    # meson test --logbase NAME writes NAME.junit.xml beside NAME.json.
    log = path[: -len(".junit.xml")] + ".json"
    if path.endswith(".junit.xml") and os.path.exists(log):
        with open(log) as f:
            for line in f:
                try:
                    t = json.loads(line)
                except ValueError:
                    continue
                if t.get("result") in ("OK", "SKIP", "EXPECTEDFAIL"):
                    continue
                name = t.get("name", "?")
                if not any(name in f_ for f_ in failures):
                    failed += 1
                    failures.append(f"{path}: {name} ({t.get('result')}, exit {t.get('returncode')})")
# What each failure said (bounded: the first 6 failures, 30 lines each), then
# the names just above the total, so that a log's last lines say what failed.
for note in notes:
    print(f"NOTE {note}")
for name, text in details[:6]:
    print(f"--- {name}: what its report says (last lines)")
    for ln in text[-30:]:
        print(f"  | {ln[:300]}")
for name in failures:
    print(f"FAILED {name}")
line = f"{passed} passed, {failed} failed"
if skipped:
    line += f", {skipped} skipped"
print(line)
sys.exit(1 if failed else 0)
