"""The problem config: a typed, validated description of one ML problem, loaded from YAML.

Everything problem-specific (data, label, features, training budget, KPI, slices) lives here, so
a second tabular binary problem needs a new config and schema, not new Python. Paths in the file
are resolved once, at load time: relative to the config file, or `pkg://PACKAGE/...` for data
shipped inside an installed Python package.
"""

from __future__ import annotations

import importlib.util
import pathlib
from typing import Dict, List, Literal, Optional

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from mlpipe.kubeflow.settings import CloudConfig
from mlpipe.monitoring.settings import MonitoringConfig
from mlpipe.serving.settings import ServingConfig

DEFAULT_CONFIG = pathlib.Path(__file__).resolve().parent.parent / "configs" / "taxi.yaml"
PACKAGE_URI_PREFIX = "pkg://"


class ConfigError(ValueError):
    """A config file that cannot be used; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataConfig(_Strict):
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


class RatioAboveLabel(_Strict):
    """label = numerator / denominator > threshold; rows with denominator <= 0 are underivable."""

    kind: Literal["ratio_above"] = "ratio_above"
    numerator: str
    denominator: str
    threshold: float


class LabelConfig(_Strict):
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


class FeaturesConfig(_Strict):
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


class TrainConfig(_Strict):
    epochs: int = Field(4, ge=1)
    batch_size: int = Field(512, ge=1)
    hidden_units: List[int] = Field(default_factory=lambda: [64, 32])
    learning_rate: float = Field(0.01, gt=0)
    strategy: Literal["auto", "default", "mirrored", "multi_worker"] = "auto"
    seed: int = Field(0, description="Seeds weight initialisation and shuffling: reruns agree.")


class Bound(_Strict):
    min: Optional[float] = None
    max: Optional[float] = None


class EvaluationConfig(_Strict):
    kpi: Dict[str, Bound] = Field(description="Metric -> absolute bound the model must meet.")
    max_regression: Dict[str, float] = Field(
        default_factory=dict,
        description="Metric -> how much worse than the latest blessed model is tolerated.")
    slices: List[List[str]] = Field(default_factory=list)
    main_metric: str = "auc"
    min_slice_size: int = Field(100, ge=1)


class BeamConfig(_Strict):
    direct_running_mode: Literal["in_memory", "multi_threading", "multi_processing"] = "in_memory"
    direct_num_workers: int = Field(1, ge=0)
    extra_args: List[str] = Field(default_factory=list)


class ProblemConfig(_Strict):
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

    def with_overrides(self, **changes) -> "ProblemConfig":
        """A copy with top-level sections replaced (used by tests and the benchmark)."""
        return self.model_copy(update=changes)


def load_config(path: Optional[str | pathlib.Path] = None) -> ProblemConfig:
    """Reads, resolves and validates a problem config; raises ConfigError naming file and field."""
    config_path = pathlib.Path(path) if path else DEFAULT_CONFIG
    if not config_path.is_file():
        raise ConfigError(f"config file not found: {config_path}")
    try:
        raw = yaml.safe_load(config_path.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"{config_path}: not valid YAML: {err}") from err
    if not isinstance(raw, dict):
        raise ConfigError(f"{config_path}: expected a mapping of sections, got {type(raw).__name__}")
    try:
        config = ProblemConfig.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(f"{config_path}: invalid config:\n{_describe(err)}") from err
    base = config_path.resolve().parent
    schema_path = resolve_path(config.schema_path, base)
    if "://" not in schema_path and not pathlib.Path(schema_path).is_file():
        raise ConfigError(f"{config_path}: schema: file not found: {schema_path}")
    data_paths = {"path": resolve_path(config.data.path, base)}
    if config.data.score_path:
        data_paths["score_path"] = resolve_path(config.data.score_path, base)
    return config.model_copy(update={
        "data": config.data.model_copy(update=data_paths),
        "schema_path": schema_path,
        "source": str(config_path.resolve()),
    })


def resolve_path(value: str, base: pathlib.Path) -> str:
    """`pkg://pkg/rel` -> inside an installed package; relative -> against `base`; else as is."""
    if value.startswith(PACKAGE_URI_PREFIX):
        package, _, relative = value[len(PACKAGE_URI_PREFIX):].partition("/")
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise ConfigError(f"{value}: package '{package}' is not installed")
        return str(pathlib.Path(list(spec.submodule_search_locations)[0]) / relative)
    if "://" in value or pathlib.Path(value).is_absolute():
        return value
    return str((base / value).resolve())


def _describe(err: ValidationError) -> str:
    lines = []
    for problem in err.errors():
        field = ".".join(str(part) for part in problem["loc"]) or "(top level)"
        lines.append(f"  {field}: {problem['msg']}")
    return "\n".join(lines)
