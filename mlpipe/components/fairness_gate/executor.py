"""The FairnessGate executor: judges each slice of the sensitive features, then blesses or not.

`judge` is the whole rule, pure Python on the metrics TFMA computed (slice key -> metric ->
value): a slice with at least `min_slice_size` examples passes when each configured rate metric is
within its `max` / `min` and within `max_gap` of the overall value; a smaller slice is listed and
not judged, as is a slice whose rate is undefined (TFMA answers NaN when the rate's denominator is
zero, e.g. the false positive rate of a slice without negatives). Only `Executor.Do` reads
artifacts, through TFMA's loader and TFX's fileio, so it works on local paths and gs:// alike.
"""

import json
import logging
import math
import os
from typing import Any, Dict, List, Mapping, Optional, Tuple

from tfx.dsl.components.base import base_executor
from tfx.dsl.io import fileio
from tfx.types import artifact_utils

from mlpipe.components.fairness_gate.spec import (BLESSING_KEY, EVALUATION_KEY,
                                                  EVALUATOR_BLESSED_PROPERTY, FAIRNESS_FILE,
                                                  FAIRNESS_KEY, FAIRNESS_PASSED_PROPERTY,
                                                  MODEL_BLESSING_KEY, SPEC_KEY, JudgedFairness)
from mlpipe.core import strict_json
from mlpipe.core.lineage import candidate_model_name, metric_values

EXAMPLE_COUNT = "example_count"
# The ModelBlessing's meaning, as TFX's Evaluator writes it and TFX's Pusher and
# LatestBlessedModelStrategy read it (tfx/components/evaluator/constants.py).
BLESSED_PROPERTY = "blessed"
BLESSED_FILE, NOT_BLESSED_FILE = "BLESSED", "NOT_BLESSED"
# What the Evaluator records about the models it compared; copied onto the gate's blessing.
COPIED_INT_PROPERTIES = ("current_model_id", "baseline_model_id")
COPIED_STRING_PROPERTIES = ("current_model", "baseline_model", "component_id")

SliceKey = Tuple[Tuple[str, Any], ...]


def judge(slices: Mapping[SliceKey, Mapping[str, float]], spec: JudgedFairness
          ) -> Dict[str, Any]:
    """Every slice of every sensitive feature, judged or not, and whether all judged ones pass.

    slices: slice key (TFMA's: () overall, (("group", "b"),) one feature) -> metric -> value.
    Raises ValueError when a bounded metric is absent from the overall slice (TFMA did not
    compute it): the gate fails rather than pass a model it could not judge.

    Returns `passed`, `failures` (one readable line per broken bound, e.g. "group=b: fpr 0.4100
    > max 0.3"), `overall` (the overall value of each metric), `missing_features` (sensitive
    features without a single slice in the evaluation: counted as a failure, the gate cannot
    vouch for them), and `rows`: per slice and metric, `feature`, `slice`, `example_count`,
    `metric`, `value`, `overall`, `gap` (value - overall), the bounds (`max`, `min`, `max_gap`),
    `bound` (the bounds as text), `margin` (the smallest distance inside (+) or outside (-) any
    bound), `judged`, `reason` (why not judged), `passed` (None when not judged), `violations`.
    """
    min_size = spec.min_slice_size
    bounds = {name: bound.model_dump(exclude_none=True)
              for name, bound in sorted(spec.metrics.items())}
    overall_metrics = slices.get((), {})
    absent = [name for name in bounds if name not in overall_metrics]
    if absent:  # NaN means undefined; absent means never computed (or not read): not a pass
        raise ValueError(f"the evaluation has no {absent} on the overall slice (it has "
                         f"{sorted(overall_metrics)}): was it built from a config with this "
                         "fairness section?")
    overall = {name: _number(overall_metrics.get(name)) for name in bounds}
    rows: List[Dict[str, Any]] = []
    failures: List[str] = []
    missing = []
    for feature in spec.features:
        feature_slices = [(key[0][1], metrics) for key, metrics in slices.items()
                          if len(key) == 1 and key[0][0] == feature]
        if not feature_slices:
            missing.append(feature)
            failures.append(f"{feature}: no slice of this feature in the evaluation")
            continue
        for value, metrics in sorted(feature_slices, key=lambda item: _slice_order(item[0])):
            count = _number(metrics.get(EXAMPLE_COUNT))
            for metric, bound in bounds.items():
                row = _judge_slice(feature, value, count, metric, _number(metrics.get(metric)),
                                   overall[metric], bound, min_size)
                rows.append(row)
                failures += row["violations"]
    judged = {(row["feature"], row["slice"]) for row in rows if row["judged"]}
    shown = {(row["feature"], row["slice"]) for row in rows}
    return {"passed": not failures, "failures": failures, "min_slice_size": min_size,
            "features": list(spec.features), "bounds": bounds, "overall": overall,
            "judged_slices": len(judged), "unjudged_slices": len(shown - judged),
            "missing_features": missing, "rows": rows}


