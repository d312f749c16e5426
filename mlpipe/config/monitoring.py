"""The optional `monitoring:` section of a problem config: drift/skew thresholds."""

from typing import Dict, List, Optional

from pydantic import Field, field_validator

from mlpipe.config.base import Strict


class DriftThresholds(Strict):
    """How far a feature's distribution may move (TFDV's drift comparators, both in [0, 1]):
    shared by `monitoring:` (live data against the training data) and `drift_gate:` (a span
    against the previous one)."""

    categorical_threshold: float = Field(
        0.1, gt=0, le=1,
        description="L-infinity distance between value frequencies (string features) above "
                    "which a feature has drifted.")
    numeric_threshold: float = Field(
        0.15, gt=0, le=1,
        description="Jensen-Shannon divergence between histograms (numeric features) above "
                    "which a feature has drifted.")
    thresholds: Dict[str, float] = Field(
        default_factory=dict,
        description="Feature -> its own threshold (in (0, 1]), overriding the above.")

    @field_validator("thresholds")
    @classmethod
    def _in_unit_interval(cls, thresholds: Dict[str, float]) -> Dict[str, float]:
        wrong = {name: value for name, value in thresholds.items() if not 0 < value <= 1}
        if wrong:
            raise ValueError(f"thresholds must be in (0, 1] (a distance between 0 and 1 above "
                             f"which a feature has drifted), got {wrong}")
        return thresholds


class MonitoringConfig(DriftThresholds):
    features: Optional[List[str]] = Field(
        None, description="Features to compare (default: the model's features).")
    min_rows: int = Field(
        100, ge=1, description="With fewer new rows, distances are shown but raise no alarm "
                               "(a handful of rows always looks drifted).")
