"""What a served model's outputs mean, by task, and how each command writes them.

The `serving_default` signature answers with the outputs of `core.contract.OUTPUT_KEYS[task]`:

    binary      {"probability": [n, 1]}                       P(label = 1)
    multiclass  {"scores": [n, k], "classes": [n, k]}         softmax in the order of
                                                              label.classes, and those names
    regression  {"value": [n, 1]}                             the predicted number

`ModelTask` is what a loaded model is, read from its own warm-up answer (the output names; for
multiclass the class names of the "classes" output) and checked against the problem config's
label (`ModelTask.check`), so a version whose outputs do not fit the config is refused when it
is loaded, not when a request comes. The rest turns one call's outputs into each command's
answer:

- `mlpipe serve`: TF Serving's :predict body (`as_json_predictions`, in examples.py), its
  :classify and :regress bodies (`classify_result`, `regress_result`);
- `mlpipe predict`: the extra CSV columns (`output_columns`, `output_text`): binary
  `probability`; multiclass `predicted_class` and one `score_<class>` per class; regression
  `value`;
- the request log: the logged prediction (`logged_predictions`): binary the probability,
  regression the value, multiclass the predicted class's name plus one score per class.
"""

import dataclasses
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from mlpipe.core.contract import CLASSES_KEY, OUTPUT_KEY, OUTPUT_KEYS, SCORES_KEY, VALUE_KEY
from mlpipe.errors import BadInputError

BINARY, MULTICLASS, REGRESSION = "binary", "multiclass", "regression"
# `mlpipe predict`'s output columns.
PROBABILITY_COLUMN = OUTPUT_KEY
VALUE_COLUMN = VALUE_KEY
PREDICTED_CLASS_COLUMN = "predicted_class"
SCORE_PREFIX = "score_"
# TF Serving's :classify of a binary model: the classes of P(label = 0) and P(label = 1).
BINARY_CLASSES = ("0", "1")

Outputs = Mapping[str, np.ndarray]


class TaskMismatchError(BadInputError):
    """A model's outputs do not fit the problem config's label (task or classes)."""


@dataclasses.dataclass(frozen=True)
class ModelTask:
    """A model's task and, for multiclass, its class names in the order of its scores."""

    name: str = BINARY
    classes: Tuple[str, ...] = ()

    @classmethod
    def of_outputs(cls, outputs: Outputs) -> "ModelTask":
        """From the outputs of one call (at least one row): their names say the task."""
        if SCORES_KEY in outputs and CLASSES_KEY in outputs:
            first = np.asarray(outputs[CLASSES_KEY]).reshape(len(outputs[CLASSES_KEY]), -1)[0]
            return cls(MULTICLASS, tuple(_text(name) for name in first))
        if VALUE_KEY in outputs and OUTPUT_KEY not in outputs:
            return cls(REGRESSION)
        return cls(BINARY)

    def check(self, label, where: str) -> None:
        """Raises a TaskMismatchError when the model is not what the config's `label` says:
        another task, or (multiclass) other classes or another order of them."""
        if label is None:
            return
        if self.name != label.task:
            raise TaskMismatchError(
                f"{where} is a {self.name} model (outputs {list(OUTPUT_KEYS[self.name])}), but "
                f"the config's label.task is {label.task}: serve it with the config it was "
                "trained with")
        if self.name == MULTICLASS and list(self.classes) != list(label.classes):
            raise TaskMismatchError(
                f"{where} answers the classes {list(self.classes)}, but the config's "
                f"label.classes are {list(label.classes)}: serve it with the config it was "
                "trained with")


# ---- values --------------------------------------------------------------------------------

def single_values(outputs: Outputs, rows: int) -> np.ndarray:
    """binary: the probabilities; regression: the values (one float per row). A model with
    other output names (not one of ours) gives its first output's first column."""
    for key in (OUTPUT_KEY, VALUE_KEY):
        if key in outputs:
            return np.asarray(outputs[key]).reshape(rows, -1)[:, 0]
    return np.asarray(next(iter(outputs.values()))).reshape(rows, -1)[:, 0]


