"""The problem config: a typed, validated description of one ML problem.

Everything problem-specific (data, label, features, training budget, KPI, slices) lives here, so
a second tabular binary problem needs a new config and schema, not new Python. The file is read
by `mlpipe.config.loader.load_config`; every check that can be made on the file alone is made
here, so a bad config fails at load time (exit 2), never inside a component.
"""

from __future__ import annotations

from typing import Dict, List, Literal, Optional

from pydantic import Field, field_validator, model_validator

from mlpipe.config.base import Strict
from mlpipe.config.cloud import CloudConfig
from mlpipe.config.metrics import HIGHER_IS_BETTER, METRIC_NAMES, RATE_METRIC_NAMES
from mlpipe.config.model_card import ModelCardConfig
from mlpipe.config.monitoring import MonitoringConfig
from mlpipe.config.serving import ServingConfig


class DataConfig(Strict):
    path: str = Field(description="A CSV file, or a folder of CSV files with the same header.")
    format: Literal["csv"] = "csv"
    split: Dict[str, int] = Field(default_factory=lambda: {"train": 2, "eval": 1},
                                  description="Hash-bucket weights of the train and eval splits.")
    score_path: Optional[str] = Field(
        None, description="Unlabelled CSV file or folder: scored in the pipeline by BulkInferrer "
                          "with the new model once it is blessed.")
    missing_values: List[str] = Field(
        default_factory=list,
        description="Cell texts that mean 'no value' (e.g. NA, NaN, null), in every column, "
                    "besides an empty cell. TFX reads a CSV's tokens as text, so a local run "
                    "ingests a copy with these cells blanked (staged in the run home).")

    @field_validator("missing_values")
    @classmethod
    def _real_tokens(cls, tokens: List[str]) -> List[str]:
        if any(token.strip() == "" for token in tokens):
            raise ValueError("an empty or blank token is always missing: list only the others")
        if any(("," in token or '"' in token or "\n" in token) for token in tokens):
            raise ValueError("a token cannot hold a comma, a quote or a line break")
        return _distinct(tokens, "token")

    @field_validator("split")
    @classmethod
    def _train_and_eval(cls, split: Dict[str, int]) -> Dict[str, int]:
        if set(split) != {"train", "eval"}:
            raise ValueError(f"must name exactly the splits 'train' and 'eval', got {sorted(split)}")
        if any(weight < 1 for weight in split.values()):
            raise ValueError("split weights must be positive integers")
        return split


class RatioAboveLabel(Strict):
    """label = numerator / denominator > threshold; rows with denominator <= 0 are underivable."""

    kind: Literal["ratio_above"] = "ratio_above"
    numerator: str
    denominator: str
    threshold: float


SUPPORTED_TASKS = ("binary",)


class LabelConfig(Strict):
    name: str
    task: str = Field("binary", description="What is predicted: 'binary' (P(label = 1)), the "
                                            "one task this version supports.")
    column: Optional[str] = Field(
        None, description="An existing column used as the label: 0/1, or any values with "
                          "`positive_class` naming the one that means 1.")
    positive_class: Optional[str] = Field(
        None, description="With `column`: the value (as the data spells it) that is label 1; "
                          "every other value is 0. Required unless the column holds 0/1.")
    derive: Optional[RatioAboveLabel] = None
    max_underivable_fraction: float = Field(0.01, ge=0.0, le=1.0)

    @field_validator("task")
    @classmethod
    def _supported_task(cls, task: str) -> str:
        if task not in SUPPORTED_TASKS:
            raise ValueError(f"task {task!r} is not supported by this version of mlpipe: only "
                             f"{', '.join(SUPPORTED_TASKS)} (a label with two values); "
                             "multiclass and regression are not supported yet")
        return task

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
        if text == positive:
            return True
        try:
            return float(text) == float(positive)
        except ValueError:
            return False

    @property
    def source_columns(self) -> List[str]:
        if self.column is not None:
            return [self.column]
        return [self.derive.numerator, self.derive.denominator]


class FeaturesConfig(Strict):
    numeric: List[str] = Field(default_factory=list, description="Imputed, then z-scored.")
    categorical: List[str] = Field(default_factory=list,
                                   description="Vocabulary with OOV buckets (strings or ints).")
    bucketized: Dict[str, int] = Field(default_factory=dict,
                                       description="Feature -> number of quantile buckets.")
    vocab_top_k: int = Field(1000, ge=1)
    oov_buckets: int = Field(10, ge=1)

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
    batch_size: int = Field(512, ge=1)
    hidden_units: List[int] = Field(default_factory=lambda: [64, 32])
    learning_rate: float = Field(0.01, gt=0)
    strategy: Literal["auto", "default", "mirrored", "multi_worker"] = "auto"
    seed: int = Field(0, description="Seeds weight initialisation and shuffling: reruns agree.")


class Bound(Strict):
    min: Optional[float] = None
    max: Optional[float] = None

    @model_validator(mode="after")
    def _bounds_something(self) -> "Bound":
        if self.min is None and self.max is None:
            raise ValueError("give 'min', 'max' or both")
        return self


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
    main_metric: str = "auc"
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

    @field_validator("max_regression")
    @classmethod
    def _rankable(cls, regression: Dict[str, float]) -> Dict[str, float]:
        not_rankable = sorted(set(regression) - HIGHER_IS_BETTER)
        if not_rankable:
            raise ValueError(f"{not_rankable} have no 'better' direction; use one of "
                             f"{sorted(HIGHER_IS_BETTER)}")
        return regression

    @field_validator("main_metric")
    @classmethod
    def _known_main_metric(cls, name: str) -> str:
        if name not in METRIC_NAMES:
            raise ValueError(f"unknown metric {name!r}; known: {sorted(METRIC_NAMES)}")
        return name


class BeamConfig(Strict):
    direct_running_mode: Literal["in_memory", "multi_threading", "multi_processing"] = "in_memory"
    direct_num_workers: int = Field(1, ge=0)
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
    source: str = Field("", description="The file this config was loaded from.")

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

    @property
    def label_only_columns(self) -> List[str]:
        """Columns needed for the label but not as features: absent when serving."""
        return sorted(set(self.label.source_columns) - set(self.features.raw_columns))

    @property
    def required_columns(self) -> List[str]:
        return sorted(set(self.features.raw_columns) | set(self.label.source_columns))

