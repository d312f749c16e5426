"""The optional `monitoring:` section of a problem config: drift/skew thresholds."""

from typing import Any, Dict, List, Optional

from pydantic import Field, field_validator, model_validator

from mlpipe.config.base import Strict

# Keys of the TFDV comparators these sections used to set, and what replaced them.
REPLACED_KEYS = {
    "numeric_threshold": (
        "numeric_threshold (a Jensen-Shannon divergence of equal-width histograms, moved by one "
        "outlier) was replaced by numeric_psi: the population stability index over the "
        "baseline's deciles (default 0.1)"),
    "thresholds": (
        "thresholds was replaced by feature_thresholds: a feature's own threshold in its "
        "measure (PSI for numbers, L-infinity for strings)"),
}


class DriftThresholds(Strict):
    """How far a feature's distribution may move (`mlpipe.core.drift` measures it): shared by
    `monitoring:` (live data against the training data) and `drift_gate:` (a span against the
    previous one). A distance also has to exceed what chance gives samples of these sizes."""

    categorical_threshold: float = Field(
        0.08, gt=0, le=1,
        description="L-infinity distance between value shares (string features: the largest "
                    "change of one value's share, 0.08 = 8 points) above which a feature has "
                    "drifted. Below 0.1 so that 10% of rows taking a value never seen is "
                    "caught (`make bench-drift`).")
    numeric_psi: float = Field(
        0.1, gt=0, le=10,
        description="Population stability index over the baseline's deciles and missing "
                    "values (numeric features) above which a feature has drifted; 0.1 is the "
                    "usual line of a moderate shift, 0.25 of a major one.")
    feature_thresholds: Dict[str, float] = Field(
        default_factory=dict,
        description="Feature -> its own threshold in its measure (PSI for numbers, L-infinity "
                    "for strings), overriding the above.")

    @model_validator(mode="before")
    @classmethod
    def _no_replaced_keys(cls, values: Any) -> Any:
        if isinstance(values, dict):
            replaced = [REPLACED_KEYS[key] for key in REPLACED_KEYS if key in values]
            if replaced:
                raise ValueError("; ".join(replaced))
        return values

    @field_validator("feature_thresholds")
    @classmethod
    def _positive(cls, thresholds: Dict[str, float]) -> Dict[str, float]:
        wrong = {name: value for name, value in thresholds.items() if not 0 < value <= 10}
        if wrong:
            raise ValueError(f"feature thresholds must be in (0, 10] (PSI) or (0, 1] "
                             f"(L-infinity), got {wrong}")
        return thresholds


class MonitoringConfig(DriftThresholds):
    features: Optional[List[str]] = Field(
        None, description="Features to compare (default: the model's features).")
    min_rows: int = Field(
        100, ge=1, description="With fewer new rows, distances are shown but raise no alarm "
                               "(a handful of rows always looks drifted).")
