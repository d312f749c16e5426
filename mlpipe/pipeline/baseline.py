"""Which blessed model a candidate is compared with, and which one a warm start starts from.

TFX's LatestBlessedModelStrategy returns the latest blessed model even when that model is the
candidate itself (an unchanged re-run whose Trainer was cached): the Evaluator then re-evaluates
the model against itself and the Pusher pushes a duplicate version. This strategy takes the
candidate as an input too and returns the latest blessed model *other than* the candidate, so an
unchanged re-run has unchanged Evaluator inputs and is served from the cache end to end.

Warm start has the same trap one step earlier: the latest blessed model of an unchanged re-run is
the one the previous run trained on the very same data, so the Trainer's `base_model` would change
and the re-run would fine-tune that model again. `WarmStartModelStrategy` takes the run's training
data (Transform's output, cached on an unchanged re-run) and returns the latest blessed model that
was not trained on it. KFP v2 / Vertex AI compile only TFX's built-in strategies: there, TFX's
LatestBlessedModelStrategy is used for both, and a re-run retrains.
"""

from typing import Dict, List, Optional, Set

import ml_metadata as mlmd
from ml_metadata.proto import metadata_store_pb2
from tfx import types
from tfx.dsl.components.common import resolver as resolver_lib

from mlpipe.core import lineage
from mlpipe.core.artifacts import blessed_model_ids

CANDIDATE_KEY = "candidate"
TRAINING_DATA_KEY = "training_data"
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


class WarmStartModelStrategy(resolver_lib.ResolverStrategy):

    def resolve_artifacts(self, store: mlmd.MetadataStore,
                          input_dict: Dict[str, List[types.Artifact]]
                          ) -> Optional[Dict[str, List[types.Artifact]]]:
        training_data = input_dict.get(TRAINING_DATA_KEY, [])
        models = input_dict.get(MODEL_KEY, [])
        same_data = {model.id for model in models
                     if trained_on(store, model.id) & {artifact.id for artifact in training_data}}
        base, blessing = latest_other_blessed(
            models=models, blessings=input_dict.get(BLESSING_KEY, []), candidate_ids=same_data)
        return {TRAINING_DATA_KEY: training_data, MODEL_KEY: base, BLESSING_KEY: blessing}


def trained_on(store: mlmd.MetadataStore, model_id: int) -> Set[int]:
    """Ids of the artifacts the Trainer execution that produced `model_id` read as `examples`."""
    producers = [event.execution_id for event in store.get_events_by_artifact_ids([model_id])
                 if event.type == metadata_store_pb2.Event.OUTPUT]
    return {artifact.id for producer in producers
            for artifact in lineage.input_artifacts(store, producer, "examples")}
