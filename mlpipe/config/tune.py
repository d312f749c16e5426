"""The `tune:` section: a hyperparameter search by TFX's Tuner before the Trainer.

The search space is over `train:`'s own fields (the hyperparameters carry their names):
the MLP's shape (`hidden_units`: candidate lists of layer widths, so depth and width together),
`learning_rate` (choices, or a log-scale range), `epochs`, `ensemble` (networks averaged) and
`piecewise` (whether the model reads the numbers' piecewise-linear encodings).
A field left out keeps `train:`'s value. The first trial always trains `train:`'s own values, so the
model the search picks scores at least as well on the eval split as the untuned one. `objective` is
a metric the Keras model reports on the eval split; which ones exist depends on the label's task
(checked at load time by `ProblemConfig`, with `check_task`).

The hyperparameter values travel as keras-tuner's `HyperParameters` config (JSON) from the Tuner
to the Trainer; `tuned_train` reads them back into a `train:` section. A list of widths is one
value, spelled like "64-32", because a keras-tuner choice holds numbers or strings only.
"""

from typing import Any, Dict, List, Optional, Tuple, Union

from pydantic import Field, ValidationError, field_validator, model_validator

from mlpipe.config.base import Strict

# Task -> {metric the Keras model reports (mlpipe.trainer.model compiles them) -> better
# direction}. The Tuner scores a trial by it on the eval split, computed as the Evaluator
# computes it (auc and binary_accuracy by TFMA's own code; see mlpipe.trainer.tuning).
KERAS_METRICS: Dict[str, Dict[str, str]] = {
    "binary": {"auc": "max", "binary_accuracy": "max", "loss": "min"},
    "multiclass": {"accuracy": "max", "loss": "min"},
    "regression": {"rmse": "min", "loss": "min"},
}
DEFAULT_OBJECTIVE = {"binary": "auc", "multiclass": "accuracy", "regression": "rmse"}
# The key of this section in the Tuner's custom_config (beside the problem's sections).
TUNE_CONFIG_KEY = "tune"
# The names of the tuned hyperparameters: the `train:` fields they replace.
TUNED_FIELDS = ("hidden_units", "learning_rate", "epochs", "ensemble", "piecewise")


class LogRange(Strict):
    """A range sampled on a log scale (learning rates span orders of magnitude)."""

    min: float = Field(gt=0)
    max: float = Field(gt=0)

    @model_validator(mode="after")
    def _increasing(self) -> "LogRange":
        if not self.min < self.max:
            raise ValueError(f"'min' {self.min} must be below 'max' {self.max}")
        return self


