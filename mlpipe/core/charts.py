"""Inline SVG charts drawn the same way by the report (`mlpipe report --html`) and the model
card: plain strings, no plotting library, so a page opens offline and renders in any browser."""

import math
from typing import Sequence, Tuple

WIDTH, HEIGHT, PAD = 300, 260, 40


def predicted_vs_actual_svg(points: Sequence[Tuple[float, float, float]],
                            title: str = "Predicted vs actual") -> str:
    """Mean actual label against mean prediction per bucket of predicted value (TFMA's
    calibration plot over `evaluation.plot_range`), on the same scale on both axes, with the
    diagonal a perfect model would follow; a marker's size grows with its examples.
    `points`: (mean prediction, mean label, examples) per bucket; non-finite ones are skipped."""
    left = PAD + 10
    parts = [f"<svg id='predicted-vs-actual' role='img' aria-label='{title}' width='{WIDTH}' "
             f"height='{HEIGHT}' viewBox='0 0 {WIDTH} {HEIGHT}'>",
             f"<text x='{WIDTH / 2}' y='15' text-anchor='middle' font-weight='600'>{title}</text>",
             f"<rect x='{left}' y='25' width='{WIDTH - left - 10}' height='{HEIGHT - PAD - 25}' "
             "fill='#fafbfd' stroke='#dadce0'/>"]
    finite = [(p, label, max(n or 0.0, 0.0)) for p, label, n in points
              if math.isfinite(p) and math.isfinite(label)]
    if not finite:
        parts.append(f"<text x='{WIDTH / 2}' y='{HEIGHT / 2}' text-anchor='middle'>no data</text>")
        return "".join(parts) + "</svg>"
    low = min(min(p, label) for p, label, _ in finite)
    high = max(max(p, label) for p, label, _ in finite)
    span = (high - low) or 1.0

    def x(value):
        return left + (value - low) / span * (WIDTH - left - 10)

    def y(value):
        return HEIGHT - PAD - (value - low) / span * (HEIGHT - PAD - 25)
    for tick in (low, (low + high) / 2, high):
        parts.append(f"<text x='{x(tick):.1f}' y='{HEIGHT - PAD + 14}' text-anchor='middle'>"
                     f"{tick:.4g}</text>")
        parts.append(f"<text x='{left - 4}' y='{y(tick) + 4:.1f}' text-anchor='end'>{tick:.4g}"
                     "</text>")
    parts.append(f"<text x='{WIDTH / 2}' y='{HEIGHT - 8}' text-anchor='middle'>mean predicted "
                 "value</text>")
    parts.append(f"<text x='10' y='{HEIGHT / 2}' text-anchor='middle' "
                 f"transform='rotate(-90 10 {HEIGHT / 2})'>mean actual value</text>")
    parts.append(f"<line x1='{x(low):.1f}' y1='{y(low):.1f}' x2='{x(high):.1f}' "
                 f"y2='{y(high):.1f}' stroke='#bdc1c6' stroke-dasharray='4 3'/>")
    ordered = sorted(finite)
    parts.append("<polyline class='series' points='" + " ".join(
        f"{x(p):.1f},{y(label):.1f}" for p, label, _ in ordered)
        + "' fill='none' stroke='#1a73e8' stroke-width='1.5'/>")
    largest = max(n for _, _, n in ordered) or 1.0
    parts += [f"<circle class='bucket' cx='{x(p):.1f}' cy='{y(label):.1f}' "
              f"r='{2 + 4 * math.sqrt(n / largest):.1f}' fill='#1a73e8' fill-opacity='0.6'>"
              f"<title>predicted {p:.4g}, actual {label:.4g}, {n:,.0f} examples</title></circle>"
              for p, label, n in ordered]
    return "".join(parts) + "</svg>"