def _judge_slice(feature: str, value, count: Optional[float], metric: str,
                 rate: Optional[float], overall: Optional[float], bound: Mapping[str, float],
                 min_size: int) -> Dict[str, Any]:
    name = f"{feature}={value}"
    gap = rate - overall if rate is not None and overall is not None else None
    checks = []  # (margin, violation message)
    if rate is not None:
        if bound.get("max") is not None:
            checks.append((bound["max"] - rate,
                           f"{name}: {metric} {rate:.4f} > max {bound['max']:g}"))
        if bound.get("min") is not None:
            checks.append((rate - bound["min"],
                           f"{name}: {metric} {rate:.4f} < min {bound['min']:g}"))
        if bound.get("max_gap") is not None and gap is not None:
            checks.append((bound["max_gap"] - abs(gap),
                           f"{name}: {metric} {rate:.4f} is {abs(gap):.4f} from the overall "
                           f"{overall:.4f} > max_gap {bound['max_gap']:g}"))
    reason = None
    if count is None or count < min_size:
        reason = (f"too small: {0 if count is None else count:,.0f} examples "
                  f"< min_slice_size {min_size:,}")
    elif rate is None:
        reason = f"{metric} undefined on this slice (its denominator is zero)"
    elif not checks:
        reason = f"overall {metric} undefined: no gap to judge"
    judged = reason is None
    violations = [message for margin, message in checks if margin < 0] if judged else []
    return {
        "feature": feature, "slice": str(value), "example_count": count, "metric": metric,
        "value": rate, "overall": overall, "gap": gap,
        "max": bound.get("max"), "min": bound.get("min"), "max_gap": bound.get("max_gap"),
        "bound": describe_bound(bound),
        "margin": min(margin for margin, _ in checks) if checks else None,
        "judged": judged, "reason": reason,
        "passed": (not violations) if judged else None, "violations": violations,
    }


def describe_bound(bound: Mapping[str, float]) -> str:
    """'<= 0.3, |gap| <= 0.1' for {max: 0.3, max_gap: 0.1}."""
    parts = []
    if bound.get("min") is not None:
        parts.append(f">= {bound['min']:g}")
    if bound.get("max") is not None:
        parts.append(f"<= {bound['max']:g}")
    if bound.get("max_gap") is not None:
        parts.append(f"|gap| <= {bound['max_gap']:g}")
    return ", ".join(parts)


def _number(value) -> Optional[float]:
    """A finite float, else None (missing, NaN, or not a number)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _slice_order(value):
    """Numbers in numeric order, then text."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, float(value), "")
    return (1, 0.0, str(value))


def failure_summary(result: Mapping[str, Any]) -> str:
    """The refusal in one paragraph (for the log and the CLI)."""
    lines = result.get("failures") or []
    if not lines:
        return "fairness: every judged slice is within its bounds"
    return "fairness: not blessed:\n" + "\n".join(f"  - {line}" for line in lines)


def read_fairness(uri: str) -> Dict[str, Any]:
    """The `fairness.json` of a FairnessChecks artifact at `uri` (local or gs://)."""
    with fileio.open(os.path.join(uri, FAIRNESS_FILE), "r") as source:
        return json.load(source)