class TuneConfig(Strict):
    hidden_units: Optional[List[List[int]]] = Field(
        None, min_length=1,
        description="Candidate MLP shapes, each a list of layer widths (e.g. [[], [32], "
                    "[64, 32], [128, 64, 32]]; [] is no hidden layer, the linear part alone): "
                    "depth and width are searched together.")
    learning_rate: Optional[Union[List[float], LogRange]] = Field(
        None, description="Choices (e.g. [0.001, 0.01, 0.1]) or {min, max}, sampled on a log "
                          "scale.")
    epochs: Optional[List[int]] = Field(None, min_length=1, description="Choices.")
    ensemble: Optional[List[int]] = Field(
        None, min_length=1, description="Choices of the number of networks averaged (1..10).")
    piecewise: Optional[List[bool]] = Field(
        None, min_length=1,
        description="[true, false]: try the model with and without the numbers' piecewise-"
                    "linear encodings (features.numeric_bins).")
    max_trials: int = Field(
        10, ge=2, description="Models the Tuner trains, the first with train:'s own values.")
    objective: Optional[str] = Field(
        None, description="A metric the Keras model reports, measured on the eval split: "
                          "binary auc | binary_accuracy | loss; multiclass accuracy | loss; "
                          "regression rmse | loss (default: auc, accuracy, rmse).")
    seed: int = Field(0, description="Seeds the choice of trials: reruns search alike.")

    @field_validator("hidden_units")
    @classmethod
    def _shapes(cls, shapes: Optional[List[List[int]]]) -> Optional[List[List[int]]]:
        if shapes is None:
            return None
        for shape in shapes:
            if any(width < 1 for width in shape):
                raise ValueError(f"{shape}: a shape is a list of positive widths ([] for no "
                                 "hidden layer)")
        return _distinct([list(shape) for shape in shapes])

    @field_validator("learning_rate", mode="before")
    @classmethod
    def _range_or_choices(cls, value):
        # Read a mapping as the range here, so a bad range is reported as such (not also as
        # "not a list").
        if not isinstance(value, dict):
            return value
        try:
            return LogRange.model_validate(value)
        except ValidationError as err:
            problems = []
            for problem in err.errors():
                where, message = ".".join(map(str, problem["loc"])), problem["msg"]
                message = message.removeprefix("Value error, ")
                problems.append(f"{where}: {message}" if where else message)
            raise ValueError("a range is {min, max}: " + "; ".join(problems)) from None

    @field_validator("learning_rate")
    @classmethod
    def _rates(cls, rates):
        if isinstance(rates, list):
            if not rates or any(rate <= 0 for rate in rates):
                raise ValueError("give one or more positive learning rates")
            return _distinct(rates)
        return rates

    @field_validator("epochs")
    @classmethod
    def _epochs(cls, epochs: Optional[List[int]]) -> Optional[List[int]]:
        if epochs is not None and any(count < 1 for count in epochs):
            raise ValueError("epochs must be positive")
        return None if epochs is None else _distinct(epochs)

    @field_validator("ensemble")
    @classmethod
    def _ensembles(cls, sizes: Optional[List[int]]) -> Optional[List[int]]:
        if sizes is not None and any(not 1 <= size <= 10 for size in sizes):
            raise ValueError("an ensemble has 1 to 10 networks")
        return None if sizes is None else _distinct(sizes)

    @field_validator("piecewise")
    @classmethod
    def _piecewise(cls, choices: Optional[List[bool]]) -> Optional[List[bool]]:
        return None if choices is None else _distinct(choices)

    @model_validator(mode="after")
    def _searches_something(self) -> "TuneConfig":
        if all(getattr(self, name) is None for name in TUNED_FIELDS):
            raise ValueError("nothing to search: give 'hidden_units', 'learning_rate', "
                             "'epochs', 'ensemble' or 'piecewise' (or several)")
        return self

    def check_task(self, task: str) -> None:
        """The objective is a metric the model reports for `task`."""
        allowed = KERAS_METRICS[task]
        if self.objective is not None and self.objective not in allowed:
            raise ValueError(f"tune.objective: {self.objective!r} is not reported by a {task} "
                             f"model on the eval split; allowed: {sorted(allowed)}")

    def objective_of(self, task: str) -> Tuple[str, str]:
        """(metric name, 'max' or 'min') the Tuner optimises for `task`."""
        name = self.objective or DEFAULT_OBJECTIVE[task]
        return name, KERAS_METRICS[task][name]


# How a shape without hidden layers (the linear part alone, as `mlpipe init` writes for some
# regression tables) is spelled as a keras-tuner choice.
NO_HIDDEN_LAYER = "none"


def spell_units(units: List[int]) -> str:
    """[64, 32] -> "64-32", [] -> "none" (a keras-tuner choice holds numbers or strings only)."""
    return "-".join(str(width) for width in units) or NO_HIDDEN_LAYER


def parse_units(text: str) -> List[int]:
    if str(text) == NO_HIDDEN_LAYER:
        return []
    return [int(width) for width in str(text).split("-")]


def tuned_train(train, hyperparameters: Optional[Dict[str, Any]]):
    """`train` (a TrainConfig) with the values of a keras-tuner HyperParameters config (what
    TFX's Trainer passes as `fn_args.hyperparameters` when a Tuner ran) in place of its own;
    `train` itself when there are none."""
    if not hyperparameters:
        return train
    values = hyperparameters.get("values", hyperparameters)
    update: Dict[str, Any] = {}
    if "hidden_units" in values:
        update["hidden_units"] = parse_units(values["hidden_units"])
    if "learning_rate" in values:
        update["learning_rate"] = float(values["learning_rate"])
    if "epochs" in values:
        update["epochs"] = int(values["epochs"])
    if "ensemble" in values:
        update["ensemble"] = int(values["ensemble"])
    if "piecewise" in values:
        update["piecewise"] = bool(values["piecewise"])
    return train.model_validate({**train.model_dump(), **update})


def _distinct(items: list) -> list:
    repeated = [item for index, item in enumerate(items) if item in items[:index]]
    if repeated:
        raise ValueError(f"{repeated} listed more than once")
    return items
