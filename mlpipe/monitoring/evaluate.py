"""`mlpipe monitor --evaluate`: the served model's KPI on newly labelled data, and how far it moved
since the model was pushed.

The labelled CSV is read, checked and scored a chunk at a time with the same code as `mlpipe
predict`. The label is read as the data spells it, by the config's `label.task`:

- binary: the config's rule, as in preprocessing (`positive_class`, a 0/1 column, or
  `ratio_above`: numerator > threshold * denominator, an underivable row counts as 0);
  metrics auc and binary_accuracy (P > 0.5);
- multiclass: `LabelConfig.class_index` (numbers compared as numbers); metrics accuracy (the
  class with the highest score, as Keras' SparseCategoricalAccuracy) and log_loss (Keras'
  SparseCategoricalCrossentropy), plus per-class counts (rows, predicted, correct);
- regression: float(); metrics rmse, mean_absolute_error, mean_squared_error and r_squared
  (the squared Pearson correlation, as TFMA's SquaredPearsonCorrelation).

A label that is not a class / not a number is an error naming the line and the column. The
metrics are checked against the config's KPI bounds.

`compare_with_push_time` then sets the metrics beside the version's evaluation at push time (the
TFMA evaluation of the run that pushed it, `mlpipe.report.loader.load_report`): a change for the
worse larger than the config's `evaluation.max_regression` for that metric (a drop of a
higher-is-better metric, a rise of a lower-is-better one such as rmse) is a crossed threshold
too.
"""

import contextlib
import dataclasses
import math
import pathlib
from typing import Dict, List, Mapping, Optional

import numpy as np

from mlpipe.config.metrics import LOWER_IS_BETTER
from mlpipe.core.metrics import auc
from mlpipe.serving import outputs as task_outputs
from mlpipe.serving.examples import ExampleEncoder, RequestError
from mlpipe.serving.predict import InputError, csv_chunks, read_header, scored_outputs

METRICS_BY_TASK = {
    "binary": ("auc", "binary_accuracy"),
    "multiclass": ("accuracy", "log_loss"),
    "regression": ("rmse", "mean_absolute_error", "mean_squared_error", "r_squared"),
}
METRICS = METRICS_BY_TASK["binary"]
# Keras clips probabilities to [EPSILON, 1 - EPSILON] before the log of its cross-entropy.
EPSILON = 1e-7


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
    task: str = "binary"
    # multiclass: class -> {"rows": labelled so, "predicted": predicted so, "correct": both}
    classes: Dict[str, Dict[str, int]] = dataclasses.field(default_factory=dict)

    @property
    def metric_names(self) -> tuple:
        return METRICS_BY_TASK[self.task]

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


def evaluate_csv(model, encoder: ExampleEncoder, path, label, kpi,
                 batch_size: int = 2048) -> EvaluationResult:
    path = pathlib.Path(path)
    task = label.task
    try:
        header = read_header(path)
    except InputError as error:
        raise RequestError(str(error)) from error
    missing = [c for c in label.source_columns if c not in header]
    if missing:
        raise RequestError(f"{path}: the label needs column(s) {missing}", missing[0])
    labels, predictions = [], []
    try:
        with contextlib.closing(csv_chunks(path, encoder, batch_size, header)) as chunks:
            for chunk, outputs in scored_outputs(model, chunks):
                labels.append(_chunk_labels(chunk, label))
                if task == "multiclass":
                    predictions.append(task_outputs.class_scores(outputs, chunk.rows)
                                       .astype(np.float64))
                else:
                    predictions.append(task_outputs.single_values(outputs, chunk.rows)
                                       .astype(np.float64))
    except InputError as error:
        raise RequestError(str(error)) from error
    classes = list(label.classes or [])
    if labels:
        y, p = np.concatenate(labels), np.concatenate(predictions)
    else:
        y = np.zeros(0, dtype=np.float64 if task == "regression" else np.int64)
        p = np.zeros((0, len(classes))) if task == "multiclass" else np.zeros(0)
    per_class = {}
    if task == "multiclass":
        metrics = multiclass_metrics(y, p)
        per_class = class_counts(y, p, classes)
    elif task == "regression":
        metrics = regression_metrics(y, p)
    else:
        metrics = {"auc": auc(y, p), "binary_accuracy": float(np.mean((p > 0.5) == (y == 1)))
                   if len(y) else float("nan")}
    metrics["example_count"] = float(len(y))
    failed = []
    for name, bound in sorted(kpi.items()):
        value = metrics.get(name)
        if value is None:
            continue
        if bound.min is not None and not value >= bound.min:
            failed.append(f"{name} {value:.4f} < min {bound.min}")
        if bound.max is not None and not value <= bound.max:
            failed.append(f"{name} {value:.4f} > max {bound.max}")
    return EvaluationResult(len(y), model.version, metrics, failed, task=task,
                            classes=per_class)


