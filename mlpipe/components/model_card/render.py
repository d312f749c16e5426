"""A model card (the dict of `model_card.json`) as one self-contained HTML page, and as text.

Used by the ModelCard step (which writes `model_card.html` beside the pushed model) and by
`mlpipe card`. Pure Python on the card's own numbers: no TensorFlow, nothing recomputed. The
page has its styles inline and its charts as inline SVG drawn here from the card's numbers; it
has no script and loads nothing (no link, image, font or stylesheet URL), so it opens offline and
can be attached to a ticket. Every text from the card is HTML-escaped, references included:
they are shown as text, never as links.
"""

import base64
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from mlpipe.config.metrics import LOWER_IS_BETTER
from mlpipe.core import captions, charts
from mlpipe.core.formats import count, finite, interval, number, signed
from mlpipe.core.html import (FeatureView, SliceView, decision_badge, fairness_section,
                              features_table, page, per_class_table, slices_table,
                              thresholds_table)
from mlpipe.core.html import escape as _e

OVERALL = "Overall"
# Overall metrics in the order people read them (binary, multiclass and regression ones); others
# the card holds follow, by name.
METRIC_ORDER = ["auc", "auc_precision_recall", "binary_accuracy", "accuracy", "log_loss", "rmse",
                "mean_squared_error", "mean_absolute_error", "r_squared", "precision", "recall",
                "calibration", "mean_label", "mean_prediction", "example_count"]
SLICE_ROWS_SHOWN = 15
ATTRIBUTION_ROWS_SHOWN = 15
NOT_STATED = "not stated in the problem config"

# ----------------------------------------------------------------------------- reading a card

def overall_metrics(card: dict) -> Dict[str, dict]:
    """Metric type -> its overall entry (value, confidence_interval) in the card."""
    return {entry["type"]: entry for entry in _metrics(card) if entry.get("slice") == OVERALL}


def slice_rows(card: dict) -> List[dict]:
    """One row per slice other than overall: {slice, slice_key, metrics: type -> entry},
    worst first by the main metric, slices under min_slice_size last (their `too_small`)."""
    main = _evaluation(card).get("main_metric", "auc")
    sign = 1.0 if lower_is_better(card) else -1.0
    smallest = _evaluation(card).get("min_slice_size") or 0
    rows: Dict[str, dict] = {}
    for entry in _metrics(card):
        if entry.get("slice") == OVERALL:
            continue
        row = rows.setdefault(entry["slice"], {"slice": entry["slice"],
                                               "slice_key": entry.get("slice_key", []),
                                               "metrics": {}})
        row["metrics"][entry["type"]] = entry
    for row in rows.values():
        count = _value(row["metrics"].get("example_count"))
        row["example_count"] = count
        row["too_small"] = count is None or count < smallest

    def worst_first(row):
        # The lowest value of a higher-is-better metric first, the highest of a lower-is-better
        # one (rmse); slices without a value, then those too small to trust, last.
        value = _value(row["metrics"].get(main))
        return (row["too_small"], value is None, 0.0 if value is None else -sign * value,
                row["slice"])
    return sorted(rows.values(), key=worst_first)


def task(card: dict) -> str:
    return _evaluation(card).get("task") or "binary"


def lower_is_better(card: dict) -> bool:
    """Whether the main metric is better lower (rmse, log_loss): the card says so; cards
    written before it did are judged by the metric's name."""
    evaluation = _evaluation(card)
    if "lower_is_better" in evaluation:
        return bool(evaluation["lower_is_better"])
    return evaluation.get("main_metric", "auc") in LOWER_IS_BETTER


def direction_text(card: dict) -> str:
    return "lower is better" if lower_is_better(card) else "higher is better"


def slice_companion(card: dict) -> str:
    return captions.slice_companion(task(card), _evaluation(card).get("main_metric", "auc"))


def per_class_rows(card: dict) -> List[dict]:
    """multiclass: {class, class_id, precision, recall} per class, in class-id order."""
    rows: Dict[int, dict] = {}
    for entry in card.get("quantitative_analysis", {}).get("per_class_metrics") or []:
        row = rows.setdefault(entry.get("class_id", 0), {"class": entry.get("class", "?"),
                                                        "class_id": entry.get("class_id", 0)})
        row[entry["type"]] = entry.get("value")
    return [rows[key] for key in sorted(rows)]


