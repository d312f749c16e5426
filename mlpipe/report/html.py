"""One self-contained HTML file: styles inline, charts as inline SVG, no script, font or image
fetched from anywhere, so it opens offline in any browser and can be attached to a ticket."""

import dataclasses
import pathlib
from typing import List

from mlpipe.core import captions, charts
from mlpipe.core.drift import describe as describe_move
from mlpipe.core.formats import number, signed
from mlpipe.core.html import (FeatureView, SliceView, decision_badge, fairness_section,
                              features_table, page, per_class_table, slices_table,
                              thresholds_table)
from mlpipe.core.html import escape as _e
from mlpipe.report.loader import Report
from mlpipe.report.terminal import (direction_text, overall_metric_names, per_class_rows,
                                    verdict_of_change)



def render_html(report: Report) -> str:
    return page(f"Evaluation: {report.pipeline} {report.run_id}", [
        f"<h1>Evaluation of {_e(report.pipeline)}, run {_e(report.run_id)}"
        + (f", span {_e(report.span)}" if report.span is not None else "") + "</h1>",
        f"<p id='decision'>{decision_badge(report.blessed)}</p>",
        "<h2>Thresholds</h2>",
        thresholds_table([dataclasses.asdict(check) for check in report.thresholds]),
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


def _task_sections(report: Report) -> List[str]:
    """The charts of the label's task: binary curves and the confusion matrix at 0.5;
    multiclass per-class precision/recall and the confusion matrix as a heatmap; regression the
    predicted-vs-actual plot."""
    if report.task == "multiclass":
        return ["<h2>Per class</h2>", per_class_table(per_class_rows(report)),
                "<h2>Confusion matrix</h2>", charts.class_confusion_table(report.class_confusion)]
    if report.task == "regression":
        return ["<h2>Predicted vs actual</h2><div class='charts'>",
                _predicted_vs_actual(report.predicted_vs_actual), "</div>"]
    return ["<h2>Curves</h2><div class='charts'>",
            charts.line_chart("ROC curve", "false positive rate", "true positive rate",
                              report.roc, diagonal=True, chart_id="roc"),
            charts.line_chart("Precision-recall curve", "recall", "precision", report.pr,
                              chart_id="pr"),
            charts.line_chart("Calibration", "mean prediction", "observed rate",
                              [(p, label) for p, label, _ in report.calibration],
                              diagonal=True, markers=True, chart_id="calibration"),
            charts.binary_confusion_svg(report.confusion), "</div>"]


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


def _predicted_vs_actual(points) -> str:
    """`points`: the report's (prediction, label, examples, low, high) buckets."""
    return charts.predicted_vs_actual_svg([(p, label, n) for p, label, n, _, _ in points])


def _slice_charts(report: Report) -> str:
    """A chart per sliced feature, its values in their natural order."""
    by_feature = {}
    for row in report.slices:
        by_feature.setdefault(row.feature, []).append(row)
    drawn = []
    for feature, rows in sorted(by_feature.items()):
        rows = sorted(rows, key=lambda r: (not r.value.lstrip("-").isdigit(),
                                           int(r.value) if r.value.lstrip("-").isdigit() else 0,
                                           r.value))
        drawn.append(charts.slice_chart(feature, [
            SliceView(row.value, row.metrics.get(report.main_metric), None, row.example_count,
                      row.too_small) for row in rows]))
    return "<div class='charts'>" + "".join(drawn) + "</div>"


def _slices_table(report: Report) -> str:
    companion = captions.slice_companion(report.task, report.main_metric)
    return slices_table(report.main_metric, companion, [
        SliceView(f"{row.feature} = {row.value}", row.metrics.get(report.main_metric), None,
                  row.example_count, row.too_small, row.metrics.get(companion))
        for row in report.slices])


def _attributions_section(attributions: dict) -> str:
    """The caption, then the raw features ranked by mean metric drop when shuffled."""
    if not (attributions or {}).get("features"):
        return "<p class='small'>no feature attributions recorded for this run</p>"
    return (f"<p>{_e(captions.attributions_caption(attributions))}</p>"
            + charts.attributions_svg(attributions))


def _data_table(report: Report) -> str:
    if not report.data:
        return "<p class='small'>no statistics found for this run</p>"
    return features_table([FeatureView(feature.name, feature.type, feature.missing_rate,
                                       feature.summary, charts.sparkline(feature.histogram),
                                       feature.anomaly) for feature in report.data],
                          "data", charts=True, anomalies=True)


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
    parts.append(charts.drift_chart(newest.get("drift", [])))
    parts.append(_drift_moves(newest.get("drift", [])))
    anomalies = newest.get("anomalies", [])
    if anomalies:
        parts.append("<ul id='monitor-anomalies'>" + "".join(
            f"<li><b>{_e(a['feature'])}</b>: {_e(a['short'])}: {_e(a['description'])}</li>"
            for a in anomalies) + "</ul>")
    return "".join(parts)


def _drift_moves(drift: List[dict]) -> str:
    """What moved on each drifted feature: quantiles or value shares, then and now."""
    moves = [f"<li><b>{_e(d['feature'])}</b>: {_e(describe_move(d['measure'], d['moved']))}</li>"
             for d in drift if d.get("drifted") and d.get("moved")]
    return f"<ul id='drift-moved'>{''.join(moves)}</ul>" if moves else ""
