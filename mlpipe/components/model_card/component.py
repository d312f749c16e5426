"""The ModelCard component: spec, output artifact type, component class, and its wiring into
`create_pipeline()` wires it after the Pusher.

It runs after the Pusher, under every orchestrator alike (local Beam, Kubeflow, Vertex AI), and
writes `model_card.json` and `model_card.html` into the pushed version's folder, beside the
SavedModel, when the Pusher pushed; when it did not (model not blessed) it writes nothing and
says so (log, and `written` = 0 on its output artifact). Its inputs are the run's own artifacts:
the Pusher's pushed model, the Trainer's model, the Evaluator's evaluation and blessing,
StatisticsGen's statistics, the schema, and, when the graph has them, the FeatureAttributions
output and the FairnessGate's fairness checks.
"""

import json
from typing import Optional

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

from mlpipe.components import attributions as feature_attributions
from mlpipe.components.fairness_gate.component import FairnessChecksArtifact
from mlpipe.components.model_card import executor
from mlpipe.config import ProblemConfig

NODE_ID = "ModelCard"                 # the node's id in the pipeline

PUSHED_MODEL_KEY = "pushed_model"
MODEL_KEY = "model"
EVALUATION_KEY = "evaluation"
BLESSING_KEY = "blessing"
STATISTICS_KEY = "statistics"
SCHEMA_KEY = "schema"
ATTRIBUTIONS_KEY = "attributions"
FAIRNESS_KEY = "fairness"
MODEL_CARD_KEY = "model_card"         # output: where the card went
CARD_CONFIG_KEY = "card_config"       # exec property: the config's model_card section as JSON
PROBLEM_KEY = "problem"               # exec property: the problem facts (see problem_facts)


class ModelCardArtifact(types.Artifact):
    """Where a version's model card was written (custom properties `written`, `card_uri`); the
    card's files live beside the pushed model, not in this artifact's folder.

    Kubeflow / Vertex need a custom type name of the form `<namespace>.<Title>`."""
    TYPE_NAME = "mlpipe.ModelCard"


class ModelCardSpec(ComponentSpec):
    PARAMETERS = {
        CARD_CONFIG_KEY: ExecutionParameter(type=str),
        PROBLEM_KEY: ExecutionParameter(type=str),
    }
    INPUTS = {
        PUSHED_MODEL_KEY: ChannelParameter(type=standard_artifacts.PushedModel),
        MODEL_KEY: ChannelParameter(type=standard_artifacts.Model),
        EVALUATION_KEY: ChannelParameter(type=standard_artifacts.ModelEvaluation),
        BLESSING_KEY: ChannelParameter(type=standard_artifacts.ModelBlessing),
        STATISTICS_KEY: ChannelParameter(type=standard_artifacts.ExampleStatistics),
        SCHEMA_KEY: ChannelParameter(type=standard_artifacts.Schema),
        ATTRIBUTIONS_KEY: ChannelParameter(
            type=feature_attributions.FeatureAttributionsArtifact, optional=True),
        FAIRNESS_KEY: ChannelParameter(type=FairnessChecksArtifact, optional=True),
    }
    OUTPUTS = {
        MODEL_CARD_KEY: ChannelParameter(type=ModelCardArtifact),
    }


class ModelCard(base_component.BaseComponent):
    SPEC_CLASS = ModelCardSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self, pushed_model: types.BaseChannel, model: types.BaseChannel,
                 evaluation: types.BaseChannel, blessing: types.BaseChannel,
                 statistics: types.BaseChannel, schema: types.BaseChannel,
                 card_config: str, problem: str,
                 attributions: Optional[types.BaseChannel] = None,
                 fairness: Optional[types.BaseChannel] = None):
        for name, text in ((CARD_CONFIG_KEY, card_config), (PROBLEM_KEY, problem)):
            if not isinstance(json.loads(text), dict):
                raise ValueError(f"{name} must be a JSON object, got {text[:80]!r}")
        optional = {key: channel for key, channel in ((ATTRIBUTIONS_KEY, attributions),
                                                      (FAIRNESS_KEY, fairness))
                    if channel is not None}
        super().__init__(spec=ModelCardSpec(
            pushed_model=pushed_model, model=model, evaluation=evaluation, blessing=blessing,
            statistics=statistics, schema=schema, card_config=card_config, problem=problem,
            model_card=types.Channel(type=ModelCardArtifact), **optional))


def problem_facts(config: ProblemConfig, data_path: Optional[str] = None) -> str:
    """The ModelCard's `problem` exec property: what the card says of the problem (name, label,
    features, training hyperparameters, KPI and evaluation settings, the data it was trained
    on), as stable JSON, so an unchanged config keeps the step's cache key."""
    evaluation = config.evaluation
    return json.dumps({
        "name": config.name,
        "label": config.label.model_dump(mode="json", exclude_none=True),
        "features": {"numeric": list(config.features.numeric),
                     "categorical": list(config.features.categorical),
                     "bucketized": dict(config.features.bucketized)},
        "train": config.train.model_dump(mode="json"),
        "evaluation": {"kpi": {name: bound.model_dump(exclude_none=True)
                               for name, bound in evaluation.kpi.items()},
                       "max_regression": dict(evaluation.max_regression),
                       "main_metric": evaluation.main_metric,
                       "min_slice_size": evaluation.min_slice_size,
                       "slices": [list(keys) for keys in evaluation.slices]},
        "data_path": data_path or config.data.path,
    }, sort_keys=True)
