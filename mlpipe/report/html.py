"""One self-contained HTML file: styles inline, charts as inline SVG, no script, font or image
fetched from anywhere, so it opens offline in any browser and can be attached to a ticket."""

import pathlib
from typing import List, Sequence, Tuple

from mlpipe.core.charts import predicted_vs_actual_svg
from mlpipe.core.drift import describe as describe_move
from mlpipe.core.formats import finite, number, signed
from mlpipe.core import captions
from mlpipe.core.html import decision_badge, fairness_section, page, result_badge
from mlpipe.core.html import escape as _e
from mlpipe.report.loader import Report
from mlpipe.report.terminal import direction_text, overall_metric_names, verdict_of_change

WIDTH, HEIGHT, PAD = 300, 260, 40


def render_html(report: Report) -> str:
    return page(f"Evaluation: {report.pipeline} {report.run_id}", [
        f"<h1>Evaluation of {_e(report.pipeline)}, run {_e(report.run_id)}"
        + (f", span {_e(report.span)}" if report.span is not None else "") + "</h1>",
        f"<p id='decision'>{decision_badge(report.blessed)}</p>",
        "<h2>Thresholds</h2>", _thresholds_table(report),
        f"<h2>Overall metrics ({_e(report.task)})</h2>", _overall_table(report),
        *_task_sections(report),
        f"<h2>Slices by {_e(report.main_metric)} "
        f"({_e(direction_text(report.main_metric))}, worst first)</h2>",
        _slice_charts(report),
        _slices_table(report),
        *(["<h2>Fairness</h2>", fairness_section(report.fairness, "fairness")]
          if report.fairness else []),
        "<h2>Feature attributions</h2>", _attributions_section(report.attributions),
        "<h2>Training data (TFDV statistics, train split)</h2>", _data_table(report),
        "<h2>Lineage</h2>", _lineage_table(report),
        _monitoring_section(report),
    ])


def _thresholds_table(report: Report) -> str:
    rows = ["<table id='thresholds'><tr><th>metric</th><th>kind</th><th>value</th><th>bound</th>"
            "<th>result</th><th>margin</th></tr>"]
    for check in report.thresholds:
        result = result_badge(check.passed)
        rows.append(f"<tr><td>{_e(check.metric)}</td><td>{_e(check.kind)}</td>"
                    f"<td>{number(check.value)}</td>"
                    f"<td>{check.comparison} {number(check.bound)}</td>"
                    f"<td>{result}</td><td>{signed(check.margin)}</td></tr>")
    return "".join(rows) + "</table>"


def _task_sections(report: Report) -> List[str]:
    """The charts of the label's task: binary curves and the confusion matrix at 0.5;
    multiclass per-class precision/recall and the confusion matrix as a heatmap; regression the
    predicted-vs-actual plot."""
    if report.task == "multiclass":
        return ["<h2>Per class</h2>", _per_class_table(report),
                "<h2>Confusion matrix</h2>", _class_confusion(report.class_confusion)]
    if report.task == "regression":
        return ["<h2>Predicted vs actual</h2><div class='charts'>",
                _predicted_vs_actual(report.predicted_vs_actual), "</div>"]
    return ["<h2>Curves</h2><div class='charts'>",
            _line_chart("ROC curve", "false positive rate", "true positive rate", report.roc,
                        diagonal=True, chart_id="roc"),
            _line_chart("Precision-recall curve", "recall", "precision", report.pr,
                        chart_id="pr"),
            _line_chart("Calibration", "mean prediction", "observed rate",
                        [(p, label) for p, label, _ in report.calibration], diagonal=True,
                        markers=True, chart_id="calibration"),
            _confusion_matrix(report.confusion), "</div>"]


def _overall_table(report: Report) -> str:
    head = "<tr><th>metric</th><th>candidate</th>"
    head += "<th>baseline</th><th>change</th><th></th></tr>" if report.baseline else "</tr>"
    rows = [f"<table id='overall'>{head}"]
    for name in overall_metric_names(report):
        row = f"<tr><td>{_e(name)}</td><td>{number(report.candidate[name])}</td>"
        if report.baseline:
            base = report.baseline.get(name)
            change = report.candidate[name] - base if base is not None else None
            verdict = verdict_of_change(name, change)
            row += (f"<td>{number(base)}</td><td>{signed(change)}</td>"
                    f"<td class='{verdict}'>{verdict}</td>")
        rows.append(row + "</tr>")
    if not report.baseline:
        rows.append("<tr><td colspan='2' class='small'>no baseline model (first blessed "
                    "model)</td></tr>")
    return "".join(rows) + "</table>"