def _per_class(card: dict) -> List[tuple]:
    return [(row["class"], row.get("precision"), row.get("recall")) for row in per_class_rows(card)]


def _metrics(card: dict) -> List[dict]:
    return card.get("quantitative_analysis", {}).get("performance_metrics", [])


def _evaluation(card: dict) -> dict:
    return card.get("evaluation") or {}


def _value(entry: Optional[dict]) -> Optional[float]:
    if not entry:
        return None
    value = entry.get("value")
    return float(value) if finite(value) else None


def _interval(entry: Optional[dict]) -> Optional[Tuple[float, float]]:
    interval = (entry or {}).get("confidence_interval")
    if not interval:
        return None
    low, high = interval.get("lower_bound"), interval.get("upper_bound")
    return (float(low), float(high)) if finite(low) and finite(high) else None


def _ordered(names: Iterable[str]) -> List[str]:
    names = list(names)
    return ([name for name in METRIC_ORDER if name in names]
            + sorted(name for name in names if name not in METRIC_ORDER))


# ----------------------------------------------------------------------------- numbers

def interval_text(entry: Optional[dict]) -> str:
    return interval(_interval(entry))


def decision(card: dict) -> str:
    blessed = _evaluation(card).get("blessed")
    return {True: "BLESSED", False: "NOT BLESSED"}.get(blessed, "NO DECISION")


# ----------------------------------------------------------------------------- HTML

def render_html(card: dict) -> str:
    details = card.get("model_details", {})
    name = details.get("name", "model")
    version = details.get("version", {})
    return page(f"Model card: {name} {version.get('name', '')}", [
        f"<h1>Model card: {_e(name)}</h1>",
        f"<p id='version'>version <b>{_e(version.get('name', '?'))}</b>, "
        f"{_e(version.get('date', '?'))} "
        f"{decision_badge(_evaluation(card).get('blessed'))}</p>",
        "<h2 id='model-details'>Model details</h2>", _details_html(card),
        "<h2 id='considerations'>Considerations</h2>", _considerations_html(card),
        "<h2 id='model-parameters'>Model parameters</h2>", _parameters_html(card),
        "<h2 id='datasets'>Datasets (TFDV statistics)</h2>", _datasets_html(card),
        "<h2 id='quantitative-analysis'>Quantitative analysis</h2>",
        _overall_html(card), _thresholds_html(card),
        *_task_html(card),
        "<div class='charts'>", *([roc_svg(card)] if task(card) == "binary" else []),
        slice_svg(card), "</div>",
        _slices_html(card),
        "<h2 id='fairness'>Fairness</h2>", fairness_section(card.get("fairness")),
        "<h2 id='feature-attributions'>Feature attributions</h2>",
        _attributions_html(card.get("feature_attributions")),
        "<h2 id='references'>References</h2>", _references_html(card),
        f"<p class='small'>Written by the pipeline's ModelCard step; field names follow the "
        f"Model Card Toolkit schema. Evaluation: <span class='mono'>"
        f"{_e(_evaluation(card).get('uri', '?'))}</span></p>",
    ])


def _list_html(items: Sequence[str], element_id: str) -> str:
    if not items:
        return f"<p class='small' id='{element_id}'>{NOT_STATED}</p>"
    return f"<ul id='{element_id}'>" + "".join(f"<li>{_e(item)}</li>" for item in items) + "</ul>"


def _descriptions(items) -> List[str]:
    return [item.get("description", "") if isinstance(item, dict) else str(item)
            for item in items or []]


def _details_html(card: dict) -> str:
    details = card.get("model_details", {})
    owners = details.get("owners", [])
    owner_text = ("; ".join(f"{o.get('name', '')}" + (f" ({o['contact']})" if o.get("contact")
                                                       else "") for o in owners)
                  or NOT_STATED)
    rows = [("Name", details.get("name", "?")), ("Overview", details.get("overview") or NOT_STATED),
            ("Version", details.get("version", {}).get("name", "?")),
            ("Date", details.get("version", {}).get("date", "?")), ("Owners", owner_text),
            ("Pushed to", details.get("path", "?"))]
    return ("<dl id='details'>" + "".join(f"<dt>{_e(key)}</dt><dd>{_e(value)}</dd>"
                                         for key, value in rows) + "</dl>")


