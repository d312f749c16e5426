"""The problem config: a typed, validated description of one ML problem.

Everything problem-specific (data, label, features, training budget, KPI, slices) lives here, so
a new tabular problem (binary, multiclass or regression) needs a new config and schema, not new
Python. The file is read
by `mlpipe.config.loader.load_config`; every check that can be made on the file alone is made
here, so a bad config fails at load time (exit 2), never inside a component.
"""

from __future__ import annotations

from typing import Dict, List, Literal, Optional

from pydantic import Field, field_validator, model_validator

from mlpipe.config.base import Strict
from mlpipe.config.cloud import CloudConfig
from mlpipe.config.drift_gate import DriftGateConfig
from mlpipe.config.metrics import (DEFAULT_MAIN_METRIC, HIGHER_IS_BETTER, LOWER_IS_BETTER,
                                   METRIC_NAMES, RATE_METRIC_NAMES, metric_names)
from mlpipe.config.model_card import ModelCardConfig
from mlpipe.config.monitoring import MonitoringConfig
from mlpipe.config.serving import ServingConfig
from mlpipe.config.span_pattern import span_kind
from mlpipe.config.tune import TuneConfig


class DataConfig(Strict):
    path: str = Field(description="A file, a folder of files or a glob (CSV: with the same "
                                  "header); {SPAN} or {YYYY}{MM}{DD} in a file or folder name: "
                                  "data that arrives in spans, a run ingests one (the newest by "
                                  "default).")
    format: Literal["csv", "parquet", "tfrecord"] = Field(
        "csv", description="csv; parquet; tfrecord (TFRecord files of tf.Example, gzipped or not).")
    split: Dict[str, int] = Field(default_factory=lambda: {"train": 2, "eval": 1},
                                  description="Hash-bucket weights of the train and eval splits.")
    score_path: Optional[str] = Field(
        None, description="Unlabelled data in data.format (file, folder or glob): scored by "
                          "BulkInferrer with the new model once it is blessed.")
    missing_values: List[str] = Field(
        default_factory=list,
        description="Cell texts that mean 'no value' (e.g. NA, NaN, null), in every column, "
                    "besides an empty cell. The pipeline's CSV ExampleGen reads them as blank "
                    "cells, on every runner.")
    window: int = Field(
        1, ge=1, description="With spans: train on the spans numbered S-window+1 .. S, S being "
                             "the run's span (TFX's rolling span range); local runs only.")

    @field_validator("path")
    @classmethod
    def _span_pattern(cls, path: str) -> str:
        span_kind(path)  # ValueError naming what TFX would refuse
        return path

    @field_validator("score_path")
    @classmethod
    def _score_path_without_spans(cls, path: Optional[str]) -> Optional[str]:
        if path is not None and span_kind(path) is not None:
            raise ValueError("span specs are for data.path; score_path names the data to "
                             "score as it is (a file, folder or glob)")
        return path

    @model_validator(mode="after")
    def _window_needs_spans(self) -> "DataConfig":
        if self.window > 1 and not self.has_spans:
            raise ValueError(f"window {self.window} trains on several spans, but data.path "
                             f"{self.path} has no span spec ({{SPAN}} or {{YYYY}}{{MM}}{{DD}})")
        return self

    @property
    def has_spans(self) -> bool:
        """Whether the data arrives in spans (a span spec in `path`)."""
        return span_kind(self.path) is not None

    @field_validator("missing_values")
    @classmethod
    def _real_tokens(cls, tokens: List[str]) -> List[str]:
        if any(token.strip() == "" for token in tokens):
            raise ValueError("an empty or blank token is always missing: list only the others")
        if any(("," in token or '"' in token or "\n" in token) for token in tokens):
            raise ValueError("a token cannot hold a comma, a quote or a line break")
        return _distinct(tokens, "token")

    @model_validator(mode="after")
    def _tokens_are_for_csv(self) -> "DataConfig":
        if self.missing_values and self.format != "csv":
            raise ValueError(f"missing_values applies to CSV only: {self.format} data says 'no "
                             "value' with nulls or absent features; remove missing_values")
        return self

    @field_validator("split")
    @classmethod
    def _train_and_eval(cls, split: Dict[str, int]) -> Dict[str, int]:
        if set(split) != {"train", "eval"}:
            raise ValueError("must name exactly the splits 'train' and 'eval', "
                             f"got {sorted(split)}")
        if any(weight < 1 for weight in split.values()):
            raise ValueError("split weights must be positive integers")
        return split