def _line_chart(title: str, x_label: str, y_label: str, points: Sequence[Tuple[float, float]],
                diagonal: bool = False, markers: bool = False, chart_id: str = "") -> str:
    def x(value):
        return PAD + value * (WIDTH - PAD - 10)

    def y(value):
        return HEIGHT - PAD - value * (HEIGHT - PAD - 25)
    parts = [f"<svg id='{chart_id}' role='img' aria-label='{_e(title)}' width='{WIDTH}' "
             f"height='{HEIGHT}' viewBox='0 0 {WIDTH} {HEIGHT}'>",
             f"<text x='{WIDTH / 2}' y='15' text-anchor='middle' font-weight='600'>"
             f"{_e(title)}</text>",
             f"<rect x='{PAD}' y='25' width='{WIDTH - PAD - 10}' height='{HEIGHT - PAD - 25}' "
             "fill='#fafbfd' stroke='#dadce0'/>"]
    for tick in (0, 0.5, 1):
        parts.append(f"<text x='{x(tick)}' y='{HEIGHT - PAD + 14}' text-anchor='middle'>"
                     f"{tick}</text>")
        parts.append(f"<text x='{PAD - 5}' y='{y(tick) + 4}' text-anchor='end'>{tick}</text>")
    parts.append(f"<text x='{WIDTH / 2}' y='{HEIGHT - 8}' text-anchor='middle'>"
                 f"{_e(x_label)}</text>")
    parts.append(f"<text x='12' y='{HEIGHT / 2}' text-anchor='middle' "
                 f"transform='rotate(-90 12 {HEIGHT / 2})'>{_e(y_label)}</text>")
    if diagonal:
        parts.append(f"<line x1='{x(0)}' y1='{y(0)}' x2='{x(1)}' y2='{y(1)}' stroke='#bdc1c6' "
                     "stroke-dasharray='4 3'/>")
    clipped = [(min(1, max(0, a)), min(1, max(0, b))) for a, b in points]
    if clipped:
        path = " ".join(f"{x(a):.1f},{y(b):.1f}" for a, b in sorted(clipped))
        parts.append(f"<polyline class='series' points='{path}' fill='none' stroke='#1a73e8' "
                     "stroke-width='2'/>")
        if markers:
            parts += [f"<circle cx='{x(a):.1f}' cy='{y(b):.1f}' r='3' fill='#1a73e8'/>"
                      for a, b in clipped]
    else:
        parts.append(f"<text x='{WIDTH / 2}' y='{HEIGHT / 2}' text-anchor='middle'>no data</text>")
    return "".join(parts) + "</svg>"


def _confusion_matrix(confusion) -> str:
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
        shade = int(235 - 160 * value / largest)
        left, top = 80 + column * size, 50 + row * size
        parts.append(f"<rect x='{left}' y='{top}' width='{size}' height='{size}' "
                     f"fill='rgb({shade},{shade + 10},255)' stroke='#fff'/>")
        ink = "#fff" if shade < 150 else "#1d2433"
        parts.append(f"<text x='{left + size / 2}' y='{top + size / 2}' text-anchor='middle' "
                     f"style='fill:{ink}'>{label} {value:,.0f}</text>")
    return "".join(parts) + "</svg>"


def _per_class_table(report: Report) -> str:
    """Precision and recall of each class, one-vs-rest (TFMA's binarized metrics), by name."""
    if not report.per_class:
        return "<p class='small'>no per-class metrics recorded</p>"
    rows = ["<table id='per-class'><tr><th>class</th><th>precision</th><th>recall</th></tr>"]
    rows += [f"<tr><td>{_e(name)}</td><td>{number(values.get('precision'))}</td>"
             f"<td>{number(values.get('recall'))}</td></tr>"
             for name, values in report.per_class.items()]
    return "".join(rows) + "</table>"


