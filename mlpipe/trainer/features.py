"""What the trainer needs to know of the problem, and the names of the transformed features.

The pipeline passes the problem's label and feature sections to Transform and Trainer in
`custom_config`; both sides rebuild a `ProblemSpec` from it, so the naming below is the one
contract between preprocessing and the model.
"""

import dataclasses
from typing import Any, Dict, List, Tuple

from mlpipe.config import FeaturesConfig, LabelConfig, TrainConfig

CUSTOM_CONFIG_KEY = "problem"


@dataclasses.dataclass(frozen=True)
class ProblemSpec:
    label: LabelConfig
    features: FeaturesConfig
    train: TrainConfig

    def to_custom_config(self) -> Dict[str, Any]:
        return {CUSTOM_CONFIG_KEY: {
            "label": self.label.model_dump(),
            "features": self.features.model_dump(),
            "train": self.train.model_dump(),
        }}

    @classmethod
    def from_custom_config(cls, custom_config: Dict[str, Any]) -> "ProblemSpec":
        if not custom_config or CUSTOM_CONFIG_KEY not in custom_config:
            raise ValueError(f"custom_config lacks the '{CUSTOM_CONFIG_KEY}' section the pipeline "
                             "passes to Transform and Trainer")
        section = custom_config[CUSTOM_CONFIG_KEY]
        return cls(label=LabelConfig.model_validate(section["label"]),
                   features=FeaturesConfig.model_validate(section["features"]),
                   train=TrainConfig.model_validate(section["train"]))

    @property
    def label_key(self) -> str:
        return self.label.name

    @property
    def serving_columns(self) -> List[str]:
        """Raw columns a serving request carries: the features, never the label's sources."""
        return self.features.raw_columns

    def scalar_keys(self) -> List[str]:
        """The transformed keys of one float per row: each numeric's z-score and, with
        `features.missing_indicators`, its missing indicator."""
        flags = self.features.numeric if self.features.missing_indicators else []
        return ([numeric_key(name) for name in self.features.numeric]
                + [missing_key(name) for name in flags])

    def piecewise_keys_and_sizes(self) -> List[Tuple[str, int]]:
        """(transformed key, number of bins) of the numerics' piecewise-linear encodings that
        the model reads: none without `features.numeric_bins`, or with `train.piecewise` off
        (Transform still writes them, so a Tuner can try the model with and without)."""
        bins = self.features.numeric_bins
        if not bins or not self.train.piecewise:
            return []
        return [(piecewise_key(name), bins) for name in self.features.numeric]

    def categorical_keys_and_sizes(self, vocabulary_size) -> List[Tuple[str, int]]:
        """(transformed key, one-hot width); `vocabulary_size(name)` reads a Transform vocabulary.
        With warm start the width is fixed by the config (vocab_top_k + oov_buckets), so that a
        model trained on another span has the same shapes."""
        keys = [(categorical_key(name), self._vocabulary_width(vocabulary_size, name)
                 + self.features.oov_buckets)
                for name in self.features.categorical]
        # One extra bucket holds missing values.
        keys += [(bucket_key(name), buckets + 1)
                 for name, buckets in sorted(self.features.bucketized.items())]
        return keys

    def _vocabulary_width(self, vocabulary_size, name: str) -> int:
        if self.train.warm_start:
            return self.features.vocab_top_k
        return vocabulary_size(vocabulary_name(name))


def numeric_key(name: str) -> str:
    return f"{name}_z"


def missing_key(name: str) -> str:
    return f"{name}_missing"


def piecewise_key(name: str) -> str:
    return f"{name}_bins"


def categorical_key(name: str) -> str:
    return f"{name}_id"


def bucket_key(name: str) -> str:
    return f"{name}_bucket"


def vocabulary_name(name: str) -> str:
    return f"{name}_vocab"
