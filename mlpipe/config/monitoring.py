"""The optional `monitoring:` section of a problem config: drift/skew thresholds."""

from typing import Dict, List, Optional

from pydantic import Field

from mlpipe.config.base import Strict


class MonitoringConfig(Strict):
    categorical_threshold: float = Field(
        0.1, gt=0, le=1,
        description="L-infinity distance between value frequencies (string features) above "
                    "which a feature has drifted.")
    numeric_threshold: float = Field(
        0.15, gt=0, le=1,
        description="Jensen-Shannon divergence between histograms (numeric features) above "
                    "which a feature has drifted.")
    thresholds: Dict[str, float] = Field(
        default_factory=dict, description="Feature -> its own threshold, overriding the above.")
    features: Optional[List[str]] = Field(
        None, description="Features to compare (default: the model's features).")
    min_rows: int = Field(
        100, ge=1, description="With fewer new rows, distances are shown but raise no alarm "
                               "(a handful of rows always looks drifted).")
