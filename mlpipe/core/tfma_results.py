"""Readers of TFMA's multiclass and regression results (the dicts `tfma.load_eval_result` gives),
shared by the report and the model card so both show the same numbers.

Proto3 JSON leaves out zeros: a missing class id is class 0, a missing threshold is 0.
"""

import math
from typing import Any, Dict, List, Optional, Sequence, Tuple

# TFMA reports a metric binarized by class id under this sub key, e.g. `classId:2`.
CLASS_SUB_KEY = "classId:"


def class_name(classes: Optional[Sequence[str]], class_id: int) -> str:
    """`classes[class_id]` (label.classes), else 'class <id>'."""
    return classes[class_id] if classes and 0 <= class_id < len(classes) else f"class {class_id}"


def per_class_values(metrics_by_output) -> List[Tuple[int, Dict[str, Any]]]:
    """(class id, that class's metric values as TFMA wrote them) of one slice entry of
    `slicing_metrics`, by class id."""
    found = [(int(sub_key[len(CLASS_SUB_KEY):]), values)
             for sub_key, values in (metrics_by_output or {}).get("", {}).items()
             if sub_key.startswith(CLASS_SUB_KEY)]
    return sorted(found, key=lambda item: item[0])


def class_confusion(plots: Dict[str, Any], classes: Sequence[str]) -> Dict[str, Any]:
    """TFMA's multi-class confusion matrix at its first threshold (0 by default: the predicted
    class is the argmax) as {threshold, classes, predicted, matrix}: a row per actual class, a
    column per predicted class, counts; {} without one. `plots`: one slice's plots of the single
    output. A predicted id of -1 (no score above the threshold) gets a last 'no prediction'
    column when it occurs."""
    matrices = plots.get("multiClassConfusionMatrixAtThresholds", {}).get("matrices", [])
    if not matrices:
        return {}
    entries = [(int(entry.get("actualClassId", 0)), int(entry.get("predictedClassId", 0)),
                float(entry.get("numWeightedExamples", 0.0)))
               for entry in matrices[0].get("entries", [])]
    size = max([len(classes)] + [max(actual, predicted) + 1 for actual, predicted, _ in entries])
    names = [class_name(classes, index) for index in range(size)]
    unpredicted = any(predicted < 0 for _, predicted, _ in entries)
    counts = [[0.0] * (size + unpredicted) for _ in range(size)]
    for actual, predicted, number in entries:
        if actual >= 0:
            counts[actual][predicted if predicted >= 0 else size] += number
    return {"threshold": float(matrices[0].get("threshold", 0.0)), "classes": names,
            "predicted": names + (["no prediction"] if unpredicted else []), "matrix": counts}


def calibration_buckets(plots: Dict[str, Any]
                        ) -> List[Tuple[float, float, float, Optional[float], Optional[float]]]:
    """The calibration plot's buckets with examples, in order of predicted value, as (mean
    prediction, mean label, examples, lower edge, upper edge); an edge TFMA leaves open (the
    under- and overflow buckets) is None. For regression, the predicted-vs-actual plot."""
    points = []
    for bucket in plots.get("calibrationHistogramBuckets", {}).get("buckets", []):
        count = float(bucket.get("numWeightedExamples", 0))
        if count > 0:
            points.append((float(bucket.get("totalWeightedRefinedPrediction", 0.0)) / count,
                           float(bucket.get("totalWeightedLabel", 0.0)) / count, count,
                           finite_or_none(bucket.get("lowerThresholdInclusive")),
                           finite_or_none(bucket.get("upperThresholdExclusive"))))
    return points


def finite_or_none(value) -> Optional[float]:
    """A JSON number as a float; None for a missing value, text or an infinite edge."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
