#!/usr/bin/env python3
"""Draws docs/benchmarks.svg from the figures recorded in docs/benchmarks.json.

    python3 bench/chart.py [FIGURES.json] [OUT.svg]

Each entry of the JSON list is one scenario measured side by side with its peer:

    {"scenario": "sleep(0) jobs/s, 64 clients", "unit": "jobs/s", "faena": 5400,
     "peer": 360, "peer_name": "FastAPI + Celery + Redis", "better": "higher"}

`better` is "higher" for rates, "lower" for times. The chart has one bar per scenario: how many
times better faena is than the peer (log scale, 1x marked), labelled with both figures. Plain
SVG written by hand: no plotting library needed.
"""

import json
import math
import sys
from html import escape

WIDTH = 960
LEFT = 330  # room for the scenario names
RIGHT = 150  # room for the figures
BAR = 22
GAP = 14
TOP = 64


def ratio(entry):
    """How many times better faena is than the peer."""
    faena, peer = float(entry["faena"]), float(entry["peer"])
    return faena / peer if entry.get("better", "higher") == "higher" else peer / faena


def figure(value, unit):
    value = float(value)
    text = f"{value:,.0f}" if value >= 100 else f"{value:.3g}"
    return f"{text} {unit}"


def draw(entries):
    ratios = [ratio(e) for e in entries]
    hi = max(10.0, max(ratios) * 1.3)
    lo = min(0.5, min(ratios) / 1.3)
    span = WIDTH - LEFT - RIGHT

    def x(r):
        return LEFT + span * (math.log10(r) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))

    height = TOP + len(entries) * (BAR + GAP) + 40
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="13">',
        f'<rect width="{WIDTH}" height="{height}" fill="white"/>',
        '<text x="16" y="26" font-size="17" font-weight="bold">faena against its peers, '
        "side by side on the same 2-core machine</text>",
        '<text x="16" y="46" fill="#555">times better than the peer (log scale; '
        "right of the 1x line: faena is ahead)</text>",
    ]
    for tick in [t for t in (0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000) if lo <= t <= hi]:
        tx = x(tick)
        colour = "#333" if tick == 1 else "#ddd"
        out.append(
            f'<line x1="{tx:.1f}" y1="{TOP - 8}" x2="{tx:.1f}" y2="{height - 30}" stroke="{colour}"/>'
        )
        out.append(
            f'<text x="{tx:.1f}" y="{height - 14}" text-anchor="middle" fill="#555">{tick:g}x</text>'
        )
    for i, (entry, r) in enumerate(zip(entries, ratios)):
        y = TOP + i * (BAR + GAP)
        x0, x1 = x(1), x(r)
        colour = "#2a7ab0" if r >= 1 else "#c0392b"
        left, width = min(x0, x1), max(abs(x1 - x0), 1)
        out.append(
            f'<text x="{LEFT - 10}" y="{y + BAR * 0.7:.1f}" text-anchor="end">'
            f'{escape(entry["scenario"])}</text>'
        )
        out.append(
            f'<rect x="{left:.1f}" y="{y}" width="{width:.1f}" height="{BAR}" fill="{colour}"/>'
        )
        label = (
            f'{r:.1f}x · faena {figure(entry["faena"], entry["unit"])}, '
            f'{escape(entry["peer_name"])} {figure(entry["peer"], entry["unit"])}'
        )
        out.append(
            f'<text x="{max(x0, x1) + 6:.1f}" y="{y + BAR * 0.7:.1f}" font-size="11" '
            f'fill="#222">{label}</text>'
        )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main():
    source = sys.argv[1] if len(sys.argv) > 1 else "docs/benchmarks.json"
    target = sys.argv[2] if len(sys.argv) > 2 else "docs/benchmarks.svg"
    with open(source) as f:
        entries = json.load(f)
    with open(target, "w") as f:
        f.write(draw(entries))
    print(f"{target}: {len(entries)} scenarios")


if __name__ == "__main__":
    main()