def class_scores(outputs: Outputs, rows: int) -> np.ndarray:
    """multiclass: [rows, classes] scores."""
    return np.asarray(outputs[SCORES_KEY]).reshape(rows, -1)


def predicted_indices(outputs: Outputs, rows: int) -> np.ndarray:
    """multiclass: the position of each row's highest score (the first of equal ones)."""
    return np.argmax(class_scores(outputs, rows), axis=1)


def predicted_names(task: ModelTask, outputs: Outputs, rows: int) -> List[str]:
    names = np.array(task.classes, dtype=object)
    return names[predicted_indices(outputs, rows)].tolist()


# ---- mlpipe predict ---------------------------------------------------------------------------

def output_columns(task: ModelTask) -> List[str]:
    """The columns `mlpipe predict` adds to the input's, in order."""
    if task.name == MULTICLASS:
        return [PREDICTED_CLASS_COLUMN] + [SCORE_PREFIX + name for name in task.classes]
    if task.name == REGRESSION:
        return [VALUE_COLUMN]
    return [PROBABILITY_COLUMN]


def output_text(task: ModelTask, outputs: Outputs, rows: int, number_text) -> list:
    """The added columns of one chunk as Arrow string arrays; `number_text(values)` formats
    floats (predict.fixed_6)."""
    import pyarrow as pa
    if task.name == MULTICLASS:
        scores = class_scores(outputs, rows)
        names = pa.array(predicted_names(task, outputs, rows), pa.string())
        return [names] + [number_text(scores[:, i]) for i in range(scores.shape[1])]
    return [number_text(single_values(outputs, rows))]


# ---- the request log ------------------------------------------------------------------------

def logged_predictions(task: ModelTask, outputs: Outputs,
                       rows: int) -> Tuple[list, Optional[np.ndarray]]:
    """(one prediction per row, per-class scores or None) as the request log keeps them:
    binary the probability, regression the value, multiclass the predicted class's name and
    its [rows, classes] scores."""
    if task.name == MULTICLASS:
        return predicted_names(task, outputs, rows), class_scores(outputs, rows)
    return single_values(outputs, rows).tolist(), None


# ---- TF Serving's :classify and :regress ----------------------------------------------------

def classify_result(task: ModelTask, outputs: Outputs, rows: int) -> Dict[str, list]:
    """{"result": [[[class, score], ...] per example]}, as TF Serving's classify API answers.
    binary: the classes "0" and "1" (label = 1 is the positive class) with 1 - p and p."""
    if task.name == MULTICLASS:
        scores = class_scores(outputs, rows).tolist()
        return {"result": [[[name, score] for name, score in zip(task.classes, row)]
                           for row in scores]}
    probabilities = single_values(outputs, rows).astype(np.float64).tolist()
    return {"result": [[[BINARY_CLASSES[0], 1.0 - p], [BINARY_CLASSES[1], p]]
                       for p in probabilities]}


def regress_result(outputs: Outputs, rows: int) -> Dict[str, list]:
    """{"result": [value per example]}, as TF Serving's regress API answers."""
    return {"result": single_values(outputs, rows).astype(np.float64).tolist()}


VERB_TASKS = {"classify": (BINARY, MULTICLASS), "regress": (REGRESSION,)}


def verb_refusal(verb: str, task: ModelTask) -> Optional[str]:
    """Why a :classify / :regress request cannot be answered by this model, or None."""
    if task.name in VERB_TASKS[verb]:
        return None
    other = {BINARY: ":classify", MULTICLASS: ":classify", REGRESSION: ":regress"}[task.name]
    return (f":{verb} is for {' or '.join(VERB_TASKS[verb])} models; this is a {task.name} "
            f"model: use :predict or {other}")


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def json_ready(values: Sequence) -> list:
    """A numpy array as JSON-ready lists: bytes (string tensors) as UTF-8 text."""
    array = np.asarray(values)
    if array.dtype.kind in ("O", "S"):
        return np.vectorize(_text, otypes=[object])(array).tolist() if array.size else \
            array.tolist()
    return array.tolist()