def _class_confusion(confusion: dict) -> str:
    """The multi-class confusion matrix as a heatmap table: rows actual, columns predicted, the
    shade of each cell its share of the actual class's examples."""
    if not confusion:
        return "<p class='small'>no confusion matrix recorded</p>"
    rows = ["<table id='class-confusion'><tr><th>actual \\ predicted</th>"
            + "".join(f"<th>{_e(name)}</th>" for name in confusion["predicted"]) + "</tr>"]
    for name, counts in zip(confusion["classes"], confusion["matrix"]):
        total = sum(counts) or 1.0
        cells = []
        for count in counts:
            shade = int(245 - 170 * count / total)
            ink = "#fff" if shade < 150 else "#1d2433"
            cells.append(f"<td class='cell' style='background:rgb({shade},{min(shade + 10, 255)},"
                         f"255);color:{ink}'>{count:,.0f}</td>")
        rows.append(f"<tr><th>{_e(name)}</th>{''.join(cells)}</tr>")
    return "".join(rows) + "</table>"


def _predicted_vs_actual(points) -> str:
    """`points`: the report's (prediction, label, examples, low, high) buckets."""
    return predicted_vs_actual_svg([(p, label, n) for p, label, n, _, _ in points])


def _slice_charts(report: Report) -> str:
    by_feature = {}
    for row in report.slices:
        by_feature.setdefault(row.feature, []).append(row)
    charts = []
    for feature, rows in sorted(by_feature.items()):
        rows = sorted(rows, key=lambda r: (not r.value.lstrip("-").isdigit(),
                                           int(r.value) if r.value.lstrip("-").isdigit() else 0,
                                           r.value))
        bar_height, label_width, chart_width = 16, 150, 520
        height = 30 + bar_height * len(rows)
        # Bars span [0, 1] for rates; [0, the largest value] for rmse, log_loss and the like.
        largest = max([1.0] + [row.metrics[report.main_metric] for row in rows
                               if finite(row.metrics.get(report.main_metric))])
        parts = [f"<svg class='slice-chart' role='img' aria-label='{_e(feature)}' "
                 f"width='{chart_width}' height='{height}' viewBox='0 0 {chart_width} {height}'>",
                 f"<text x='0' y='14' font-weight='600'>{_e(feature)}</text>"]
        for i, row in enumerate(rows):
            value = row.metrics.get(report.main_metric)
            top = 22 + i * bar_height
            width = (chart_width - label_width - 110) * (value / largest if finite(value) else 0)
            colour = "#bdc1c6" if row.too_small else "#1a73e8"
            parts.append(f"<text x='{label_width - 6}' y='{top + 11}' text-anchor='end'>"
                         f"{_e(row.value)}</text>")
            parts.append(f"<rect x='{label_width}' y='{top}' width='{max(width, 0):.1f}' "
                         f"height='{bar_height - 3}' fill='{colour}'/>")
            parts.append(f"<text x='{label_width + max(width, 0) + 4:.1f}' y='{top + 11}'>"
                         f"{number(value)} (n={row.example_count:,.0f})</text>")
        charts.append("".join(parts) + "</svg>")
    return "<div class='charts'>" + "".join(charts) + "</div>"


def _slices_table(report: Report) -> str:
    if not report.slices:
        return "<p class='small' id='slices'>no slices configured</p>"
    companion = captions.slice_companion(report.task, report.main_metric)
    rows = [f"<table id='slices'><tr><th>slice</th><th>examples</th><th>{_e(report.main_metric)}"
            f"</th><th>{_e(companion)}</th><th>note</th></tr>"]
    for row in report.slices:
        note = "<span class='small'>too small to trust</span>" if row.too_small else ""
        rows.append(f"<tr><td>{_e(row.feature)} = {_e(row.value)}</td>"
                    f"<td>{row.example_count:,.0f}</td>"
                    f"<td>{number(row.metrics.get(report.main_metric))}</td>"
                    f"<td>{number(row.metrics.get(companion))}</td><td>{note}</td></tr>")
    return "".join(rows) + "</table>"


