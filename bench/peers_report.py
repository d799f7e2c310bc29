#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Turns bench/peers.sh's samples into its result lines, tables and target
check (standard library only).

    peers_report.py lines    < samples   # one line per (cell, peer), issue 17's format
    peers_report.py markdown < samples   # the tables for bench/RESULTS.md
    peers_report.py targets  < samples   # the cells that miss issue 17's targets
    peers_report.py costs    < samples   # context switches and CPU us per command

A sample line (from bench/peers/{go,rust,python}):
  sample lang=go client=jr op=GET size=3 callers=64 rep=1 ops_per_s=N p50_us=X errors=E
Each (lang, client, op, size, callers) takes the median of its reps (ops/s
and p50 separately). `client=jr` is libjr's binding; every other client is
a peer. callers=1x100 is one caller with explicit pipelines of 100.
Targets: at 64 and 1024 callers jr >= 1.5x the fastest peer's ops/s; at 1
caller jr's p50 <= 1.1x the fastest (lowest) peer p50.
"""
import statistics
import sys
from collections import defaultdict

LANGS = ('python', 'go', 'rust')


def read(stream):
    cells = defaultdict(lambda: {'ops': [], 'p50': [], 'cs': [], 'cpu': [], 'errors': 0})
    for line in stream:
        if not line.startswith('sample '):
            continue
        f = dict(kv.split('=', 1) for kv in line.split()[1:])
        k = (f['lang'], f['client'], f['op'], int(f['size']), f['callers'])
        c = cells[k]
        c['ops'].append(float(f['ops_per_s']))
        c['p50'].append(float(f['p50_us']))
        c['errors'] += int(f.get('errors', 0))
        if 'cs_per_op' in f:
            c['cs'].append(float(f['cs_per_op']))
            c['cpu'].append(float(f['cpu_us_per_op']))
    out = {}
    for k, c in cells.items():
        out[k] = {'ops': statistics.median(c['ops']), 'p50': statistics.median(c['p50']),
                  'cs': statistics.median(c['cs']) if c['cs'] else None,
                  'cpu': statistics.median(c['cpu']) if c['cpu'] else None,
                  'n': len(c['ops']), 'errors': c['errors']}
    return out


def callers_key(c):
    # 1, 64, 1024, then the pipeline cells (1x100).
    n, _, p = c.partition('x')
    return (int(p or 0), int(n))


def rows(med):
    """(lang, peer, op, size, callers, jr, peer) for every cell with both."""
    out = []
    keys = sorted({(k[0], k[2], k[3], k[4]) for k in med},
                  key=lambda k: (LANGS.index(k[0]) if k[0] in LANGS else 9, k[1], k[2],
                                 callers_key(k[3])))
    for lang, op, size, callers in keys:
        j = med.get((lang, 'jr', op, size, callers))
        if j is None:
            continue
        peers = sorted(k[1] for k in med
                       if k[0] == lang and k[1] != 'jr' and k[2:] == (op, size, callers))
        for p in peers:
            out.append((lang, p, op, size, callers, j, med[(lang, p, op, size, callers)]))
    return out


def ratio(a, b):
    return a / b if b else float('inf')


def lines(med):
    for lang, p, op, size, callers, j, q in rows(med):
        print('lang=%s peer=%s op=%s size=%d callers=%s jr_ops_per_s=%.0f peer_ops_per_s=%.0f '
              'ratio=%.2f jr_p50_us=%.1f peer_p50_us=%.1f' % (
                  lang, p, op, size, callers, j['ops'], q['ops'], ratio(j['ops'], q['ops']),
                  j['p50'], q['p50']))


def misses(med):
    """(lang, op, size, callers, what, jr value, best peer, its value, ratio)."""
    out = []
    by_cell = defaultdict(list)
    for lang, p, op, size, callers, j, q in rows(med):
        by_cell[(lang, op, size, callers)].append((p, j, q))
    for (lang, op, size, callers), ps in by_cell.items():
        j = ps[0][1]
        if callers in ('64', '1024'):
            p, _, q = max(ps, key=lambda x: x[2]['ops'])
            r = ratio(j['ops'], q['ops'])
            if r < 1.5:
                out.append((lang, op, size, callers, 'ops/s', j['ops'], p, q['ops'], r))
        elif callers == '1':
            p, _, q = min(ps, key=lambda x: x[2]['p50'])
            r = ratio(j['p50'], q['p50'])
            if r > 1.1:
                out.append((lang, op, size, callers, 'p50', j['p50'], p, q['p50'], r))
    return out


def markdown(med):
    for lang in LANGS:
        rs = [r for r in rows(med) if r[0] == lang]
        if not rs:
            continue
        peers = sorted({r[1] for r in rs})
        print('### %s: libjr vs %s\n' % (lang, ', '.join(peers)))
        head = ['op', 'size', 'callers', 'jr ops/s'] + ['%s ops/s' % p for p in peers]
        head += ['jr/%s' % p for p in peers] + ['jr p50 us'] + ['%s p50 us' % p for p in peers]
        print('| ' + ' | '.join(head) + ' |')
        print('|' + '---|' * 3 + '---:|' * (len(head) - 3))
        seen = []
        for r in rs:
            if r[2:5] not in seen:
                seen.append(r[2:5])
        for op, size, callers in seen:
            j = med[(lang, 'jr', op, size, callers)]
            qs = [med.get((lang, p, op, size, callers)) for p in peers]
            cells = [op, str(size), callers, '%.0f' % j['ops']]
            cells += ['%.0f' % q['ops'] if q else '-' for q in qs]
            cells += ['%.2f' % ratio(j['ops'], q['ops']) if q else '-' for q in qs]
            cells += ['%.1f' % j['p50']] + ['%.1f' % q['p50'] if q else '-' for q in qs]
            print('| ' + ' | '.join(cells) + ' |')
        print()
    errs = [(k, v['errors']) for k, v in med.items() if v['errors']]
    for k, e in errs:
        print('errors: %s %d' % (' '.join(map(str, k)), e))


def targets(med):
    m = misses(med)
    print('%d cells miss issue 17\'s targets (>= 1.5x the fastest peer\'s ops/s at 64 and 1024 '
          'callers; p50 <= 1.1x the fastest peer\'s at 1 caller):' % len(m))
    for lang, op, size, callers, what, jv, p, pv, r in m:
        print('  %s %s %dB callers=%s: %s jr %.1f vs %s %.1f (%.2fx)' % (
            lang, op, size, callers, what, jv, p, pv, r))


def costs(med):
    """Per language and callers: each client's context switches and CPU
    microseconds per command (whole process, medians), GET and SET of 3 B."""
    for lang in LANGS:
        clients = sorted({k[1] for k in med if k[0] == lang and med[k]['cs'] is not None},
                         key=lambda c: (c != 'jr', c))
        if not clients:
            continue
        print('### %s: context switches / CPU us per command\n' % lang)
        print('| op | size | callers | ' + ' | '.join(clients) + ' |')
        print('|---|---|---|' + '---:|' * len(clients))
        seen = sorted({k[2:] for k in med if k[0] == lang},
                      key=lambda k: (k[0], k[1], callers_key(k[2])))
        for op, size, callers in seen:
            cells = []
            for c in clients:
                m = med.get((lang, c, op, size, callers))
                cells.append('%.2f / %.1f' % (m['cs'], m['cpu']) if m and m['cs'] is not None
                             else '-')
            print('| %s | %d | %s | %s |' % (op, size, callers, ' | '.join(cells)))
        print()


def main():
    modes = {'lines': lines, 'markdown': markdown, 'targets': targets, 'costs': costs}
    if len(sys.argv) != 2 or sys.argv[1] not in modes:
        sys.exit('usage: peers_report.py lines|markdown|targets|costs < samples')
    med = read(sys.stdin)
    if not med:
        sys.exit('peers_report.py: no sample lines on stdin')
    modes[sys.argv[1]](med)


if __name__ == '__main__':
    main()