def _considerations_html(card: dict) -> str:
    considerations = card.get("considerations", {})
    parts = ["<h3>Intended use</h3>",
             _list_html(_descriptions(considerations.get("use_cases")), "use-cases"),
             "<h3>Users</h3>", _list_html(_descriptions(considerations.get("users")), "users"),
             "<h3>Limitations</h3>",
             _list_html(_descriptions(considerations.get("limitations")), "limitations")]
    tradeoffs = _descriptions(considerations.get("tradeoffs"))
    if tradeoffs:
        parts += ["<h3>Tradeoffs</h3>", _list_html(tradeoffs, "tradeoffs")]
    parts.append("<h3>Ethical considerations</h3>")
    ethical = considerations.get("ethical_considerations") or []
    if not ethical:
        parts.append(f"<p class='small' id='ethical'>{NOT_STATED}</p>")
    else:
        parts.append("<table id='ethical'><tr><th>risk</th><th class='text'>mitigation</th></tr>"
                     + "".join(f"<tr><td>{_e(item.get('name', ''))}</td><td class='text'>"
                               f"{_e(item.get('mitigation_strategy') or 'no mitigation stated')}"
                               "</td></tr>" for item in ethical) + "</table>")
    return "".join(parts)


def _parameters_html(card: dict) -> str:
    parameters = card.get("model_parameters", {})
    rows = [("Architecture", parameters.get("model_architecture", "?")),
            ("Input format", parameters.get("input_format", "?")),
            ("Output format", parameters.get("output_format", "?"))]
    hyper = parameters.get("hyperparameters") or {}
    if hyper:
        rows.append(("Hyperparameters", ", ".join(f"{key} {value}"
                                                  for key, value in sorted(hyper.items()))))
    return ("<dl id='parameters'>" + "".join(f"<dt>{_e(key)}</dt><dd>{_e(value)}</dd>"
                                            for key, value in rows) + "</dl>")


def _datasets_html(card: dict) -> str:
    data = card.get("model_parameters", {}).get("data", {})
    if not data:
        return "<p class='small'>no statistics recorded for this run</p>"
    parts = []
    for split, dataset in data.items():
        parts.append(f"<h3>{_e(split)}</h3><p>{_e(dataset.get('description', ''))}</p>")
        features = dataset.get("features", [])
        if features:
            parts.append(features_table(
                [FeatureView(f.get("name", ""), f.get("type", ""), f.get("missing_rate"),
                             f.get("summary", "")) for f in features], f"data-{split}"))
    return "".join(parts)


def _overall_html(card: dict) -> str:
    overall = overall_metrics(card)
    method = card.get("quantitative_analysis", {}).get("confidence_intervals") or {}
    note = (f"95% confidence intervals computed by TFMA ({_e(method.get('method', '?'))})"
            if method.get("computed") else
            "no confidence intervals computed (evaluation.confidence_intervals is off)")
    rows = [f"<h3>Overall (eval split)</h3><p class='small'>{note}</p>"
            "<table id='overall'><tr><th>metric</th><th>value</th><th>95% interval</th></tr>"]
    for name in _ordered(overall):
        entry = overall[name]
        rows.append(f"<tr><td>{_e(name)}</td><td>{number(entry.get('value'))}</td>"
                    f"<td>{_e(interval_text(entry))}</td></tr>")
    return "".join(rows) + "</table>"


def _thresholds_html(card: dict) -> str:
    return "<h3>Thresholds</h3>" + thresholds_table(card.get("thresholds") or [])


def _task_html(card: dict) -> List[str]:
    """multiclass: per-class precision and recall, and the confusion matrix as a heatmap;
    regression: the predicted-vs-actual plot; binary: nothing more (its ROC curve is drawn
    beside the slices)."""
    if task(card) == "multiclass":
        return ["<h3>Per class (one-vs-rest)</h3>", per_class_table(_per_class(card)),
                "<h3>Confusion matrix</h3><div class='charts'>", confusion_svg(card), "</div>"]
    if task(card) == "regression":
        return ["<h3>Predicted vs actual</h3><div class='charts'>", predicted_svg(card),
                "</div>"]
    return []


def _slices_html(card: dict) -> str:
    main = _evaluation(card).get("main_metric", "auc")
    rows = _slice_views(card)
    title = (f"<h3>Slices, worst first by {_e(main)} ({direction_text(card)})</h3>" if rows
             else "<h3>Slices</h3>")
    return title + slices_table(main, slice_companion(card), rows, intervals=True)


