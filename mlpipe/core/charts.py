"""Every chart of the report (`mlpipe report --html`) and the model card, drawn here once: plain
inline SVG strings, no plotting library, so a page opens offline and renders in any browser. The
two pages differ only in which charts they show and on which numbers."""

import math
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

from mlpipe.core.captions import change_word
from mlpipe.core.formats import count, finite, number, signed
from mlpipe.core.html import SliceView, escape

WIDTH, HEIGHT, PAD = 300, 260, 40
SVG_NAMESPACE = "http://www.w3.org/2000/svg"
BLUE, GREY, RED, INK = "#1a73e8", "#bdc1c6", "#d93025", "#3c4043"


def standalone(svg: str) -> bytes:
    """An inline SVG as an SVG file (which needs its namespace)."""
    return svg.replace("<svg ", "<svg xmlns='" + SVG_NAMESPACE + "' ", 1).encode()


def heat(share: float) -> Tuple[str, str]:
    """(fill, ink) of a heatmap cell holding `share` (0..1) of its row: white to blue."""
    shade = int(245 - 170 * share)
    return f"rgb({shade},{min(shade + 10, 255)},255)", "#fff" if shade < 150 else "#1d2433"


def line_chart(title: str, x_label: str, y_label: str, points: Sequence[Tuple[float, float]],
               diagonal: bool = False, markers: bool = False, chart_id: str = "") -> str:
    """A curve on [0, 1] x [0, 1] (ROC, precision-recall, calibration): points clipped to the
    square, non-finite ones skipped; `diagonal`: the dashed line of a chance (or perfect) model;
    `markers`: a dot on each point."""
    def x(value):
        return PAD + value * (WIDTH - PAD - 10)

    def y(value):
        return HEIGHT - PAD - value * (HEIGHT - PAD - 25)
    parts = [f"<svg id='{chart_id}' role='img' aria-label='{escape(title)}' width='{WIDTH}' "
             f"height='{HEIGHT}' viewBox='0 0 {WIDTH} {HEIGHT}'>",
             f"<text x='{WIDTH / 2}' y='15' text-anchor='middle' font-weight='600'>"
             f"{escape(title)}</text>",
             f"<rect x='{PAD}' y='25' width='{WIDTH - PAD - 10}' height='{HEIGHT - PAD - 25}' "
             "fill='#fafbfd' stroke='#dadce0'/>"]
    for tick in (0, 0.5, 1):
        parts.append(f"<text x='{x(tick)}' y='{HEIGHT - PAD + 14}' text-anchor='middle'>"
                     f"{tick}</text>")
        parts.append(f"<text x='{PAD - 5}' y='{y(tick) + 4}' text-anchor='end'>{tick}</text>")
    parts.append(f"<text x='{WIDTH / 2}' y='{HEIGHT - 8}' text-anchor='middle'>"
                 f"{escape(x_label)}</text>")
    parts.append(f"<text x='12' y='{HEIGHT / 2}' text-anchor='middle' "
                 f"transform='rotate(-90 12 {HEIGHT / 2})'>{escape(y_label)}</text>")
    if diagonal:
        parts.append(f"<line x1='{x(0)}' y1='{y(0)}' x2='{x(1)}' y2='{y(1)}' stroke='{GREY}' "
                     "stroke-dasharray='4 3'/>")
    clipped = [(min(1.0, max(0.0, float(a))), min(1.0, max(0.0, float(b))))
               for a, b in points if finite(a) and finite(b)]
    if clipped:
        path = " ".join(f"{x(a):.1f},{y(b):.1f}" for a, b in sorted(clipped))
        parts.append(f"<polyline class='series' points='{path}' fill='none' stroke='{BLUE}' "
                     "stroke-width='2'/>")
        if markers:
            parts += [f"<circle cx='{x(a):.1f}' cy='{y(b):.1f}' r='3' fill='{BLUE}'/>"
                      for a, b in clipped]
    else:
        parts.append(f"<text x='{WIDTH / 2}' y='{HEIGHT / 2}' text-anchor='middle'>no data</text>")
    return "".join(parts) + "</svg>"


