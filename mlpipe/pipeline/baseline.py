"""Which blessed model a candidate is compared with.

TFX's LatestBlessedModelStrategy returns the latest blessed model even when that model is the
candidate itself (an unchanged re-run whose Trainer was cached): the Evaluator then re-evaluates
the model against itself and the Pusher pushes a duplicate version. This strategy takes the
candidate as an input too and returns the latest blessed model *other than* the candidate, so an
unchanged re-run has unchanged Evaluator inputs and is served from the cache end to end.
"""

from typing import Dict, List, Optional

import ml_metadata as mlmd
from tfx import types
from tfx.dsl.components.common import resolver as resolver_lib

from mlpipe.core.artifacts import blessed_model_ids

CANDIDATE_KEY = "candidate"
MODEL_KEY = "model"
BLESSING_KEY = "model_blessing"


class LatestOtherBlessedModelStrategy(resolver_lib.ResolverStrategy):

    def resolve_artifacts(self, store: mlmd.MetadataStore,
                          input_dict: Dict[str, List[types.Artifact]]
                          ) -> Optional[Dict[str, List[types.Artifact]]]:
        candidates = input_dict.get(CANDIDATE_KEY, [])
        baseline, blessing = latest_other_blessed(
            models=input_dict.get(MODEL_KEY, []), blessings=input_dict.get(BLESSING_KEY, []),
            candidate_ids={artifact.id for artifact in candidates})
        return {CANDIDATE_KEY: candidates, MODEL_KEY: baseline, BLESSING_KEY: blessing}


def latest_other_blessed(models, blessings, candidate_ids):
    """([newest blessed model not in candidate_ids], [its blessing]), or ([], [])."""
    blessing_by_model = blessed_model_ids(blessings)
    for model in sorted(models, key=lambda artifact: artifact.id, reverse=True):
        if model.id in blessing_by_model and model.id not in candidate_ids:
            return [model], [blessing_by_model[model.id]]
    return [], []
