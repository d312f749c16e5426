"""`mlpipe monitor --evaluate`: the served model's KPI on newly labelled data.

The labelled CSV is scored a chunk at a time with the same code as `mlpipe predict`; the label is
derived with the config's rule (the same as in preprocessing: `ratio_above` is
numerator > threshold * denominator, an underivable row counts as 0), and AUC and accuracy are
checked against the config's KPI bounds.
"""

import csv
import dataclasses
import itertools
import pathlib
from typing import Dict, List

import numpy as np

from mlpipe.serving.examples import ExampleEncoder, RequestError

METRICS = ("auc", "binary_accuracy")


@dataclasses.dataclass
class EvaluationResult:
    rows: int
    version: int
    metrics: Dict[str, float]
    failed: List[str]          # "auc 0.71 < min 0.92"

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


def evaluate_csv(model, encoder: ExampleEncoder, path, label, kpi,
                 batch_size: int = 2048) -> EvaluationResult:
    path = pathlib.Path(path)
    labels, probabilities = [], []
    with path.open(newline="") as source:
        reader = csv.DictReader(source)
        missing = [c for c in label.source_columns if c not in (reader.fieldnames or [])]
        if missing:
            raise RequestError(f"{path}: the label needs column(s) {missing}", missing[0])
        line = 1
        while True:
            rows = list(itertools.islice(reader, batch_size))
            if not rows:
                break
            serialized = []
            for row in rows:
                line += 1
                serialized.append(encoder.serialize(encoder.check_csv_row(row, f"line {line}")))
                labels.append(_label(row, label, line))
            output = model.predict(serialized)
            values = output.get("probability", next(iter(output.values())))
            probabilities.extend(values.reshape(len(rows), -1)[:, 0].tolist())
    y, p = np.array(labels), np.array(probabilities)
    metrics = {"auc": auc(y, p), "binary_accuracy": float(np.mean((p > 0.5) == (y == 1)))
               if len(y) else float("nan"), "example_count": float(len(y))}
    failed = []
    for name, bound in sorted(kpi.items()):
        value = metrics.get(name)
        if value is None:
            continue
        if bound.min is not None and not value >= bound.min:
            failed.append(f"{name} {value:.4f} < min {bound.min}")
        if bound.max is not None and not value <= bound.max:
            failed.append(f"{name} {value:.4f} > max {bound.max}")
    return EvaluationResult(len(y), model.version, metrics, failed)


def _label(row, label, line: int) -> int:
    try:
        if label.column is not None:
            return int(float(row[label.column]))
        rule = label.derive
        numerator, denominator = float(row[rule.numerator]), float(row[rule.denominator])
    except (TypeError, ValueError):
        source = label.column or f"{label.derive.numerator}/{label.derive.denominator}"
        raise RequestError(f"line {line}: label column(s) {source} not numeric", source)
    return int(denominator > 0 and numerator > rule.threshold * denominator)


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC by ranks (ties get their average rank); NaN when only one class is present."""
    positives = int(labels.sum())
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = scores[order]
    ranks = np.empty(len(scores))
    start = 0
    while start < len(scores):
        end = start
        while end + 1 < len(scores) and sorted_scores[end + 1] == sorted_scores[start]:
            end += 1
        ranks[order[start:end + 1]] = (start + end) / 2 + 1
        start = end + 1
    return float((ranks[labels == 1].sum() - positives * (positives + 1) / 2)
                 / (positives * negatives))