def _attributions_section(attributions: dict) -> str:
    """The raw features ranked by mean metric drop when shuffled: bars from a zero line, a
    whisker for ± one standard deviation over the shuffles."""
    rows = attributions.get("features", []) if attributions else []
    if not rows:
        return "<p class='small'>no feature attributions recorded for this run</p>"
    bar_height, label_width, chart_width, value_width = 18, 170, 620, 130
    scale_width = chart_width - label_width - value_width

    means = [row["mean_drop"] if finite(row.get("mean_drop")) else 0.0 for row in rows]
    stds = [row["std_drop"] if finite(row.get("std_drop")) else 0.0 for row in rows]
    low = min([0.0] + [m - s for m, s in zip(means, stds)])
    high = max([0.0] + [m + s for m, s in zip(means, stds)])
    span = (high - low) or 1.0

    def x(value):
        return label_width + scale_width * (value - low) / span
    height = 34 + bar_height * len(rows)
    parts = [f"<p>{_e(captions.attributions_caption(attributions))}</p>",
             f"<svg id='attributions-chart' role='img' aria-label='feature attributions' "
             f"width='{chart_width}' height='{height}' viewBox='0 0 {chart_width} {height}'>",
             f"<text x='0' y='14' font-weight='600'>"
             f"{captions.change_word(attributions)} in "
             f"{_e(attributions.get('metric', '?'))} when shuffled</text>"]
    for i, (row, mean, std) in enumerate(zip(rows, means, stds)):
        top = 24 + i * bar_height
        left, right = sorted((x(0.0), x(mean)))
        colour = "#1a73e8" if mean >= 0 else "#bdc1c6"
        parts.append(f"<text x='{label_width - 6}' y='{top + 12}' text-anchor='end'>"
                     f"{_e(row['feature'])}</text>")
        parts.append(f"<rect class='attribution' x='{left:.1f}' y='{top}' "
                     f"width='{right - left:.1f}' height='{bar_height - 4}' fill='{colour}'/>")
        if std > 0:
            middle = top + (bar_height - 4) / 2
            parts.append(f"<line x1='{x(mean - std):.1f}' y1='{middle:.1f}' "
                         f"x2='{x(mean + std):.1f}' y2='{middle:.1f}' stroke='#3c4043'/>")
        parts.append(f"<text x='{label_width + scale_width + 6}' y='{top + 12}'>"
                     f"{signed(row.get('mean_drop'))} ± "
                     f"{number(row.get('std_drop'))}</text>")
    parts.append(f"<line x1='{x(0.0):.1f}' y1='20' x2='{x(0.0):.1f}' y2='{height}' "
                 "stroke='#3c4043' stroke-dasharray='4 3'/>")
    return "".join(parts) + "</svg>"


def _sparkline(values: List[float]) -> str:
    if not values:
        return ""
    top = max(values) or 1
    width = 120 / len(values)
    bars = "".join(f"<rect x='{i * width:.1f}' y='{24 - 22 * v / top:.1f}' "
                   f"width='{max(width - 1, 1):.1f}' height='{22 * v / top:.1f}' fill='#5f6368'/>"
                   for i, v in enumerate(values))
    return f"<svg class='spark' width='120' height='24' viewBox='0 0 120 24'>{bars}</svg>"


def _data_table(report: Report) -> str:
    if not report.data:
        return "<p class='small'>no statistics found for this run</p>"
    rows = ["<table id='data'><tr><th>feature</th><th>type</th><th>missing</th>"
            "<th>distribution</th><th></th><th>anomaly</th></tr>"]
    for feature in report.data:
        anomaly = (f"<span class='badge fail'>{_e(feature.anomaly)}</span>"
                   if feature.anomaly else "none")
        rows.append(f"<tr><td>{_e(feature.name)}</td><td>{_e(feature.type)}</td>"
                    f"<td>{feature.missing_rate:.1%}</td><td class='mono'>{_e(feature.summary)}"
                    f"</td><td>{_sparkline(feature.histogram)}</td><td>{anomaly}</td></tr>")
    return "".join(rows) + "</table>"


def _lineage_table(report: Report) -> str:
    rows = ["<table id='lineage'>"]
    rows += [f"<tr><td>{_e(key)}</td><td class='mono'>{_e(value)}</td></tr>"
             for key, value in report.lineage.items()]
    rows.append(f"<tr><td>evaluation</td><td class='mono'>{_e(report.evaluation_uri)}</td></tr>")
    return "".join(rows) + "</table>"


