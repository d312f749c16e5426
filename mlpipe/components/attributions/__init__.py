"""FeatureAttributions: permutation importance of each raw feature, measured in the pipeline on
the eval split through the exported serving signature (so the Transform graph is included)."""

from mlpipe.components.attributions.component import (ATTRIBUTIONS_KEY, NODE_ID,
                                                      FeatureAttributions,
                                                      FeatureAttributionsArtifact)
from mlpipe.components.attributions.executor import (ATTRIBUTIONS_FILE, METRICS_BY_TASK,
                                                     attribution_metric, permutation_importance,
                                                     read_attributions)

__all__ = ["ATTRIBUTIONS_FILE", "ATTRIBUTIONS_KEY", "METRICS_BY_TASK", "NODE_ID",
           "FeatureAttributions", "FeatureAttributionsArtifact", "attribution_metric",
           "permutation_importance", "read_attributions"]