class RatioAboveLabel(Strict):
    """label = numerator / denominator > threshold; rows with denominator <= 0 are underivable."""

    kind: Literal["ratio_above"] = "ratio_above"
    numerator: str
    denominator: str
    threshold: float


class LabelConfig(Strict):
    name: str
    task: Literal["binary", "multiclass", "regression"] = Field(
        "binary", description="binary: P(label = 1); multiclass: a score per class of `classes`; "
                              "regression: a number.")
    column: Optional[str] = Field(
        None, description="An existing column used as the label. binary: 0/1, or any values with "
                          "`positive_class` naming the one that means 1; multiclass: the values "
                          "listed in `classes`; regression: a number.")
    positive_class: Optional[str] = Field(
        None, description="binary, with `column`: the value (as the data spells it) that is "
                          "label 1; every other value is 0. Required unless the column holds 0/1.")
    classes: Optional[List[str]] = Field(
        None, description="multiclass: every class, as the data spells it; the model's scores "
                          "come in this order and serving answers with these names.")
    derive: Optional[RatioAboveLabel] = None
    max_underivable_fraction: float = Field(0.01, ge=0.0, le=1.0)

    @field_validator("positive_class", mode="before")
    @classmethod
    def _as_spelled(cls, value):
        # YAML reads `yes`, `true` as booleans and `1.0` as a float: their spelling in the data
        # is lost, so only an integer is taken as it would be written.
        if isinstance(value, bool) or isinstance(value, float):
            raise ValueError(f"{value!r} is not the text of a class: quote it as the data spells "
                             "it, e.g. positive_class: 'yes'")
        if isinstance(value, int):
            return str(value)
        return value

    @field_validator("classes", mode="before")
    @classmethod
    def _classes_as_spelled(cls, values):
        if values is None:
            return None
        if not isinstance(values, list):
            raise ValueError("'classes' is a list of the label's values")
        return [cls._as_spelled(value) for value in values]

    @model_validator(mode="after")
    def _fits_the_task(self) -> "LabelConfig":
        if self.task != "binary" and self.column is None:
            raise ValueError(f"a {self.task} label needs 'column' ('derive' makes a binary label)")
        if self.task != "binary" and self.positive_class is not None:
            raise ValueError(f"'positive_class' is for binary labels, not {self.task}")
        if self.task == "multiclass":
            if not self.classes or len(self.classes) < 2:
                raise ValueError("a multiclass label needs 'classes': at least two values")
            _distinct(self.classes, "class")
            if any(value.strip() == "" for value in self.classes):
                raise ValueError("'classes' cannot hold an empty value")
        elif self.classes is not None:
            raise ValueError(f"'classes' is for multiclass labels, not {self.task}")
        return self

    @model_validator(mode="after")
    def _one_source(self) -> "LabelConfig":
        if (self.column is None) == (self.derive is None):
            raise ValueError("give exactly one of 'column' or 'derive'")
        if self.positive_class is not None and self.column is None:
            raise ValueError("'positive_class' goes with 'column', not with 'derive'")
        if self.positive_class is not None and self.positive_class.strip() == "":
            raise ValueError("'positive_class' cannot be empty")
        return self

    def is_positive(self, text: str) -> bool:
        """Whether a label cell (its text in the CSV) is the positive class: equal to
        `positive_class` (as numbers when both are numbers, so 1 matches 1.0), or, with no
        `positive_class`, a number equal to 1; preprocessing_fn applies the same rule. A blank
        cell is never positive."""
        positive = "1" if self.positive_class is None else self.positive_class
        return text == positive or _same_number(text, positive)

    def class_index(self, text: str) -> Optional[int]:
        """multiclass: the position of a label cell's class in `classes` (numbers compared as
        numbers, so 1 matches 1.0), or None for a value that is not a class."""
        for index, name in enumerate(self.classes or []):
            if text == name or _same_number(text, name):
                return index
        return None

    @property
    def source_columns(self) -> List[str]:
        if self.column is not None:
            return [self.column]
        return [self.derive.numerator, self.derive.denominator]


