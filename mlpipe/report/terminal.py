"""Plain-text renderings of a Report (and of two, side by side) for terminals and CI logs."""

import dataclasses
import pathlib
from typing import Optional

from mlpipe.config.metrics import HIGHER_IS_BETTER, LOWER_IS_BETTER, METRICS_BY_TASK
from mlpipe.core import captions, strict_json
from mlpipe.core.formats import finite, number, signed
from mlpipe.report.loader import Report

OVERALL_METRICS = ["auc", "auc_precision_recall", "binary_accuracy", "precision", "recall",
                   "calibration", "mean_label", "mean_prediction", "example_count"]
# The overall metrics shown, by task, in reading order (example_count last).
OVERALL_METRICS_BY_TASK = {
    "binary": OVERALL_METRICS,
    **{task: [name for name in metrics.values() if name != "example_count"] + ["example_count"]
       for task, metrics in METRICS_BY_TASK.items() if task != "binary"},
}
SLICE_ROWS_SHOWN = 15
MONITOR_ROWS_SHOWN = 5
PREDICTED_ROWS_SHOWN = 12


def render_text(report: Report) -> str:
    lines = [f"Evaluation of run {report.run_id} ({report.pipeline})"
             + (f", span {report.span}" if report.span is not None else ""),
             f"Decision: {_decision(report)}", "",
             *captions.threshold_lines([dataclasses.asdict(check) for check in report.thresholds])]
    lines += ["", f"Overall metrics ({report.task}):"
              + ("" if report.baseline else "  (no baseline model)")]
    header = f"  {'metric':<22}{'candidate':>12}"
    if report.baseline:
        header += f"{'baseline':>12}{'change':>12}"
    lines.append(header)
    for name in overall_metric_names(report):
        row = f"  {name:<22}{number(report.candidate[name]):>12}"
        if report.baseline and name in report.baseline:
            change = report.candidate[name] - report.baseline[name]
            row += (f"{number(report.baseline[name]):>12}"
                    f"{signed(change):>12}{_spaced(verdict_of_change(name, change))}")
        lines.append(row)
    lines += _task_lines(report)
    companion = captions.slice_companion(report.task, report.main_metric)
    lines += ["", f"Slices, worst first by {report.main_metric} "
                  f"({direction_text(report.main_metric)}):"]
    lines.append(f"  {'slice':<36}{'examples':>10}{report.main_metric:>12}{companion:>20}")
    for row in report.slices[:SLICE_ROWS_SHOWN]:
        note = "  (too small to trust)" if row.too_small else ""
        lines.append(f"  {row.feature + ' = ' + row.value:<36}{row.example_count:>10.0f}"
                     f"{number(row.metrics.get(report.main_metric)):>12}"
                     f"{number(row.metrics.get(companion)):>20}{note}")
    if not report.slices:
        lines.append("  none configured")
    if len(report.slices) > SLICE_ROWS_SHOWN:
        lines.append(f"  ... {len(report.slices) - SLICE_ROWS_SHOWN} more (see --html or --json)")
    if report.fairness:
        lines += ["", *captions.fairness_lines(report.fairness)]
    lines += ["", *captions.attribution_lines(report.attributions)]
    lines += ["", "Lineage:"] + [f"  {key:<15} {value}" for key, value in report.lineage.items()]
    if report.monitored_version:
        lines += ["", f"Monitoring of version {report.monitored_version} (`mlpipe monitor`, "
                      "newest first):"]
        lines += [f"  {_monitoring_line(result)}"
                  for result in report.monitoring[:MONITOR_ROWS_SHOWN]]
        if not report.monitoring:
            lines.append("  no results yet")
    return "\n".join(lines)


def overall_metric_names(report: Report):
    """The overall metrics of the report's task that the evaluation has, in reading order."""
    names = OVERALL_METRICS_BY_TASK.get(report.task, OVERALL_METRICS)
    return [name for name in names if name in report.candidate]


def direction_text(metric: str) -> str:
    if metric in LOWER_IS_BETTER:
        return "lower is better"
    if metric in HIGHER_IS_BETTER:
        return "higher is better"
    return "no better direction"