def _slice_views(card: dict) -> List[SliceView]:
    """Every slice, worst first, as the slice table and chart show it."""
    main = _evaluation(card).get("main_metric", "auc")
    companion = slice_companion(card)
    return [SliceView(row["slice"], _value(row["metrics"].get(main)),
                      _interval(row["metrics"].get(main)), row["example_count"],
                      row["too_small"], _value(row["metrics"].get(companion)))
            for row in slice_rows(card)]


def _attributions_html(attributions) -> str:
    if not attributions or not attributions.get("features"):
        return "<p class='small' id='attributions-none'>no feature attributions recorded</p>"
    rows = attributions["features"]
    parts = [f"<p>{_e(captions.attributions_caption(attributions))}</p>",
             attributions_svg(attributions),
             f"<table id='attributions'><tr><th>feature</th><th>mean "
             f"{captions.change_word(attributions)}</th><th>std</th></tr>"]
    parts += [f"<tr><td>{_e(row.get('feature', '?'))}</td><td>{signed(row.get('mean_drop'))}"
              f"</td><td>{number(row.get('std_drop'))}</td></tr>" for row in rows]
    return "".join(parts) + "</table>"


def _references_html(card: dict) -> str:
    references = [item.get("reference", "") if isinstance(item, dict) else str(item)
                  for item in card.get("model_details", {}).get("references", [])]
    return _list_html(references, "reference-list")


# ----------------------------------------------------------------------------- charts

def roc_svg(card: dict) -> str:
    """The overall ROC curve (TFMA's confusion matrices at thresholds), with the diagonal."""
    return charts.line_chart("ROC curve (overall)", "false positive rate", "true positive rate",
                             card.get("quantitative_analysis", {}).get("roc_curve") or [],
                             diagonal=True, chart_id="roc")


def confusion_svg(card: dict) -> str:
    """multiclass: the overall confusion matrix as a heatmap."""
    return charts.class_confusion_svg(
        card.get("quantitative_analysis", {}).get("confusion_matrix") or {})


def predicted_svg(card: dict) -> str:
    """regression: the predicted-vs-actual chart of the overall slice."""
    points = [(p["mean_prediction"], p["mean_label"], p.get("examples") or 0.0)
              for p in card.get("quantitative_analysis", {}).get("predicted_vs_actual") or []
              if finite(p.get("mean_prediction")) and finite(p.get("mean_label"))]
    return charts.predicted_vs_actual_svg(points, "Predicted vs actual (overall)")


def slice_svg(card: dict) -> str:
    """The main metric of every slice, worst first, with its 95% interval and the overall
    value."""
    main = _evaluation(card).get("main_metric", "auc")
    return charts.slice_chart(f"{main} by slice (95% interval)",
                              _slice_views(card)[:SLICE_ROWS_SHOWN * 2],
                              overall=_value(overall_metrics(card).get(main)),
                              layout=charts.ALL_SLICES, chart_id="slice-chart")


def attributions_svg(attributions: dict) -> str:
    return charts.attributions_svg(attributions, ATTRIBUTION_ROWS_SHOWN)


def graphics(card: dict) -> Dict[str, Any]:
    """The Model Card Toolkit's `quantitative_analysis.graphics`: each chart as a base64 image
    (SVG here), for readers of the JSON; the HTML page draws the same charts inline."""
    drawn = {"binary": [("ROC curve (overall)", roc_svg(card))],
             "multiclass": [("Confusion matrix (overall)", confusion_svg(card))],
             "regression": [("Predicted vs actual (overall)", predicted_svg(card))],
             }.get(task(card), [])
    drawn.append((f"{_evaluation(card).get('main_metric', 'auc')} by slice", slice_svg(card)))
    if (card.get("feature_attributions") or {}).get("features"):
        drawn.append(("Feature attributions", attributions_svg(card["feature_attributions"])))
    return {"description": "SVG charts drawn from this card's numbers (base64).",
            "collection": [{"name": name,
                            "image": base64.b64encode(charts.standalone(svg)).decode()}
                           for name, svg in drawn]}


# ----------------------------------------------------------------------------- text