class FeaturesConfig(Strict):
    numeric: List[str] = Field(
        default_factory=list,
        description="Clipped to their 0.5%-99.5% range, z-scored; a missing value is the mean.")
    missing_indicators: bool = Field(
        True, description="Beside each numeric feature, a 0/1 input that says its value was "
                          "missing (as a data scientist's imputer adds): a blank can mean "
                          "something of its own. False: a missing value is only the mean.")
    numeric_bins: int = Field(
        0, ge=0, le=100,
        description="0, or 2..100: each numeric feature also enters the model as a piecewise-"
                    "linear encoding over this many quantile bins (a tree-like, saturating view "
                    "of the value; helps from a few thousand rows, overfits tiny tables).")
    categorical: List[str] = Field(default_factory=list,
                                   description="Vocabulary with OOV buckets (strings or ints).")
    bucketized: Dict[str, int] = Field(default_factory=dict,
                                       description="Feature -> number of quantile buckets.")
    vocab_top_k: int = Field(1000, ge=1)
    oov_buckets: int = Field(10, ge=1)

    @field_validator("numeric_bins")
    @classmethod
    def _several_bins(cls, bins: int) -> int:
        if bins == 1:
            raise ValueError("one bin is the scaled value itself: use 0 (off) or 2..100")
        return bins

    @model_validator(mode="after")
    def _not_empty(self) -> "FeaturesConfig":
        if not (self.numeric or self.categorical or self.bucketized):
            raise ValueError("at least one feature is needed")
        return self

    @property
    def raw_columns(self) -> List[str]:
        """Every input column the model reads, once each, in a stable order."""
        return sorted(set(self.numeric) | set(self.categorical) | set(self.bucketized))


