#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Draws bench/peers.sh's results: one SVG per language, ops/s against
concurrent callers for libjr's binding and each peer, one panel per
(op, size), medians of the reps.

    <venv with matplotlib>/bin/python bench/peers_plot.py SAMPLES [--outdir bench]

writes <outdir>/peers-<lang>.svg (python, go, rust). SAMPLES is the
samples.txt that bench/peers.sh wrote. Needs matplotlib (pip install
matplotlib into a venv); the pipeline cells (callers=1x100) are left out.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers_report  # noqa: E402

STYLE = {'jr': dict(color='#c0392b', linewidth=2.5, marker='o', zorder=3)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('samples')
    ap.add_argument('--outdir', default=os.path.dirname(os.path.abspath(__file__)))
    a = ap.parse_args()
    import matplotlib
    matplotlib.use('svg')
    import matplotlib.pyplot as plt
    matplotlib.rcParams['svg.hashsalt'] = 'jr-peers'  # stable ids: small diffs
    matplotlib.rcParams['svg.fonttype'] = 'none'
    with open(a.samples) as f:
        text = f.read()
    med = peers_report.read(text.splitlines())
    comments = [l[2:].split() for l in text.splitlines() if l.startswith('# ')]
    # '# <time> <commit> libjr ...' and '# <lang> start loadavg a b c'.
    when = next((' '.join(c[:2]) for c in comments if c and c[0][:2] == '20'), '')
    load = {c[0]: c[3] for c in comments if len(c) > 3 and c[1:3] == ['start', 'loadavg']}
    for lang in peers_report.LANGS:
        keys = [k for k in med if k[0] == lang and 'x' not in k[4]]
        if not keys:
            continue
        panels = sorted({(k[2], k[3]) for k in keys})
        clients = sorted({k[1] for k in keys}, key=lambda c: (c != 'jr', c))
        fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 3.8),
                                 squeeze=False, sharey=True)
        for ax, (op, size) in zip(axes[0], panels):
            for c in clients:
                pts = sorted((int(k[4]), med[k]['ops']) for k in keys
                             if k[1] == c and (k[2], k[3]) == (op, size))
                if not pts:
                    continue
                xs, ys = zip(*pts)
                ax.plot(xs, ys, label='libjr' if c == 'jr' else c,
                        **STYLE.get(c, dict(marker='s', linewidth=1.5)))
            ax.set_xscale('log')
            ax.set_yscale('log')
            ax.set_title('%s %d B' % (op, size))
            ax.set_xlabel('concurrent callers')
            ax.grid(True, which='both', alpha=0.3)
        axes[0][0].set_ylabel('ops/s (median)')
        axes[0][-1].legend(loc='lower right', fontsize='small')
        fig.suptitle('%s: libjr vs its peers, medians (%s; loadavg %s on 2 CPUs at its start)'
                     % (lang, when, load.get(lang, '?')), fontsize='small')
        fig.tight_layout()
        path = os.path.join(a.outdir, 'peers-%s.svg' % lang)
        fig.savefig(path, metadata={'Date': None})
        plt.close(fig)
        print(path)


if __name__ == '__main__':
    main()