def binary_confusion_svg(confusion: Dict[str, float]) -> str:
    """binary: TN, FP, FN, TP at the threshold, shaded by their share of the largest cell."""
    cells = [("TN", confusion.get("tn", 0), 0, 0), ("FP", confusion.get("fp", 0), 1, 0),
             ("FN", confusion.get("fn", 0), 0, 1), ("TP", confusion.get("tp", 0), 1, 1)]
    largest = max(value for _, value, _, _ in cells) or 1
    size = 90
    parts = [f"<svg id='confusion' role='img' aria-label='Confusion matrix' width='{WIDTH}' "
             f"height='{HEIGHT}' viewBox='0 0 {WIDTH} {HEIGHT}'>",
             f"<text x='{WIDTH / 2}' y='15' text-anchor='middle' font-weight='600'>Confusion "
             f"matrix at threshold {confusion.get('threshold', 0.5):.2f}</text>",
             f"<text x='{80 + size}' y='40' text-anchor='middle'>predicted 0 / 1</text>",
             f"<text x='30' y='{60 + size}' text-anchor='middle' "
             f"transform='rotate(-90 30 {60 + size})'>actual 0 / 1</text>"]
    for label, value, column, row in cells:
        fill, ink = heat(value / largest)
        left, top = 80 + column * size, 50 + row * size
        parts.append(f"<rect x='{left}' y='{top}' width='{size}' height='{size}' "
                     f"fill='{fill}' stroke='#fff'/>")
        parts.append(f"<text x='{left + size / 2}' y='{top + size / 2}' text-anchor='middle' "
                     f"style='fill:{ink}'>{label} {count(value)}</text>")
    return "".join(parts) + "</svg>"