def multiclass_metrics(labels: np.ndarray, scores: np.ndarray) -> Dict[str, float]:
    """accuracy (highest score, the first of equal ones, as tf.argmax) and log_loss (the
    scores normalized to sum 1 and clipped, as Keras' SparseCategoricalCrossentropy)."""
    if not len(labels):
        return {"accuracy": float("nan"), "log_loss": float("nan")}
    accuracy = float(np.mean(np.argmax(scores, axis=1) == labels))
    normalized = scores / scores.sum(axis=1, keepdims=True)
    true = np.clip(normalized[np.arange(len(labels)), labels], EPSILON, 1 - EPSILON)
    return {"accuracy": accuracy, "log_loss": float(-np.mean(np.log(true)))}


def class_counts(labels: np.ndarray, scores: np.ndarray,
                 classes: List[str]) -> Dict[str, Dict[str, int]]:
    """class -> rows labelled with it, rows predicted as it, and rows both."""
    k = len(classes)
    predicted = np.argmax(scores, axis=1) if len(labels) else np.zeros(0, dtype=np.int64)
    rows = np.bincount(labels, minlength=k)
    guessed = np.bincount(predicted, minlength=k)
    correct = np.bincount(labels[predicted == labels], minlength=k)
    return {name: {"rows": int(rows[i]), "predicted": int(guessed[i]),
                   "correct": int(correct[i])} for i, name in enumerate(classes)}


def regression_metrics(labels: np.ndarray, values: np.ndarray) -> Dict[str, float]:
    """rmse, mean_absolute_error, mean_squared_error, and r_squared: the squared Pearson
    correlation of prediction and label (NaN when either is constant)."""
    if not len(labels):
        return {name: float("nan") for name in METRICS_BY_TASK["regression"]}
    error = values - labels
    squared = float(np.mean(error ** 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        spread = np.std(values) * np.std(labels)
        r = (np.mean((values - values.mean()) * (labels - labels.mean())) / spread
             if spread > 0 else float("nan"))
    return {"rmse": math.sqrt(squared), "mean_absolute_error": float(np.mean(np.abs(error))),
            "mean_squared_error": squared, "r_squared": float(r * r)}


def compare_with_push_time(result: EvaluationResult, push_time: Mapping[str, float],
                           max_regression: Mapping[str, float],
                           run: Optional[str] = None) -> EvaluationResult:
    """Adds the push-time metrics and the change (now - then) of each metric both have; a metric
    of `max_regression` that got worse by more than its bound (dropped, or rose for a
    lower-is-better metric) is added to `failed`."""
    result.push_time = {name: float(push_time[name]) for name in result.metric_names
                        if name in push_time}
    result.push_time_run = run
    result.change = {name: result.metrics[name] - then for name, then in result.push_time.items()
                     if _finite(result.metrics.get(name)) and _finite(then)}
    for name, bound in sorted(max_regression.items()):
        if name not in result.change:
            continue
        lower_is_better = name in LOWER_IS_BETTER
        worse = result.change[name] if lower_is_better else -result.change[name]
        if worse > bound:
            result.failed.append(
                f"{name} {'rose' if lower_is_better else 'dropped'} {worse:.4f} since push "
                f"({result.push_time[name]:.4f} -> {result.metrics[name]:.4f}), more than "
                f"max_regression {bound}")
    return result


def _finite(value) -> bool:
    return value is not None and math.isfinite(value)


def _chunk_labels(chunk, label) -> np.ndarray:
    """The chunk's labels by task: binary 0/1, multiclass the class's index in label.classes,
    regression the number."""
    if label.task == "multiclass":
        return _class_labels(chunk, label)
    if label.task == "regression":
        return _number_labels(chunk, label)
    return _labels(chunk, label)


def _class_labels(chunk, label) -> np.ndarray:
    """Each cell's class index (`LabelConfig.class_index`, once per distinct value)."""
    cells = chunk.text.column(chunk.text.schema.names.index(label.column)).to_pylist()
    index = {}
    for cell in set(cells):
        index[cell] = label.class_index(cell or "")
    unknown = [i for i, cell in enumerate(cells) if index[cell] is None]
    if unknown:
        row = unknown[0]
        raise RequestError(
            f"line {chunk.first_line + row}: label column '{label.column}' value "
            f"{cells[row]!r} is not one of label.classes {list(label.classes)}", label.column)
    return np.array([index[cell] for cell in cells], dtype=np.int64)


def _number_labels(chunk, label) -> np.ndarray:
    """Each cell as a float, vectorized; the first cell that is not a finite number (an empty
    one included) is an error naming its line."""
    values = _numbers(chunk, chunk.text.schema.names.index(label.column))
    if values is not None and np.all(np.isfinite(values)):
        return values.astype(np.float64)
    cells = chunk.text.column(chunk.text.schema.names.index(label.column)).to_pylist()
    for row, cell in enumerate(cells):
        try:
            if math.isfinite(float(cell)):
                continue
        except (TypeError, ValueError):
            pass
        raise RequestError(f"line {chunk.first_line + row}: label column '{label.column}' "
                           f"value {cell!r} is not a number", label.column)
    return np.array([float(cell) for cell in cells], dtype=np.float64)


def _labels(chunk, label) -> np.ndarray:
    """The chunk's binary labels, vectorized; a value the float cast refuses is re-read with
    Python's float() (which also names the first bad line)."""
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
    # pyarrow (slow to import): only when a chunk's numbers are read
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