class TrainConfig(Strict):
    epochs: int = Field(4, ge=1)
    batch_size: int = Field(512, ge=1, description="Rows per training step, across all replicas "
                                                  "(several GPUs or workers split each batch).")
    hidden_units: List[int] = Field(default_factory=lambda: [64, 32])
    learning_rate: float = Field(0.01, gt=0)
    piecewise: bool = Field(
        True, description="Feed the model the piecewise-linear encodings of "
                          "`features.numeric_bins` (when there are some). Off, the model reads "
                          "each number as its z-score alone: a linear model on such a table then "
                          "stays linear in the numbers, which can generalise better. Transform "
                          "computes the encodings either way, so the Tuner can search this.")
    distribution: Literal["auto", "one_device", "mirrored", "multi_worker"] = Field(
        "auto", description="How training spreads over devices: one_device; mirrored over the "
                            "local accelerators (CPU logical devices where there is none); "
                            "multi_worker over the cluster the orchestrator describes "
                            "(TF_CONFIG, or Vertex AI's CLUSTER_SPEC); auto picks from what the "
                            "machine has and says which.")
    devices: Optional[int] = Field(
        None, ge=1, description="mirrored: how many local devices (default: every one).")
    mixed_precision: bool = Field(
        False, description="Compute in 16-bit floats (float16 on a GPU of compute capability "
                           "7.0 or more, bfloat16 on a CPU with bfloat16 instructions), keep "
                           "weights and outputs in float32. Where the hardware has neither, the "
                           "run says so and trains in float32.")
    jit_compile: bool = Field(
        False, description="Compile the training step with XLA. Where the model cannot be "
                           "compiled, the run says why and trains without it.")
    in_memory_mb: int = Field(
        1024, ge=0, description="The transformed train split is read once and held in memory "
                                "(each epoch then reshuffles it there) when it takes at most this "
                                "many MB; a larger one is streamed from its files every epoch. "
                                "0: always streamed.")
    seed: int = Field(0, description="Seeds weight initialisation and shuffling: reruns agree.")
    ensemble: int = Field(
        1, ge=1, le=10,
        description="Networks trained side by side from their own initial weights, their "
                    "outputs averaged: steadier than one network (whose quality varies from "
                    "seed to seed), at this many times the training and scoring compute.")
    warm_start: bool = Field(
        False, description="Start from the weights of the latest blessed model when its inputs "
                           "match (same features, same one-hot widths: each categorical feature "
                           "is then vocab_top_k + oov_buckets wide, fixed by the config), else "
                           "a cold start with a log line saying why.")
    warm_start_epochs: Optional[int] = Field(
        None, ge=1, description="Epochs of a warm-started training (default: half of epochs, "
                                "at least 1); a cold start trains `epochs`.")

    @model_validator(mode="before")
    @classmethod
    def _strategy_was_renamed(cls, values):
        if isinstance(values, dict) and "strategy" in values:
            raise ValueError("'strategy' is now 'distribution' (auto, one_device, mirrored, "
                             "multi_worker; 'default' is now 'one_device')")
        return values

    @model_validator(mode="after")
    def _devices_need_mirrored(self) -> "TrainConfig":
        if self.devices is not None and self.distribution != "mirrored":
            raise ValueError("devices applies only with distribution: mirrored")
        return self

    @model_validator(mode="after")
    def _warm_epochs_need_warm_start(self) -> "TrainConfig":
        if self.warm_start_epochs is not None and not self.warm_start:
            raise ValueError("warm_start_epochs applies only with warm_start: true")
        return self

    @property
    def epochs_when_warm(self) -> int:
        return self.warm_start_epochs or max(1, self.epochs // 2)


class Bound(Strict):
    min: Optional[float] = None
    max: Optional[float] = None

    @model_validator(mode="after")
    def _bounds_something(self) -> "Bound":
        if self.min is None and self.max is None:
            raise ValueError("give 'min', 'max' or both")
        return self


def _same_number(a: str, b: str) -> bool:
    try:
        return float(a) == float(b)
    except ValueError:
        return False


def _distinct(items: List[str], what: str) -> List[str]:
    repeated = sorted({item for item in items if items.count(item) > 1})
    if repeated:
        raise ValueError(f"{what}(s) {repeated} listed more than once")
    return items


def _only_known(metrics: Dict[str, object], known, what: str) -> Dict[str, object]:
    unknown = sorted(set(metrics) - known)
    if unknown:
        raise ValueError(f"unknown {what}(s) {unknown}; known: {sorted(known)}")
    return metrics


class FairnessBound(Strict):
    """Bounds on one rate metric, applied to every judged slice of every sensitive feature."""

    max: Optional[float] = Field(None, ge=0.0, le=1.0, description="Largest allowed value.")
    min: Optional[float] = Field(None, ge=0.0, le=1.0, description="Smallest allowed value.")
    max_gap: Optional[float] = Field(
        None, ge=0.0, le=1.0,
        description="Largest allowed distance |slice value - overall value|.")

    @model_validator(mode="after")
    def _bounds_something(self) -> "FairnessBound":
        if self.max is None and self.min is None and self.max_gap is None:
            raise ValueError("give 'max', 'min', 'max_gap' or several")
        if self.max is not None and self.min is not None and self.min > self.max:
            raise ValueError(f"'min' {self.min} is above 'max' {self.max}")
        return self


class FairnessConfig(Strict):
    """Rate metrics compared across the slices of sensitive features; a model that breaks a
    bound on a slice with at least `min_slice_size` examples is not blessed."""

    features: List[str] = Field(min_length=1,
                                description="Sensitive features: each value is a slice.")
    metrics: Dict[str, FairnessBound] = Field(
        min_length=1, description="Rate metric (TFMA's key, e.g. fpr) -> its bounds.")
    min_slice_size: Optional[int] = Field(
        None, ge=1, description="Smaller slices are shown, not judged (default: "
                                "evaluation.min_slice_size).")

    @field_validator("features")
    @classmethod
    def _distinct_features(cls, features: List[str]) -> List[str]:
        return _distinct(features, "feature")

    @field_validator("metrics")
    @classmethod
    def _rate_metrics(cls, metrics: Dict[str, FairnessBound]) -> Dict[str, FairnessBound]:
        return _only_known(metrics, RATE_METRIC_NAMES, "rate metric")


class EvaluationConfig(Strict):
    kpi: Dict[str, Bound] = Field(description="Metric -> absolute bound the model must meet.")
    max_regression: Dict[str, float] = Field(
        default_factory=dict,
        description="Metric -> how much worse than the latest blessed model is tolerated.")
    slices: List[List[str]] = Field(default_factory=list)
    main_metric: Optional[str] = Field(
        None, description="Slices are ranked by it (default: auc, accuracy or rmse by task).")
    plot_range: Optional[List[float]] = Field(
        None, min_length=2, max_length=2,
        description="regression: [low, high] of the predicted-vs-actual plot's axis (mlpipe "
                    "init writes the label's range in the data).")
    min_slice_size: int = Field(100, ge=1)
    fairness: Optional[FairnessConfig] = None
    confidence_intervals: bool = Field(
        False, description="95% intervals on every metric (TFMA's jackknife): shown on the model "
                           "card; costs the Evaluator many times its time (see README).")

    @property
    def fairness_min_slice_size(self) -> int:
        """The fewest examples a slice needs to be judged for fairness."""
        if self.fairness is None or self.fairness.min_slice_size is None:
            return self.min_slice_size
        return self.fairness.min_slice_size

    @field_validator("kpi", "max_regression")
    @classmethod
    def _known_metrics(cls, metrics: Dict[str, object]) -> Dict[str, object]:
        return _only_known(metrics, METRIC_NAMES, "metric")

    @field_validator("main_metric")
    @classmethod
    def _known_main_metric(cls, name: Optional[str]) -> Optional[str]:
        if name is not None and name not in METRIC_NAMES:
            raise ValueError(f"unknown metric {name!r}; known: {sorted(METRIC_NAMES)}")
        return name

    @field_validator("plot_range")
    @classmethod
    def _increasing(cls, plot_range: Optional[List[float]]) -> Optional[List[float]]:
        if plot_range is not None and not plot_range[0] < plot_range[1]:
            raise ValueError(f"[low, high] with low < high, got {plot_range}")
        return plot_range

    def check_task(self, task: str) -> None:
        """Every metric named is one TFMA computes for `task`, KPI bounds sit on the side where
        the metric gets worse, and `max_regression` names only metrics with a direction."""
        allowed = metric_names(task)
        for field, names in (("evaluation.kpi", self.kpi), ("evaluation.max_regression",
                                                            self.max_regression),
                             ("evaluation.main_metric", [self.main_metric] if self.main_metric
                              else [])):
            wrong = sorted(set(names) - allowed)
            if wrong:
                raise ValueError(f"{field}: {wrong} not computed for a {task} problem; "
                                 f"allowed: {sorted(allowed)}")
        for name, bound in self.kpi.items():
            if name in HIGHER_IS_BETTER and bound.min is None:
                raise ValueError(f"evaluation.kpi.{name}: higher is better, so the KPI is a "
                                 f"floor: give 'min' (got only 'max')")
            if name in LOWER_IS_BETTER and bound.max is None:
                raise ValueError(f"evaluation.kpi.{name}: lower is better, so the KPI is a "
                                 f"ceiling: give 'max' (got only 'min')")
        ranked = HIGHER_IS_BETTER | LOWER_IS_BETTER
        not_rankable = sorted(set(self.max_regression) - ranked)
        if not_rankable:
            raise ValueError(f"evaluation.max_regression: {not_rankable} have no 'better' "
                             f"direction; use one of {sorted(ranked & allowed)}")
        if self.fairness is not None and task != "binary":
            raise ValueError("evaluation.fairness bounds rates of a binary classifier; this "
                             f"problem is {task}")
        if task != "regression" and self.plot_range is not None:
            raise ValueError(f"evaluation.plot_range is for regression, not {task}")


class BeamConfig(Strict):
    direct_running_mode: Literal["in_memory", "multi_threading", "multi_processing"] = "in_memory"
    direct_num_workers: int = Field(1, ge=0)
    evaluator_workers: int = Field(
        0, ge=0, description="Worker processes of the local Evaluator; 0: chosen from the eval "
        "split's size and the machine's cores (mlpipe.pipeline.runner_settings).")
    extra_args: List[str] = Field(default_factory=list)


class ProblemConfig(Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9-]{1,62}$")
    data: DataConfig
    label: LabelConfig
    features: FeaturesConfig
    schema_path: str = Field(alias="schema")
    train: TrainConfig = Field(default_factory=TrainConfig)
    evaluation: EvaluationConfig
    beam: BeamConfig = Field(default_factory=BeamConfig)
    serving: ServingConfig = Field(default_factory=ServingConfig)
    monitoring: MonitoringConfig = Field(default_factory=MonitoringConfig)
    model_card: ModelCardConfig = Field(default_factory=ModelCardConfig)
    cloud: Optional[CloudConfig] = None
    tune: Optional[TuneConfig] = Field(
        None, description="A hyperparameter search (TFX's Tuner) before the Trainer.")
    drift_gate: DriftGateConfig = Field(
        default_factory=DriftGateConfig,
        description="With data by span: the drift allowed between a span and the previous one.")
    source: str = Field("", description="The file this config was loaded from.")

    @model_validator(mode="before")
    @classmethod
    def _main_metric_of_the_task(cls, data):
        """The default `evaluation.main_metric` depends on the label's task."""
        if not isinstance(data, dict):
            return data
        label, evaluation = data.get("label"), data.get("evaluation")
        if isinstance(evaluation, dict) and evaluation.get("main_metric") is None:
            task = label.get("task", "binary") if isinstance(label, dict) else "binary"
            if task in DEFAULT_MAIN_METRIC:
                data = {**data, "evaluation": {**evaluation,
                                               "main_metric": DEFAULT_MAIN_METRIC[task]}}
        return data

    @model_validator(mode="after")
    def _evaluation_fits_the_task(self) -> "ProblemConfig":
        self.evaluation.check_task(self.label.task)
        return self

    @model_validator(mode="after")
    def _tune_objective_fits_the_task(self) -> "ProblemConfig":
        if self.tune is not None:
            self.tune.check_task(self.label.task)
        return self

    @model_validator(mode="after")
    def _replicas_train_one_model(self) -> "ProblemConfig":
        training = self.cloud.training if self.cloud else None
        if (training and training.replica_count > 1
                and self.train.distribution not in ("auto", "multi_worker")):
            raise ValueError(
                f"cloud.training.replica_count is {training.replica_count}, but "
                f"train.distribution is {self.train.distribution}: each replica would train a "
                "model of its own; use auto or multi_worker")
        return self

    @model_validator(mode="after")
    def _label_is_not_a_feature(self) -> "ProblemConfig":
        leaked = set(self.label.source_columns) & set(self.features.raw_columns)
        if self.label.column and leaked:
            raise ValueError(f"label column {sorted(leaked)} is also listed as a feature")
        if self.label.derive and self.label.derive.numerator in self.features.raw_columns:
            raise ValueError(f"label numerator '{self.label.derive.numerator}' is also a feature: "
                             "the model would see its own label")
        return self

    @model_validator(mode="after")
    def _fairness_features_are_features(self) -> "ProblemConfig":
        fairness = self.evaluation.fairness
        if fairness is None:
            return self
        unknown = [name for name in fairness.features if name not in self.features.raw_columns]
        if unknown:
            raise ValueError(f"evaluation.fairness.features {unknown} are not features of this "
                             f"problem; features: {self.features.raw_columns}")
        return self

    @model_validator(mode="after")
    def _drift_gate_names_features(self) -> "ProblemConfig":
        unknown = [name for name in self.drift_gate.named_features()
                   if name not in self.features.raw_columns]
        if unknown:
            raise ValueError(f"drift_gate names {unknown}, which are not features of this "
                             f"problem; features: {self.features.raw_columns}")
        return self

    @property
    def label_only_columns(self) -> List[str]:
        """Columns needed for the label but not as features: absent when serving."""
        return sorted(set(self.label.source_columns) - set(self.features.raw_columns))

    @property
    def required_columns(self) -> List[str]:
        return sorted(set(self.features.raw_columns) | set(self.label.source_columns))

