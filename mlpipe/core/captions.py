"""The words the report (`mlpipe report`) and the model card (`model_card.html`, `mlpipe card`)
both put beside their numbers: what a feature attribution is, what the fairness checks judged,
which metric stands beside the main one, and the text tables of both for a terminal. The HTML
forms are in core.html, the charts in core.charts."""

from typing import List

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
