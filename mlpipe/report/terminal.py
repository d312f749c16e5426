"""Plain-text renderings of a Report (and of two, side by side) for terminals and CI logs."""

import dataclasses
import math
import pathlib
from typing import Optional

from mlpipe.core import strict_json
from mlpipe.report import fairness as fairness_checks
from mlpipe.report.loader import Report

OVERALL_METRICS = ["auc", "auc_precision_recall", "binary_accuracy", "precision", "recall",
                   "calibration", "mean_label", "mean_prediction", "example_count"]
SLICE_ROWS_SHOWN = 15
MONITOR_ROWS_SHOWN = 5
ATTRIBUTION_ROWS_SHOWN = 20


def render_text(report: Report) -> str:
    lines = [f"Evaluation of run {report.run_id} ({report.pipeline})",
             f"Decision: {_decision(report)}", "", "Thresholds:"]
    for check in report.thresholds:
        what = "change vs baseline" if check.kind == "regression" else "value"
        if check.passed is None:
            lines.append(f"  -    {check.metric:<16} {what}: not checked (no baseline model)")
            continue
        mark = "PASS" if check.passed else "FAIL"
        lines.append(f"  {mark} {check.metric:<16} {what} {format_number(check.value)} "
                     f"{check.comparison} {format_number(check.bound)}  (margin {format_signed(check.margin)})")
    lines += ["", "Overall metrics:" + ("" if report.baseline else "  (no baseline model)")]
    header = f"  {'metric':<22}{'candidate':>12}"
    if report.baseline:
        header += f"{'baseline':>12}{'change':>12}"
    lines.append(header)
    for name in OVERALL_METRICS:
        if name not in report.candidate:
            continue
        row = f"  {name:<22}{format_number(report.candidate[name]):>12}"
        if report.baseline and name in report.baseline:
            row += (f"{format_number(report.baseline[name]):>12}"
                    f"{format_signed(report.candidate[name] - report.baseline[name]):>12}")
        lines.append(row)
    lines += ["", f"Slices, worst first by {report.main_metric}:"]
    lines.append(f"  {'slice':<36}{'examples':>10}{report.main_metric:>10}{'accuracy':>10}")
    for row in report.slices[:SLICE_ROWS_SHOWN]:
        note = "  (too small to trust)" if row.too_small else ""
        lines.append(f"  {row.feature + ' = ' + row.value:<36}{row.example_count:>10.0f}"
                     f"{format_number(row.metrics.get(report.main_metric)):>10}"
                     f"{format_number(row.metrics.get('binary_accuracy')):>10}{note}")
    if len(report.slices) > SLICE_ROWS_SHOWN:
        lines.append(f"  ... {len(report.slices) - SLICE_ROWS_SHOWN} more (see --html or --json)")
    if report.fairness:
        lines += ["", *fairness_checks.text_lines(report.fairness)]
    lines += ["", *attribution_lines(report.attributions)]
    lines += ["", "Lineage:"] + [f"  {key:<15} {value}" for key, value in report.lineage.items()]
    if report.monitored_version:
        lines += ["", f"Monitoring of version {report.monitored_version} (`mlpipe monitor`, "
                      "newest first):"]
        lines += [f"  {_monitoring_line(result)}"
                  for result in report.monitoring[:MONITOR_ROWS_SHOWN]]
        if not report.monitoring:
            lines.append("  no results yet")
    return "\n".join(lines)


def attributions_caption(attributions: dict) -> str:
    """What the attribution numbers are, in one sentence (shared by the text and HTML forms)."""
    metric = attributions.get("metric", "?")
    return (f"Permutation importance: the drop in {metric} (unshuffled "
            f"{format_number(attributions.get('unshuffled'))}) when one raw feature's values are "
            f"shuffled across {attributions.get('rows', 0):,} {attributions.get('split', 'eval')} "
            f"rows; mean ± std over {attributions.get('repeats', 0)} shuffles.")


