"""The ModelCard component class (its keys, spec and types: `spec`); `create_pipeline()` wires it
after the Pusher.

It runs after the Pusher, under every orchestrator alike (local Beam, Kubeflow, Vertex AI), and
writes `model_card.json` and `model_card.html` into the pushed version's folder, beside the
SavedModel, when the Pusher pushed; when it did not (model not blessed) it writes nothing and
says so (log, and `written` = 0 on its output artifact). Its inputs are the run's own artifacts:
the Pusher's pushed model, the Trainer's model, the Evaluator's evaluation and blessing,
StatisticsGen's statistics, the schema, and, when the graph has them, the FeatureAttributions
output and the FairnessGate's fairness checks.
"""

from typing import Optional

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec

from mlpipe.components.model_card import executor
from mlpipe.components.model_card.spec import (ATTRIBUTIONS_KEY, FAIRNESS_KEY, CardFacts,
                                               ModelCardArtifact, ModelCardSpec)
from mlpipe.config import ModelCardConfig


class ModelCard(base_component.BaseComponent):
    SPEC_CLASS = ModelCardSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self, pushed_model: types.BaseChannel, model: types.BaseChannel,
                 evaluation: types.BaseChannel, blessing: types.BaseChannel,
                 statistics: types.BaseChannel, schema: types.BaseChannel,
                 card_config: str, problem: str,
                 attributions: Optional[types.BaseChannel] = None,
                 fairness: Optional[types.BaseChannel] = None):
        # Bad exec properties fail when the graph is built.
        ModelCardConfig.model_validate_json(card_config)
        CardFacts.model_validate_json(problem)
        optional = {key: channel for key, channel in ((ATTRIBUTIONS_KEY, attributions),
                                                      (FAIRNESS_KEY, fairness))
                    if channel is not None}
        super().__init__(spec=ModelCardSpec(
            pushed_model=pushed_model, model=model, evaluation=evaluation, blessing=blessing,
            statistics=statistics, schema=schema, card_config=card_config, problem=problem,
            model_card=types.Channel(type=ModelCardArtifact), **optional))
