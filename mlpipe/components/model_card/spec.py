"""The ModelCard step's names and types, imported by its component and its executor alike (as
TFX's `standard_component_specs`): input, output and exec property keys, what it records on its
output, its ComponentSpec and output type, and `CardFacts`, the typed exec property the problem
config crosses into the executor as (the `model_card:` section crosses as `ModelCardConfig`).
"""

from typing import Optional

from tfx import types
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

from mlpipe.components.attributions.spec import FeatureAttributionsArtifact
from mlpipe.components.fairness_gate.spec import FairnessChecksArtifact
from mlpipe.config import (EvaluationConfig, FeaturesConfig, LabelConfig, ProblemConfig, Strict,
                           TrainConfig)

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
CARD_CONFIG_KEY = "card_config"       # exec property: ModelCardConfig as JSON
PROBLEM_KEY = "problem"               # exec property: CardFacts as JSON

# What this step records on its own output artifact.
WRITTEN_PROPERTY = "written"
CARD_URI_PROPERTY = "card_uri"


class ModelCardArtifact(types.Artifact):
    """Where a version's model card was written (custom properties `written`, `card_uri`); the
    card's files live beside the pushed model, not in this artifact's folder.

    Kubeflow / Vertex need a custom type name of the form `<namespace>.<Title>`."""
    TYPE_NAME = "mlpipe.ModelCard"


class CardFacts(Strict):
    """What the card says of the problem: its name, the config's label, features, train and
    evaluation sections as loaded (the main metric resolved for the task), and the data it was
    trained on. Not the whole config, so a change the card does not show (serving, cloud, ...)
    keeps the step's cache key."""

    name: str
    label: LabelConfig
    features: FeaturesConfig
    train: TrainConfig
    evaluation: EvaluationConfig
    data_path: str

    @classmethod
    def of(cls, config: ProblemConfig, data_path: Optional[str] = None) -> "CardFacts":
        return cls(name=config.name, label=config.label, features=config.features,
                   train=config.train, evaluation=config.evaluation,
                   data_path=data_path or config.data.path)


def problem_facts(config: ProblemConfig, data_path: Optional[str] = None) -> str:
    """The step's `problem` exec property (see `CardFacts`); values left unset are left out."""
    return CardFacts.of(config, data_path).model_dump_json(exclude_none=True)


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
        ATTRIBUTIONS_KEY: ChannelParameter(type=FeatureAttributionsArtifact, optional=True),
        FAIRNESS_KEY: ChannelParameter(type=FairnessChecksArtifact, optional=True),
    }
    OUTPUTS = {
        MODEL_CARD_KEY: ChannelParameter(type=ModelCardArtifact),
    }
