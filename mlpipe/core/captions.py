"""The words the report (`mlpipe report`) and the model card (`model_card.html`, `mlpipe card`)
both put beside their numbers: what a feature attribution is, what the fairness checks judged,
which metric stands beside the main one, and the text tables of both for a terminal. The HTML
forms are in core.html, the charts in core.charts."""

from typing import List, Mapping, Optional, Sequence, Tuple

from mlpipe.core.formats import count, number, signed

# The slice table's second column, by task: the first of these that is not the main metric.
SLICE_COMPANIONS = {"binary": ["binary_accuracy", "auc"], "multiclass": ["accuracy", "log_loss"],
                    "regression": ["mean_absolute_error", "rmse"]}
NO_FAIRNESS = "no fairness checks in this run"
NO_ATTRIBUTIONS = "none recorded for this run"
ATTRIBUTION_ROWS_SHOWN = 20


def slice_companion(task: str, main_metric: str) -> str:
    """The metric shown beside the main one in slice tables."""
    return next(name for name in SLICE_COMPANIONS.get(task, SLICE_COMPANIONS["binary"])
                if name != main_metric)


# ----------------------------------------------------------------------------- thresholds
# Each check as core.thresholds.ThresholdCheck has it (a mapping of its fields: the card keeps
# them as JSON).

def threshold_kind(kind: Optional[str]) -> str:
    return "change vs baseline" if kind == "regression" else "value"


def threshold_lines(checks: Sequence[Mapping]) -> List[str]:
    """Every bound TFMA applied with its value, result and margin, for a terminal."""
    lines = ["Thresholds:" + ("" if checks else " none configured")]
    for check in checks:
        what = threshold_kind(check.get("kind"))
        if check.get("passed") is None:
            lines.append(f"  -    {check.get('metric', ''):<16} {what}: not checked "
                         "(no baseline model)")
            continue
        lines.append(f"  {'PASS' if check['passed'] else 'FAIL'} {check.get('metric', ''):<16} "
                     f"{what} {number(check.get('value'))} {check.get('comparison', '')} "
                     f"{number(check.get('bound'))}  (margin {signed(check.get('margin'))})")
    return lines


# ----------------------------------------------------------------------------- task tables

def per_class_lines(rows: Sequence[Tuple[str, Optional[float], Optional[float]]]) -> List[str]:
    """multiclass: (class name, precision, recall) per class, one-vs-rest, for a terminal."""
    lines = ["Per class (one-vs-rest):", f"  {'class':<24}{'precision':>12}{'recall':>12}"]
    lines += [f"  {str(name):<24}{number(precision):>12}{number(recall):>12}"
              for name, precision, recall in rows]
    return lines if rows else lines + ["  none recorded"]


def confusion_lines(confusion: dict) -> List[str]:
    """multiclass: the confusion matrix ({classes, predicted, matrix}) as a table, a row per
    actual class, a column per predicted class."""
    if not (confusion or {}).get("matrix"):
        return ["Confusion matrix: none recorded"]
    columns = [str(name) for name in confusion.get("predicted") or []]
    width = max([10] + [len(name) + 2 for name in columns])
    lines = ["Confusion matrix (rows: actual class, columns: predicted class):",
             f"  {'':<24}" + "".join(f"{name:>{width}}" for name in columns)]
    lines += [f"  {str(name):<24}" + "".join(f"{count(value):>{width}}" for value in values)
              for name, values in zip(confusion.get("classes") or [], confusion["matrix"])]
    return lines


def predicted_lines(points: Sequence[Tuple[float, float, float]],
                    rows_shown: Optional[int] = None) -> List[str]:
    """regression: (mean prediction, mean label, examples) per bucket of predicted value."""
    lines = ["Predicted vs actual (mean actual value per bucket of predicted value):"]
    if not points:
        return lines + ["  none recorded"]
    lines.append(f"  {'predicted':>12}{'actual':>12}{'examples':>10}")
    lines += [f"  {number(prediction):>12}{number(label):>12}{count(examples):>10}"
              for prediction, label, examples in points[:rows_shown]]
    if rows_shown is not None and len(points) > rows_shown:
        lines.append(f"  ... {len(points) - rows_shown} more buckets (see --html or --json)")
    return lines


