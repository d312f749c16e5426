"""The bounds TFMA applied, read back from the EvalConfig it used, with each value and margin.

One reader for the report and the model card: a KPI (value >= / <= bound) or a regression
threshold (change against the baseline; not checked without one), with the margin (+ inside,
- outside). Our thresholds bound the overall slice only.
"""

import dataclasses
import math
from typing import Dict, List, Optional

from mlpipe.config.metrics import metric_key


@dataclasses.dataclass
class ThresholdCheck:
    metric: str
    kind: str  # "kpi" (absolute bound) or "regression" (change against the baseline)
    value: Optional[float]
    bound: float
    comparison: str  # ">=" or "<="
    passed: Optional[bool]  # None: not checked (no baseline for a change threshold)
    margin: Optional[float]  # how far inside (+) or outside (-) the bound


def threshold_checks(eval_config, candidate: Dict[str, float],
                     baseline: Optional[Dict[str, float]]) -> List[ThresholdCheck]:
    """Every bound of a TFMA EvalConfig (proto), checked against the candidate's overall
    metrics and, for change thresholds, the baseline's."""
    checks = []
    for spec in eval_config.metrics_specs:
        for metric in spec.metrics:
            name = metric_key(metric.class_name)
            thresholds = [t.threshold for t in metric.per_slice_thresholds]
            if metric.HasField("threshold"):
                thresholds.append(metric.threshold)
            for threshold in thresholds:
                checks.extend(_checks_of(name, threshold, candidate, baseline))
    return checks


def _checks_of(name, threshold, candidate, baseline) -> List[ThresholdCheck]:
    checks = []
    value = candidate.get(name)
    if threshold.HasField("value_threshold"):
        bounds = threshold.value_threshold
        if bounds.HasField("lower_bound"):
            checks.append(_check(name, "kpi", value, bounds.lower_bound.value, ">="))
        if bounds.HasField("upper_bound"):
            checks.append(_check(name, "kpi", value, bounds.upper_bound.value, "<="))
    if threshold.HasField("change_threshold"):
        # TFMA passes a change (candidate - baseline) >= the bound when higher is better, and
        # <= the bound when lower is better.
        change = threshold.change_threshold
        bound = change.absolute.value
        comparison = ">=" if change.direction == _higher_is_better(change) else "<="
        if baseline is None or name not in baseline or value is None:
            checks.append(ThresholdCheck(name, "regression", None, bound, comparison, None, None))
        else:
            checks.append(_check(name, "regression", value - baseline[name], bound, comparison))
    return checks


def _higher_is_better(change) -> int:
    """TFMA's MetricDirection.HIGHER_IS_BETTER, read from the proto (no TFMA import)."""
    direction = change.DESCRIPTOR.fields_by_name["direction"].enum_type
    return direction.values_by_name["HIGHER_IS_BETTER"].number


def _check(name, kind, value, bound, comparison) -> ThresholdCheck:
    if value is None or math.isnan(value):
        return ThresholdCheck(name, kind, value, bound, comparison, False, None)
    margin = value - bound if comparison == ">=" else bound - value
    return ThresholdCheck(name, kind, value, bound, comparison, margin >= 0, margin)
