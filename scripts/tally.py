#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Sums meson's JUnit logs into one 'N passed, N failed' line."""
import json
import os
import sys
import xml.etree.ElementTree as ET

passed = failed = skipped = 0
failures = []
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
                failures.append(f"{path}: {case.get('classname', '')} {case.get('name', '')}")
            elif case.find("skipped") is not None:
                skipped += 1
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
# The names go just above the total, so that a log's last lines say what failed.
for name in failures:
    print(f"FAILED {name}")
line = f"{passed} passed, {failed} failed"
if skipped:
    line += f", {skipped} skipped"
print(line)
sys.exit(1 if failed else 0)