def class_confusion_svg(confusion: dict) -> str:
    """multiclass: the confusion matrix ({classes, predicted, matrix}) as a heatmap, a row per
    actual class, a column per predicted class; a cell's shade is its share of the actual
    class's examples."""
    names, columns = confusion.get("classes") or [], confusion.get("predicted") or []
    matrix = confusion.get("matrix") or []
    cell, left, top = 56, 120, 64
    width = max(WIDTH, left + cell * max(len(columns), 1) + 10)
    height = max(HEIGHT // 2, top + cell * max(len(names), 1) + 10)
    parts = [f"<svg id='confusion-matrix' role='img' aria-label='Confusion matrix' "
             f"width='{width}' height='{height}' viewBox='0 0 {width} {height}'>",
             f"<text x='{width / 2}' y='15' text-anchor='middle' font-weight='600'>Confusion "
             "matrix</text>",
             f"<text x='{width / 2}' y='30' text-anchor='middle'>rows: actual class, columns: "
             "predicted class</text>"]
    if not matrix:
        parts.append(f"<text x='{width / 2}' y='{height / 2}' text-anchor='middle'>no data</text>")
        return "".join(parts) + "</svg>"
    for j, name in enumerate(columns):
        parts.append(f"<text x='{left + j * cell + cell / 2}' y='{top - 8}' "
                     f"text-anchor='middle'>{escape(name)}</text>")
    for i, (name, counts) in enumerate(zip(names, matrix)):
        total = sum(value for value in counts if finite(value)) or 1.0
        parts.append(f"<text x='{left - 6}' y='{top + i * cell + cell / 2 + 4}' "
                     f"text-anchor='end'>{escape(name)}</text>")
        for j, value in enumerate(counts):
            fill, ink = heat(value / total if finite(value) else 0.0)
            x, y = left + j * cell, top + i * cell
            parts.append(f"<rect class='cell' x='{x}' y='{y}' width='{cell}' height='{cell}' "
                         f"fill='{fill}' stroke='#fff'/>")
            parts.append(f"<text x='{x + cell / 2}' y='{y + cell / 2 + 4}' text-anchor='middle' "
                         f"style='fill:{ink}'>{count(value)}</text>")
    return "".join(parts) + "</svg>"


def class_confusion_table(confusion: dict) -> str:
    """The multiclass confusion matrix as an HTML heatmap table (the report's page; the card
    draws class_confusion_svg): rows actual, columns predicted, shaded as in the SVG."""
    if not confusion:
        return "<p class='small'>no confusion matrix recorded</p>"
    rows = ["<table id='class-confusion'><tr><th>actual \\ predicted</th>"
            + "".join(f"<th>{escape(name)}</th>" for name in confusion["predicted"]) + "</tr>"]
    for name, counts in zip(confusion["classes"], confusion["matrix"]):
        total = sum(counts) or 1.0
        cells = []
        for value in counts:
            fill, ink = heat(value / total)
            cells.append(f"<td class='cell' style='background:{fill};color:{ink}'>"
                         f"{count(value)}</td>")
        rows.append(f"<tr><th>{escape(name)}</th>{''.join(cells)}</tr>")
    return "".join(rows) + "</table>"


class SliceLayout(NamedTuple):
    label_width: int
    chart_width: int
    value_width: int


# The report draws a chart per sliced feature (labels are values); the card one chart of every
# slice (labels are "feature = value").
FEATURE_SLICES = SliceLayout(150, 520, 110)
ALL_SLICES = SliceLayout(190, 560, 120)


def slice_chart(title: str, rows: Sequence[SliceView], overall: Optional[float] = None,
                layout: SliceLayout = FEATURE_SLICES, chart_id: str = "") -> str:
    """A metric per slice as bars from 0 to 1 (to the largest value for a metric that exceeds 1,
    such as rmse), the 95% interval as a whisker where there is one, the overall value as a
    dashed line when given; slices too small to trust in grey."""
    bar, label_width = 16, layout.label_width
    scale = layout.chart_width - label_width - layout.value_width
    top_value = max([1.0] + [value for value in [overall] + [row.value for row in rows] + [
        bound for row in rows for bound in (row.interval or ())] if finite(value)])

    def share(value: float) -> float:
        return min(1.0, max(0.0, value / top_value))
    height = 30 + bar * max(len(rows), 1)
    named = f" id='{chart_id}'" if chart_id else ""
    parts = [f"<svg{named} class='slice-chart' role='img' aria-label='{escape(title)}' "
             f"width='{layout.chart_width}' height='{height}' "
             f"viewBox='0 0 {layout.chart_width} {height}'>",
             f"<text x='0' y='14' font-weight='600'>{escape(title)}</text>"]
    for i, row in enumerate(rows):
        top = 22 + i * bar
        width = scale * share(row.value) if finite(row.value) else 0.0
        parts.append(f"<text x='{label_width - 6}' y='{top + 11}' text-anchor='end'>"
                     f"{escape(row.label)}</text>")
        parts.append(f"<rect x='{label_width}' y='{top}' class='slice-bar' width='{width:.1f}' "
                     f"height='{bar - 3}' fill='{GREY if row.too_small else BLUE}'/>")
        if row.interval:
            low, high = (label_width + scale * share(b) for b in row.interval)
            middle = top + (bar - 3) / 2
            parts.append(f"<line class='interval' x1='{low:.1f}' y1='{middle:.1f}' "
                         f"x2='{high:.1f}' y2='{middle:.1f}' stroke='{INK}'/>")
        parts.append(f"<text x='{label_width + scale + 6}' y='{top + 11}'>{number(row.value)} "
                     f"(n={count(row.examples)})</text>")
    if finite(overall) and rows:
        at = label_width + scale * share(overall)
        parts.append(f"<line x1='{at:.1f}' y1='20' x2='{at:.1f}' y2='{height}' stroke='{RED}' "
                     "stroke-dasharray='4 3'/>")
    if not rows:
        parts.append("<text x='0' y='40'>no slices configured</text>")
    return "".join(parts) + "</svg>"


def attributions_svg(attributions: dict, rows_shown: Optional[int] = None) -> str:
    """FeatureAttributions' features ranked by mean metric drop (rise, for a lower-is-better
    metric) when shuffled: bars from a zero line, a whisker for ± one std over the shuffles."""
    rows: List[dict] = (attributions or {}).get("features", [])[:rows_shown]
    bar, label_width, chart_width, value_width = 18, 190, 620, 130
    scale = chart_width - label_width - value_width
    means = [row["mean_drop"] if finite(row.get("mean_drop")) else 0.0 for row in rows]
    stds = [row["std_drop"] if finite(row.get("std_drop")) else 0.0 for row in rows]
    low = min([0.0] + [m - s for m, s in zip(means, stds)])
    high = max([0.0] + [m + s for m, s in zip(means, stds)])
    span = (high - low) or 1.0

    def x(value):
        return label_width + scale * (value - low) / span
    height = 34 + bar * max(len(rows), 1)
    parts = [f"<svg id='attributions-chart' role='img' aria-label='feature attributions' "
             f"width='{chart_width}' height='{height}' viewBox='0 0 {chart_width} {height}'>",
             f"<text x='0' y='14' font-weight='600'>{change_word(attributions)} in "
             f"{escape((attributions or {}).get('metric', '?'))} when shuffled</text>"]
    for i, (row, mean, std) in enumerate(zip(rows, means, stds)):
        top = 24 + i * bar
        left, right = sorted((x(0.0), x(mean)))
        parts.append(f"<text x='{label_width - 6}' y='{top + 12}' text-anchor='end'>"
                     f"{escape(row.get('feature', '?'))}</text>")
        parts.append(f"<rect class='attribution' x='{left:.1f}' y='{top}' "
                     f"width='{right - left:.1f}' height='{bar - 4}' "
                     f"fill='{BLUE if mean >= 0 else GREY}'/>")
        if std > 0:
            middle = top + (bar - 4) / 2
            parts.append(f"<line x1='{x(mean - std):.1f}' y1='{middle:.1f}' "
                         f"x2='{x(mean + std):.1f}' y2='{middle:.1f}' stroke='{INK}'/>")
        parts.append(f"<text x='{label_width + scale + 6}' y='{top + 12}'>"
                     f"{signed(row.get('mean_drop'))} ± {number(row.get('std_drop'))}</text>")
    parts.append(f"<line x1='{x(0.0):.1f}' y1='20' x2='{x(0.0):.1f}' y2='{height}' "
                 f"stroke='{INK}' stroke-dasharray='4 3'/>")
    return "".join(parts) + "</svg>"


def predicted_vs_actual_svg(points: Sequence[Tuple[float, float, float]],
                            title: str = "Predicted vs actual") -> str:
    """Mean actual label against mean prediction per bucket of predicted value (TFMA's
    calibration plot over `evaluation.plot_range`), on the same scale on both axes, with the
    diagonal a perfect model would follow; a marker's size grows with its examples.
    `points`: (mean prediction, mean label, examples) per bucket; non-finite ones are skipped."""
    left = PAD + 10
    parts = [f"<svg id='predicted-vs-actual' role='img' aria-label='{escape(title)}' "
             f"width='{WIDTH}' height='{HEIGHT}' viewBox='0 0 {WIDTH} {HEIGHT}'>",
             f"<text x='{WIDTH / 2}' y='15' text-anchor='middle' font-weight='600'>"
             f"{escape(title)}</text>",
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


def sparkline(values: List[float]) -> str:
    """A feature's histogram as tiny bars (the report's data table)."""
    if not values:
        return ""
    top = max(values) or 1
    width = 120 / len(values)
    bars = "".join(f"<rect x='{i * width:.1f}' y='{24 - 22 * v / top:.1f}' "
                   f"width='{max(width - 1, 1):.1f}' height='{22 * v / top:.1f}' fill='#5f6368'/>"
                   for i, v in enumerate(values))
    return f"<svg class='spark' width='120' height='24' viewBox='0 0 120 24'>{bars}</svg>"


# Measures as results name them: today's (mlpipe.core.drift) and TFDV's of older results.
MEASURE_LABELS = {"PSI": "PSI", "L-infinity": "L-inf", "L_INFTY": "L-inf",
                  "JENSEN_SHANNON_DIVERGENCE": "JS"}


def drift_chart(drift: List[dict]) -> str:
    """`mlpipe monitor`'s drift: each feature's distance as a fraction of its threshold; the
    line at 1 is the threshold."""
    if not drift:
        return ""
    rows = sorted(drift, key=lambda d: -d["value"] / d["threshold"] if d["threshold"] else 0)
    bar_height, label_width, chart_width = 16, 170, 620
    scale_width = chart_width - label_width - 170
    top_ratio = max(2.0, max(d["value"] / d["threshold"] for d in rows if d["threshold"]))
    height = 34 + bar_height * len(rows)
    threshold_x = label_width + scale_width / top_ratio
    parts = [f"<svg id='drift-chart' role='img' aria-label='drift per feature' "
             f"width='{chart_width}' height='{height}' viewBox='0 0 {chart_width} {height}'>",
             "<text x='0' y='14' font-weight='600'>distance / threshold</text>"]
    for i, d in enumerate(rows):
        ratio = d["value"] / d["threshold"] if d["threshold"] else 0.0
        top = 24 + i * bar_height
        width = scale_width * min(ratio, top_ratio) / top_ratio
        measure = MEASURE_LABELS.get(d["measure"], d["measure"])
        parts.append(f"<text x='{label_width - 6}' y='{top + 11}' text-anchor='end'>"
                     f"{escape(d['feature'])}</text>")
        parts.append(f"<rect x='{label_width}' y='{top}' width='{width:.1f}' "
                     f"height='{bar_height - 3}' fill='{'#d93025' if ratio > 1 else '#1e8e3e'}'/>")
        parts.append(f"<text x='{label_width + width + 4:.1f}' y='{top + 11}'>"
                     f"{measure} {d['value']:.4f} (threshold {d['threshold']:g})</text>")
    parts.append(f"<line x1='{threshold_x:.1f}' y1='20' x2='{threshold_x:.1f}' "
                 f"y2='{height}' stroke='#3c4043' stroke-dasharray='4 3'/>")
    return "".join(parts) + "</svg>"