def _monitoring_section(report: Report) -> str:
    """The pushed version since: its `mlpipe monitor` results, and the newest one's drift."""
    if not report.monitored_version:
        return ""
    parts = [f"<h2>Monitoring of version {_e(report.monitored_version)}</h2>"]
    if not report.monitoring:
        return parts[0] + ("<p class='small'>no <code>mlpipe monitor</code> results for this "
                           "version yet</p>")
    parts.append("<table id='monitoring'><tr><th>monitored at</th><th>data</th><th>rows</th>"
                 "<th>verdict</th><th>drifted</th><th>schema anomalies</th>"
                 "<th>evaluation</th></tr>")
    for result in report.monitoring:
        verdict = ("<span class='badge fail'>ALARM</span>" if result.get("alarm")
                   else "<span class='badge pass'>OK</span>")
        evaluation = result.get("evaluation") or {}
        metrics = ", ".join(f"{_e(name)} {number(value)}"
                            for name, value in evaluation.get("metrics", {}).items()
                            if name != "example_count")
        if evaluation:
            metrics += " (" + _e("; ".join(evaluation.get("failed") or ["KPI met"])) + ")"
        parts.append(
            f"<tr><td>{_e(result.get('monitored_at', '?'))}</td>"
            f"<td class='mono'>{_e(pathlib.Path(str(result.get('data', '?'))).name)}</td>"
            f"<td>{result.get('rows', 0):,}</td><td>{verdict}</td>"
            f"<td>{_e(', '.join(result.get('drifted_features', [])) or 'none')}</td>"
            f"<td>{_e(', '.join(result.get('anomalous_features', [])) or 'none')}</td>"
            f"<td>{metrics or '-'}</td></tr>")
    parts.append("</table>")
    newest = report.monitoring[0]
    parts.append(f"<p>Newest: {_e(newest.get('data', '?'))}, "
                 f"{_e(newest.get('environment', '?'))} environment, against "
                 f"<span class='mono'>{_e(newest.get('training_statistics', '?'))}</span></p>")
    parts.append(_drift_chart(newest.get("drift", [])))
    parts.append(_drift_moves(newest.get("drift", [])))
    anomalies = newest.get("anomalies", [])
    if anomalies:
        parts.append("<ul id='monitor-anomalies'>" + "".join(
            f"<li><b>{_e(a['feature'])}</b>: {_e(a['short'])}: {_e(a['description'])}</li>"
            for a in anomalies) + "</ul>")
    return "".join(parts)


# Measures as results name them: today's (mlpipe.core.drift) and TFDV's of older results.
_MEASURE_LABELS = {"PSI": "PSI", "L-infinity": "L-inf", "L_INFTY": "L-inf",
                   "JENSEN_SHANNON_DIVERGENCE": "JS"}


def _drift_moves(drift: List[dict]) -> str:
    """What moved on each drifted feature: quantiles or value shares, then and now."""
    moves = [f"<li><b>{_e(d['feature'])}</b>: {_e(describe_move(d['measure'], d['moved']))}</li>"
             for d in drift if d.get("drifted") and d.get("moved")]
    return f"<ul id='drift-moved'>{''.join(moves)}</ul>" if moves else ""


def _drift_chart(drift: List[dict]) -> str:
    """Each feature's distance as a fraction of its threshold; the line at 1 is the threshold."""
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
        measure = _MEASURE_LABELS.get(d["measure"], d["measure"])
        parts.append(f"<text x='{label_width - 6}' y='{top + 11}' text-anchor='end'>"
                     f"{_e(d['feature'])}</text>")
        parts.append(f"<rect x='{label_width}' y='{top}' width='{width:.1f}' "
                     f"height='{bar_height - 3}' fill='{'#d93025' if ratio > 1 else '#1e8e3e'}'/>")
        parts.append(f"<text x='{label_width + width + 4:.1f}' y='{top + 11}'>"
                     f"{measure} {d['value']:.4f} (threshold {d['threshold']:g})</text>")
    parts.append(f"<line x1='{threshold_x:.1f}' y1='20' x2='{threshold_x:.1f}' "
                 f"y2='{height}' stroke='#3c4043' stroke-dasharray='4 3'/>")
    return "".join(parts) + "</svg>"