def load_slices(evaluation_uri: str) -> Dict[SliceKey, Dict[str, float]]:
    """Slice key -> scalar metrics of the candidate model, as TFMA's loader reads them."""
    import tensorflow_model_analysis as tfma  # heavy: only the executor needs it
    result = tfma.load_eval_result(evaluation_uri,
                                   model_name=candidate_model_name(evaluation_uri))
    # metric_values: the value on all the examples, whether or not TFMA bounded it with a
    # confidence interval (EvalConfig options.compute_confidence_intervals).
    return {tuple(key): metric_values(metrics) for key, metrics in result.slicing_metrics}


class Executor(base_executor.BaseExecutor):

    def Do(self, input_dict: Dict[str, List[Any]], output_dict: Dict[str, List[Any]],
           exec_properties: Dict[str, Any]) -> None:
        spec = JudgedFairness.model_validate_json(exec_properties[SPEC_KEY])
        evaluation = artifact_utils.get_single_instance(input_dict[EVALUATION_KEY])
        evaluator_blessing = artifact_utils.get_single_instance(input_dict[MODEL_BLESSING_KEY])
        evaluator_blessed = evaluator_blessing.get_int_custom_property(BLESSED_PROPERTY) == 1

        result = judge(load_slices(evaluation.uri), spec)
        blessed = evaluator_blessed and result["passed"]
        result.update(evaluator_blessed=evaluator_blessed, blessed=blessed,
                      evaluation=evaluation.uri)

        checks = artifact_utils.get_single_instance(output_dict[FAIRNESS_KEY])
        # Output folders exist beforehand only where the orchestrator made them (TFX's local
        # launcher does, a KFP v2 launcher on a mounted bucket does not).
        fileio.makedirs(checks.uri)
        with fileio.open(os.path.join(checks.uri, FAIRNESS_FILE), "w") as sink:
            sink.write(to_json(result))
        write_blessing(artifact_utils.get_single_instance(output_dict[BLESSING_KEY]),
                       evaluator_blessing, blessed, result["passed"])
        log = logging.info if result["passed"] else logging.warning
        log("FairnessGate: %s judged slice(s), %s too small or undefined; %s",
            result["judged_slices"], result["unjudged_slices"], failure_summary(result))
        logging.info("FairnessGate: Evaluator blessed: %s; fairness passed: %s; blessed: %s",
                     evaluator_blessed, result["passed"], blessed)


def write_blessing(blessing, evaluator_blessing, blessed: bool, fairness_passed: bool) -> None:
    """The gate's ModelBlessing, as TFX's Evaluator writes one: the models compared (so TFX's
    LatestBlessedModelStrategy and our baseline strategy find the blessed model), `blessed`
    1 or 0 (what the Pusher reads), and a BLESSED / NOT_BLESSED marker file."""
    for name in COPIED_INT_PROPERTIES:
        if evaluator_blessing.has_custom_property(name):
            blessing.set_int_custom_property(name,
                                             evaluator_blessing.get_int_custom_property(name))
    for name in COPIED_STRING_PROPERTIES:
        if evaluator_blessing.has_custom_property(name):
            blessing.set_string_custom_property(
                name, evaluator_blessing.get_string_custom_property(name))
    blessing.set_int_custom_property(
        EVALUATOR_BLESSED_PROPERTY,
        int(evaluator_blessing.get_int_custom_property(BLESSED_PROPERTY) == 1))
    blessing.set_int_custom_property(FAIRNESS_PASSED_PROPERTY, int(fairness_passed))
    blessing.set_int_custom_property(BLESSED_PROPERTY, int(blessed))
    marker = BLESSED_FILE if blessed else NOT_BLESSED_FILE
    fileio.makedirs(blessing.uri)
    with fileio.open(os.path.join(blessing.uri, marker), "w") as sink:
        sink.write("")


def to_json(result: Mapping[str, Any]) -> str:
    """Strict JSON (a NaN would become null; `judge` already stores undefined values as None)."""
    return strict_json.dumps(result, indent=2, sort_keys=True)
