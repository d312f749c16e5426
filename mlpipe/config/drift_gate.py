"""The optional `drift_gate:` section: how far a new span may move from the previous one.

It applies when `data.path` carries a span spec (`{SPAN}`, `{YYYY}{MM}{DD}`): the DriftGate then
compares each new span's statistics (train split) with those of the newest earlier span that
passed the gate, and stops the run before Transform when a feature's distance crosses its
threshold (and what chance gives samples of these sizes). The measures are those of
`mlpipe.core.drift`: L-infinity distance between value shares for string features, the
population stability index over the baseline's deciles for numeric ones. That the named features
are features of the problem is checked by `ProblemConfig`.
"""

from typing import List, Optional

from pydantic import Field, field_validator

from mlpipe.config.monitoring import DriftThresholds


class DriftGateConfig(DriftThresholds):
    enabled: bool = Field(True, description="false: no DriftGate in the graph, even with spans.")
    features: Optional[List[str]] = Field(
        None, description="Features compared (default: every feature of the problem). Leave "
                          "out calendar features (month, ...): they move by construction "
                          "between spans cut by time.")

    @field_validator("features")
    @classmethod
    def _distinct(cls, features: Optional[List[str]]) -> Optional[List[str]]:
        if features is None:
            return None
        if not features:
            raise ValueError("an empty list compares nothing: list features, or set "
                             "enabled: false")
        repeated = sorted({name for name in features if features.count(name) > 1})
        if repeated:
            raise ValueError(f"feature(s) {repeated} listed more than once")
        return features

    def named_features(self) -> List[str]:
        """Every feature this section names (in `features` and in `feature_thresholds`)."""
        return sorted(set(self.features or []) | set(self.feature_thresholds))

    def compared(self, model_features: List[str]) -> List[str]:
        return list(self.features) if self.features is not None else list(model_features)