# ----------------------------------------------------------------------------- attributions

def change_word(attributions: dict) -> str:
    """A lower-is-better metric (rmse) rises when a needed feature is shuffled."""
    return "rise" if (attributions or {}).get("lower_is_better") else "drop"


def attributions_caption(attributions: dict) -> str:
    """What the attribution numbers are, in one sentence."""
    return (f"Permutation importance: the {change_word(attributions)} in "
            f"{attributions.get('metric', '?')} (unshuffled "
            f"{number(attributions.get('unshuffled'))}) when one raw feature's values are "
            f"shuffled across {attributions.get('rows', 0):,} {attributions.get('split', 'eval')} "
            f"rows; mean ± std over {attributions.get('repeats', 0)} shuffles"
            + (" (a positive number: the model needs the feature)." if
               attributions.get("lower_is_better") else "."))


def attribution_lines(attributions: dict,
                      rows_shown: int = ATTRIBUTION_ROWS_SHOWN) -> List[str]:
    """The ranked attribution table for a terminal, or a line saying there is none."""
    rows = (attributions or {}).get("features") or []
    if not rows:
        return [f"Feature attributions: {NO_ATTRIBUTIONS}"]
    metric = attributions.get("metric", "?")
    change = change_word(attributions)
    lines = [f"Feature attributions, {change} in {metric} when a feature is shuffled "
             f"(permutation importance):",
             f"  {attributions.get('rows', 0):,} {attributions.get('split', 'eval')} rows, "
             f"{attributions.get('repeats', 0)} shuffles each; unshuffled {metric} "
             f"{number(attributions.get('unshuffled'))}",
             f"  {'feature':<28}{'mean ' + change:>12}{'std':>10}"]
    for row in rows[:rows_shown]:
        lines.append(f"  {row.get('feature', '?'):<28}{signed(row.get('mean_drop')):>12}"
                     f"{'±' + number(row.get('std_drop')):>10}")
    if len(rows) > rows_shown:
        lines.append(f"  ... {len(rows) - rows_shown} more (see --html or --json)")
    return lines


# ----------------------------------------------------------------------------- fairness
# The FairnessGate's fairness.json (mlpipe/components/fairness_gate), every number its own.

def fairness_verdict(fairness: dict) -> str:
    if fairness.get("passed"):
        return "PASSED"
    return "FAILED" if fairness.get("failures") else "no decision"


def fairness_caption(fairness: dict) -> str:
    return (f"{fairness.get('judged_slices', '?')} slice(s) judged, "
            f"{fairness.get('unjudged_slices', '?')} shown and not judged (under "
            f"{fairness.get('min_slice_size', '?')} examples, or rate undefined); "
            f"gap = slice value - overall value")


def fairness_result(row: dict) -> str:
    if not row.get("judged"):
        return f"not judged: {row.get('reason') or '?'}"
    return "pass" if row.get("passed") else "FAIL"


def fairness_slice(row: dict) -> str:
    return f"{row.get('feature', '?')} = {row.get('slice', '?')}"


def fairness_lines(fairness) -> List[str]:
    """The fairness table for a terminal, or one line saying there are no fairness checks."""
    if not fairness:
        return [f"Fairness: {NO_FAIRNESS}"]
    if not isinstance(fairness, dict) or "rows" not in fairness:
        return [f"Fairness: {fairness}"]
    lines = [f"Fairness: {fairness_verdict(fairness)} ({fairness_caption(fairness)})",
             f"  {'slice':<28}{'examples':>9}  {'metric':<12}{'value':>8}{'overall':>9}"
             f"{'gap':>9}  {'bound':<24}{'margin':>9}  result"]
    for row in fairness.get("rows", []):
        lines.append(
            f"  {fairness_slice(row):<28}{count(row.get('example_count')):>9}"
            f"  {row.get('metric', ''):<12}{number(row.get('value')):>8}"
            f"{number(row.get('overall')):>9}{signed(row.get('gap')):>9}"
            f"  {row.get('bound', ''):<24}{signed(row.get('margin')):>9}  {fairness_result(row)}")
    lines += [f"  refused: {failure}" for failure in fairness.get("failures") or []]
    return lines
