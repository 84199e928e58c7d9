"""The money in/out chart as SVG geometry, computed on the server (no chart library in the
browser; the template draws rectangles). Bars scale to the largest period; each bar keeps its
amount for the tooltip and the accessible table beside the chart."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

WIDTH, HEIGHT, AXIS = 720, 200, 20


def bars(periods: list[dict[str, Any]]) -> dict[str, Any]:
    if not periods:
        return {"width": WIDTH, "height": HEIGHT + AXIS, "bars": [], "labels": []}
    top = max(max(p["in"], p["out"]) for p in periods) or Decimal("1")
    slot = WIDTH / len(periods)
    bar = max(slot * 0.4, 1.0)
    drawn, labels = [], []
    every = max(len(periods) // 12, 1)  # at most ~12 axis labels
    for i, p in enumerate(periods):
        x = i * slot + slot * 0.1
        for offset, direction in ((0.0, "in"), (bar, "out")):
            h = float(p[direction] / top) * HEIGHT
            drawn.append({"x": round(x + offset, 1), "y": round(HEIGHT - h, 1), "w": round(bar, 1),
                          "h": round(h, 1), "direction": direction, "amount": p[direction], "label": p["label"]})
        if i % every == 0:
            labels.append({"x": round(x + bar, 1), "text": p["label"]})
    return {"width": WIDTH, "height": HEIGHT + AXIS, "bars": drawn, "labels": labels, "top": top}