def attribution_lines(attributions: dict):
    """The ranked attribution table, or a line saying the run has none."""
    if not attributions:
        return ["Feature attributions: none recorded for this run"]
    rows = attributions.get("features", [])
    metric = attributions.get("metric", "?")
    lines = [f"Feature attributions, drop in {metric} when a feature is shuffled "
             f"(permutation importance):",
             f"  {attributions.get('rows', 0):,} {attributions.get('split', 'eval')} rows, "
             f"{attributions.get('repeats', 0)} shuffles each; unshuffled {metric} "
             f"{format_number(attributions.get('unshuffled'))}",
             f"  {'feature':<28}{'mean drop':>12}{'std':>10}"]
    for row in rows[:ATTRIBUTION_ROWS_SHOWN]:
        lines.append(f"  {row['feature']:<28}{format_signed(row.get('mean_drop')):>12}"
                     f"{'±' + format_number(row.get('std_drop')):>10}")
    if len(rows) > ATTRIBUTION_ROWS_SHOWN:
        lines.append(f"  ... {len(rows) - ATTRIBUTION_ROWS_SHOWN} more (see --html or --json)")
    return lines


def _monitoring_line(result: dict) -> str:
    """One `mlpipe monitor` result in a line: when, what data, verdict, what crossed."""
    verdict = "ALARM" if result.get("alarm") else "OK"
    crossed = [f"drifted: {', '.join(result['drifted_features'])}"] if result.get(
        "drifted_features") else []
    if result.get("anomalous_features"):
        crossed.append(f"anomalies: {', '.join(result['anomalous_features'])}")
    evaluation = result.get("evaluation")
    if evaluation:
        metrics = ", ".join(f"{name} {format_number(value)}"
                            for name, value in evaluation.get("metrics", {}).items()
                            if name != "example_count")
        failed = len(evaluation.get("failed") or [])
        crossed.append(f"evaluation: {metrics} "
                       f"({f'{failed} threshold(s) crossed' if failed else 'KPI met'})")
    return (f"{result.get('monitored_at', '?')}  {verdict:<5}  "
            f"{pathlib.Path(str(result.get('data', '?'))).name} ({result.get('rows', 0):,} rows)"
            + (f"  {'; '.join(crossed)}" if crossed else ""))


def render_comparison(a: Report, b: Report) -> str:
    lines = [f"{'':<24}{'A: ' + a.run_id[:19]:>24}{'B: ' + b.run_id[:19]:>24}{'B - A':>10}",
             f"  {'decision':<22}{_decision(a):>24}{_decision(b):>24}"]
    for name in OVERALL_METRICS:
        if name in a.candidate and name in b.candidate:
            lines.append(f"  {name:<22}{format_number(a.candidate[name]):>24}{format_number(b.candidate[name]):>24}"
                         f"{format_signed(b.candidate[name] - a.candidate[name]):>10}")
    lines += ["", f"Per slice ({a.main_metric}):"]
    b_slices = {(row.feature, row.value): row for row in b.slices}
    for row in a.slices:
        other = b_slices.get((row.feature, row.value))
        if other is None:
            continue
        va, vb = row.metrics.get(a.main_metric), other.metrics.get(a.main_metric)
        change = format_signed(vb - va) if _finite(va) and _finite(vb) else "n/a"
        lines.append(f"  {row.feature + ' = ' + row.value:<22}{format_number(va):>24}{format_number(vb):>24}"
                     f"{change:>10}")
    return "\n".join(lines)


def render_json(report: Report, other: Optional[Report] = None) -> str:
    """Strict JSON (NaN -> null) with the same numbers as the text and HTML forms."""
    data = dataclasses.asdict(report) if other is None else {
        "a": dataclasses.asdict(report), "b": dataclasses.asdict(other)}
    return strict_json.dumps(data, indent=2)


def _decision(report: Report) -> str:
    return {True: "BLESSED", False: "NOT BLESSED", None: "no decision"}[report.blessed]


def format_number(value: Optional[float]) -> str:
    if not _finite(value):
        return "n/a"
    return f"{value:,.0f}" if value == int(value) and abs(value) > 1 else f"{value:.4f}"


def format_signed(value: Optional[float]) -> str:
    return "n/a" if not _finite(value) else f"{value:+.4f}"


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)