def render_text(card: dict) -> str:
    details = card.get("model_details", {})
    version = details.get("version", {})
    considerations = card.get("considerations", {})
    parameters = card.get("model_parameters", {})
    owners = "; ".join(o.get("name", "") + (f" <{o['contact']}>" if o.get("contact") else "")
                       for o in details.get("owners", [])) or NOT_STATED
    lines = [f"Model card: {details.get('name', '?')}, version {version.get('name', '?')} "
             f"({version.get('date', '?')})",
             f"Decision:  {decision(card)}; pushed to {details.get('path', '?')}",
             f"Overview:  {details.get('overview') or NOT_STATED}",
             f"Owners:    {owners}", ""]
    lines += _text_list("Intended use", _descriptions(considerations.get("use_cases")))
    lines += _text_list("Users", _descriptions(considerations.get("users")))
    lines += _text_list("Limitations", _descriptions(considerations.get("limitations")))
    if considerations.get("tradeoffs"):
        lines += _text_list("Tradeoffs", _descriptions(considerations.get("tradeoffs")))
    ethical = considerations.get("ethical_considerations") or []
    lines.append("Ethical considerations:" + ("" if ethical else f" {NOT_STATED}"))
    for item in ethical:
        lines += [f"  - {item.get('name', '')}",
                  f"    mitigation: {item.get('mitigation_strategy') or 'no mitigation stated'}"]
    lines += ["", f"Model:   {parameters.get('model_architecture', '?')}",
              f"Input:   {parameters.get('input_format', '?')}",
              f"Output:  {parameters.get('output_format', '?')}", "Data (TFDV statistics):"]
    for split, dataset in (parameters.get("data") or {}).items():
        lines.append(f"  {split:<6} {dataset.get('description', '')}")
    overall = overall_metrics(card)
    computed = (card.get("quantitative_analysis", {}).get("confidence_intervals")
                or {}).get("computed")
    lines += ["", "Overall metrics (eval split; " + (
        "95% confidence interval):" if computed else
        "no confidence intervals: evaluation.confidence_intervals is off):")]
    for name in _ordered(overall):
        lines.append(f"  {name:<22}{number(overall[name].get('value')):>10}"
                     + _spaced(interval_text(overall[name])))
    lines += _task_lines(card)
    lines += ["", *captions.threshold_lines(card.get("thresholds") or [])]
    main = _evaluation(card).get("main_metric", "auc")
    rows = slice_rows(card)
    lines += ["", f"Slices, worst first by {main} ({direction_text(card)}):"
              + ("" if rows else " none configured")]
    for row in rows[:SLICE_ROWS_SHOWN]:
        entry = row["metrics"].get(main)
        note = "  (too small to trust)" if row["too_small"] else ""
        lines.append(f"  {row['slice']:<36}{count(row['example_count']):>8}"
                     f"{number(_value(entry)):>10}{_spaced(interval_text(entry))}{note}")
    if len(rows) > SLICE_ROWS_SHOWN:
        lines.append(f"  ... {len(rows) - SLICE_ROWS_SHOWN} more (see --html or --json)")
    lines += ["", *captions.fairness_lines(card.get("fairness"))]
    lines += ["", *captions.attribution_lines(card.get("feature_attributions"),
                                              ATTRIBUTION_ROWS_SHOWN)]
    references = [item.get("reference", "") if isinstance(item, dict) else str(item)
                  for item in details.get("references", [])]
    lines += ["", *_text_list("References", references)]
    return "\n".join(lines).rstrip() + "\n"


def _task_lines(card: dict) -> List[str]:
    """multiclass: per-class precision/recall and the confusion matrix; regression: the
    predicted-vs-actual buckets."""
    quantitative = card.get("quantitative_analysis", {})
    if task(card) == "multiclass":
        return ["", *captions.per_class_lines(_per_class(card)),
                "", *captions.confusion_lines(quantitative.get("confusion_matrix") or {})]
    if task(card) == "regression":
        return ["", *captions.predicted_lines([
            (p.get("mean_prediction"), p.get("mean_label"), p.get("examples"))
            for p in quantitative.get("predicted_vs_actual") or []])]
    return []


def _spaced(text: str) -> str:
    return f"  {text}" if text else ""


def _text_list(title: str, items: Sequence[str]) -> List[str]:
    if not items:
        return [f"{title}: {NOT_STATED}"]
    if len(items) == 1 and title in ("Intended use",):
        return [f"{title}: {items[0]}"]
    return [f"{title}:", *(f"  - {item}" for item in items)]
