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
from mlpipe.config.metrics import HIGHER_IS_BETTER, METRIC_NAMES
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


class LabelConfig(Strict):
    name: str
    column: Optional[str] = Field(None, description="An existing 0/1 column used as the label.")
    derive: Optional[RatioAboveLabel] = None
    max_underivable_fraction: float = Field(0.01, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _one_source(self) -> "LabelConfig":
        if (self.column is None) == (self.derive is None):
            raise ValueError("give exactly one of 'column' or 'derive'")
        return self

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


class EvaluationConfig(Strict):
    kpi: Dict[str, Bound] = Field(description="Metric -> absolute bound the model must meet.")
    max_regression: Dict[str, float] = Field(
        default_factory=dict,
        description="Metric -> how much worse than the latest blessed model is tolerated.")
    slices: List[List[str]] = Field(default_factory=list)
    main_metric: str = "auc"
    min_slice_size: int = Field(100, ge=1)

    @field_validator("kpi", "max_regression")
    @classmethod
    def _known_metrics(cls, metrics: Dict[str, object]) -> Dict[str, object]:
        unknown = sorted(set(metrics) - METRIC_NAMES)
        if unknown:
            raise ValueError(f"unknown metric(s) {unknown}; known: {sorted(METRIC_NAMES)}")
        return metrics

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

    @property
    def label_only_columns(self) -> List[str]:
        """Columns needed for the label but not as features: absent when serving."""
        return sorted(set(self.label.source_columns) - set(self.features.raw_columns))

    @property
    def required_columns(self) -> List[str]:
        return sorted(set(self.features.raw_columns) | set(self.label.source_columns))

