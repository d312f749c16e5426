"""FeatureAttributions: permutation importance of each raw feature, measured in the pipeline on
the eval split through the exported serving signature (so the Transform graph is included)."""

from mlpipe.components.attributions.component import FeatureAttributions
from mlpipe.components.attributions.executor import (METRICS_BY_TASK, attribution_metric,
                                                     permutation_importance, read_attributions)
from mlpipe.components.attributions.spec import (ATTRIBUTIONS_FILE, ATTRIBUTIONS_KEY, NODE_ID,
                                                 FeatureAttributionsArtifact)

__all__ = ["ATTRIBUTIONS_FILE", "ATTRIBUTIONS_KEY", "METRICS_BY_TASK", "NODE_ID",
           "FeatureAttributions", "FeatureAttributionsArtifact", "attribution_metric",
           "permutation_importance", "read_attributions"]
