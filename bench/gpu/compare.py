#!/usr/bin/env python3
"""Pairs `wgconv bench --json` results with bench/gpu/torch_baseline.py's by item name and
prints a Markdown table: wgconv and PyTorch median latency, the ratio (PyTorch time / wgconv
time: above 1 means wgconv is faster), and wgconv's share of peak where the bench knew it.

    python3 bench/gpu/compare.py wgconv.json torch.json
"""
import json
import sys


def rows(doc, key):
    return {r["name"]: r for r in doc.get(key, [])}


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    ours, theirs = (json.load(open(p)) for p in sys.argv[1:])
    print(f"wgconv: {ours.get('adapter')}  |  PyTorch: {theirs.get('framework')} on "
          f"{theirs.get('device')} ({theirs.get('settings')})\n")
    for key, title in (("items", "layer"), ("models", "model")):
        a, b = rows(ours, key), rows(theirs, key)
        names = [n for n in a if n in b]
        if not names:
            continue
        print(f"| {title} | wgconv ms | PyTorch ms | PyTorch/wgconv | wgconv GFLOP/s | % peak |")
        print("|---|---:|---:|---:|---:|---:|")
        for n in names:
            w, t = a[n], b[n]
            pct = w.get("pct_peak_flops") or w.get("pct_peak_bw")
            pct = f"{pct:.1f}" if pct is not None else "-"
            gf = w.get("gflops")
            gf = f"{gf:.0f}" if gf is not None else "-"
            print(f"| {n} | {w['median_ms']:.3f} | {t['median_ms']:.3f} | "
                  f"{t['median_ms'] / w['median_ms']:.2f} | {gf} | {pct} |")
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
