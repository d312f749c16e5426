"""`mlpipe monitor --evaluate`: the served model's KPI on newly labelled data, and how far it moved
since the model was pushed.

The labelled CSV is read, checked and scored a chunk at a time with the same code as `mlpipe
predict`; the label is derived with the config's rule (the same as in preprocessing:
`ratio_above` is numerator > threshold * denominator, an underivable row counts as 0), and AUC
and accuracy are checked against the config's KPI bounds.

`compare_with_push_time` then sets the metrics beside the version's evaluation at push time (the
TFMA evaluation of the run that pushed it, `mlpipe.report.loader.load_report`): a drop larger
than the config's `evaluation.max_regression` for that metric is a crossed threshold too.
"""

import dataclasses
import math
import pathlib
from typing import Dict, List, Mapping, Optional

import numpy as np

from mlpipe.serving.examples import ExampleEncoder, RequestError
from mlpipe.serving.predict import InputError, csv_chunks, read_header, scored_chunks

METRICS = ("auc", "binary_accuracy")


@dataclasses.dataclass
class EvaluationResult:
    rows: int
    version: int
    metrics: Dict[str, float]
    failed: List[str]          # "auc 0.71 < min 0.92", "auc dropped 0.0310 since push ..."
    push_time: Optional[Dict[str, float]] = None   # the version's TFMA metrics at push time
    push_time_run: Optional[str] = None            # the run that pushed it
    change: Dict[str, float] = dataclasses.field(default_factory=dict)  # now - push time
    push_time_error: Optional[str] = None          # why there is no push-time comparison

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


def evaluate_csv(model, encoder: ExampleEncoder, path, label, kpi,
                 batch_size: int = 2048) -> EvaluationResult:
    path = pathlib.Path(path)
    try:
        header = read_header(path)
    except InputError as error:
        raise RequestError(str(error)) from error
    missing = [c for c in label.source_columns if c not in header]
    if missing:
        raise RequestError(f"{path}: the label needs column(s) {missing}", missing[0])
    labels, probabilities = [], []
    try:
        for chunk, values in scored_chunks(model, csv_chunks(path, encoder, batch_size, header)):
            labels.append(_labels(chunk, label))
            probabilities.append(values.astype(np.float64))
    except InputError as error:
        raise RequestError(str(error)) from error
    y = np.concatenate(labels) if labels else np.zeros(0, dtype=np.int64)
    p = np.concatenate(probabilities) if probabilities else np.zeros(0)
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


def compare_with_push_time(result: EvaluationResult, push_time: Mapping[str, float],
                           max_regression: Mapping[str, float],
                           run: Optional[str] = None) -> EvaluationResult:
    """Adds the push-time metrics and the change (now - then) of each metric both have; a metric
    of `max_regression` that dropped by more than its bound is added to `failed`."""
    result.push_time = {name: float(push_time[name]) for name in METRICS if name in push_time}
    result.push_time_run = run
    result.change = {name: result.metrics[name] - then for name, then in result.push_time.items()
                     if _finite(result.metrics.get(name)) and _finite(then)}
    for name, bound in sorted(max_regression.items()):
        if name not in result.change:
            continue
        drop = -result.change[name]
        if drop > bound:
            result.failed.append(
                f"{name} dropped {drop:.4f} since push ({result.push_time[name]:.4f} -> "
                f"{result.metrics[name]:.4f}), more than max_regression {bound}")
    return result


def _finite(value) -> bool:
    return value is not None and math.isfinite(value)


def _labels(chunk, label) -> np.ndarray:
    """The chunk's labels, vectorized; a value the float cast refuses is re-read with Python's
    float() (which also names the first bad line)."""
    names = chunk.text.schema.names
    if label.column is not None and label.positive_class is not None:
        cells = chunk.text.column(names.index(label.column)).to_pylist()
        return np.array([int(label.is_positive(cell or "")) for cell in cells], dtype=np.int64)
    if label.column is not None:
        values = _numbers(chunk, names.index(label.column))
        if values is None or not np.all(np.isfinite(values)):
            return np.array([_label_of(row, label, chunk.first_line + i)
                             for i, row in enumerate(_rows(chunk, [label.column]))])
        return np.trunc(values).astype(np.int64)
    rule = label.derive
    numerator = _numbers(chunk, names.index(rule.numerator))
    denominator = _numbers(chunk, names.index(rule.denominator))
    if numerator is None or denominator is None:
        return np.array([_label_of(row, label, chunk.first_line + i) for i, row in
                         enumerate(_rows(chunk, [rule.numerator, rule.denominator]))])
    with np.errstate(invalid="ignore"):
        return ((denominator > 0) & (numerator > rule.threshold * denominator)).astype(np.int64)


def _numbers(chunk, index: int) -> Optional[np.ndarray]:
    import pyarrow as pa
    import pyarrow.compute as pc
    try:
        return pc.cast(chunk.text.column(index), pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _rows(chunk, columns):
    names = chunk.text.schema.names
    lists = {name: chunk.text.column(names.index(name)).to_pylist() for name in columns}
    return [{name: lists[name][i] for name in columns} for i in range(chunk.rows)]


def _label_of(row, label, line: int) -> int:
    try:
        if label.column is not None:
            return int(float(row[label.column]))
        rule = label.derive
        numerator, denominator = float(row[rule.numerator]), float(row[rule.denominator])
    except (TypeError, ValueError, OverflowError):
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
    # Average rank of each run of tied scores (1-based), vectorized.
    starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    ends = np.r_[starts[1:], len(scores)] - 1
    ranks = np.empty(len(scores))
    ranks[order] = np.repeat((starts + ends) / 2 + 1, ends - starts + 1)
    return float((ranks[labels == 1].sum() - positives * (positives + 1) / 2)
                 / (positives * negatives))