def verdict_of_change(metric: str, change: Optional[float]) -> str:
    """'better' / 'worse' for a change (new minus old) of a metric with a direction, '' for a
    metric without one, no change or no number. A fall of rmse is better; of auc, worse."""
    if not finite(change) or change == 0:
        return ""
    if metric in LOWER_IS_BETTER:
        return "better" if change < 0 else "worse"
    if metric in HIGHER_IS_BETTER:
        return "better" if change > 0 else "worse"
    return ""


def _spaced(text: str) -> str:
    return f"  {text}" if text else ""


def _task_lines(report: Report):
    """multiclass: per-class precision and recall and the confusion matrix; regression: the
    predicted-vs-actual buckets' summary."""
    if report.task == "multiclass":
        return ["", *captions.per_class_lines(per_class_rows(report)),
                "", *captions.confusion_lines(report.class_confusion)]
    if report.task == "regression":
        return ["", *captions.predicted_lines([(p, label, n) for p, label, n, _, _
                                               in report.predicted_vs_actual],
                                              PREDICTED_ROWS_SHOWN)]
    return []


def per_class_rows(report: Report):
    """(class name, precision, recall) per class."""
    return [(name, values.get("precision"), values.get("recall"))
            for name, values in report.per_class.items()]


def _monitoring_line(result: dict) -> str:
    """One `mlpipe monitor` result in a line: when, what data, verdict, what crossed."""
    verdict = "ALARM" if result.get("alarm") else "OK"
    crossed = [f"drifted: {', '.join(result['drifted_features'])}"] if result.get(
        "drifted_features") else []
    if result.get("anomalous_features"):
        crossed.append(f"anomalies: {', '.join(result['anomalous_features'])}")
    evaluation = result.get("evaluation")
    if evaluation:
        metrics = ", ".join(f"{name} {number(value)}"
                            for name, value in evaluation.get("metrics", {}).items()
                            if name != "example_count")
        failed = len(evaluation.get("failed") or [])
        crossed.append(f"evaluation: {metrics} "
                       f"({f'{failed} threshold(s) crossed' if failed else 'KPI met'})")
    return (f"{result.get('monitored_at', '?')}  {verdict:<5}  "
            f"{pathlib.Path(str(result.get('data', '?'))).name} ({result.get('rows', 0):,} rows)"
            + (f"  {'; '.join(crossed)}" if crossed else ""))


def render_comparison(a: Report, b: Report) -> str:
    """A and B side by side; each change (B - A) says whether B is better or worse, by the
    metric's direction (a fall of rmse is better)."""
    lines = [f"{'':<24}{'A: ' + a.run_id[:19]:>24}{'B: ' + b.run_id[:19]:>24}{'B - A':>10}",
             f"  {'decision':<22}{_decision(a):>24}{_decision(b):>24}"]
    for name in overall_metric_names(a):
        if name in b.candidate:
            change = b.candidate[name] - a.candidate[name]
            lines.append(f"  {name:<22}{number(a.candidate[name]):>24}"
                         f"{number(b.candidate[name]):>24}{signed(change):>10}"
                         f"{_spaced(verdict_of_change(name, change))}")
    lines += ["", f"Per slice ({a.main_metric}, {direction_text(a.main_metric)}):"]
    b_slices = {(row.feature, row.value): row for row in b.slices}
    for row in a.slices:
        other = b_slices.get((row.feature, row.value))
        if other is None:
            continue
        va, vb = row.metrics.get(a.main_metric), other.metrics.get(a.main_metric)
        change = vb - va if finite(va) and finite(vb) else None
        lines.append(f"  {row.feature + ' = ' + row.value:<22}{number(va):>24}"
                     f"{number(vb):>24}"
                     f"{signed(change) if change is not None else 'n/a':>10}"
                     f"{_spaced(verdict_of_change(a.main_metric, change))}")
    return "\n".join(lines)


def render_json(report: Report, other: Optional[Report] = None) -> str:
    """Strict JSON (NaN -> null) with the same numbers as the text and HTML forms."""
    data = dataclasses.asdict(report) if other is None else {
        "a": dataclasses.asdict(report), "b": dataclasses.asdict(other)}
    return strict_json.dumps(data, indent=2)


def _decision(report: Report) -> str:
    return {True: "BLESSED", False: "NOT BLESSED", None: "no decision"}[report.blessed]
