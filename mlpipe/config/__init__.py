"""The configuration layer: every section of a problem config, its checks, and its loader.

The bottom layer of the package: it imports nothing of mlpipe but `mlpipe.errors`, and every
other package takes its configuration from here (see ARCHITECTURE.md).
"""

from mlpipe.config.base import PACKAGE_ROOT, ConfigError, Strict
from mlpipe.config.cloud import CloudConfig
from mlpipe.config.drift_gate import DriftGateConfig
from mlpipe.config.loader import DEFAULT_CONFIG, load_config, resolve_path
from mlpipe.config.model_card import EthicalConsideration, ModelCardConfig, Owner
from mlpipe.config.monitoring import MonitoringConfig
from mlpipe.config.problem import (BeamConfig, Bound, DataConfig, EvaluationConfig,
                                   FairnessBound, FairnessConfig, FeaturesConfig, LabelConfig,
                                   ProblemConfig, RatioAboveLabel, TrainConfig)
from mlpipe.config.serving import ServingConfig

__all__ = [
    "PACKAGE_ROOT", "ConfigError", "Strict", "CloudConfig", "DEFAULT_CONFIG", "DriftGateConfig",
    "load_config",
    "resolve_path", "MonitoringConfig", "BeamConfig", "Bound", "DataConfig", "EvaluationConfig",
    "EthicalConsideration", "ModelCardConfig", "Owner",
    "FairnessBound", "FairnessConfig", "FeaturesConfig", "LabelConfig", "ProblemConfig",
    "RatioAboveLabel", "TrainConfig", "ServingConfig",
]
