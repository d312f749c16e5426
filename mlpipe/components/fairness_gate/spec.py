"""The FairnessGate's names and types, imported by its component and its executor alike (as
TFX's `standard_component_specs`): input, output and exec property keys, what its outputs carry,
its ComponentSpec and output type, and `JudgedFairness`, the typed exec property the config's
`evaluation.fairness` section crosses into the executor as.
"""

from pydantic import Field
from tfx import types
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

from mlpipe.config import EvaluationConfig, FairnessConfig

NODE_ID = "FairnessGate"             # the node's id in the pipeline, where readers find it
EVALUATION_KEY = "evaluation"        # input: the Evaluator's ModelEvaluation
MODEL_BLESSING_KEY = "model_blessing"  # input: the Evaluator's ModelBlessing
FAIRNESS_KEY = "fairness"            # output: fairness.json
BLESSING_KEY = "blessing"            # output: the blessing the Pusher reads
SPEC_KEY = "fairness_spec"           # exec property: JudgedFairness as JSON

FAIRNESS_FILE = "fairness.json"
# What the gate records on its blessing besides TFX's `blessed`.
EVALUATOR_BLESSED_PROPERTY = "evaluator_blessed"
FAIRNESS_PASSED_PROPERTY = "fairness_passed"


class FairnessChecksArtifact(types.Artifact):
    """Every slice of the sensitive features with its rate metrics, bounds and margins
    (`fairness.json`).

    Kubeflow / Vertex need a custom type name of the form `<namespace>.<Title>`."""
    TYPE_NAME = "mlpipe.FairnessChecks"


class JudgedFairness(FairnessConfig):
    """The `evaluation.fairness` section with `min_slice_size` resolved (its own, else
    `evaluation.min_slice_size`). Its JSON is the gate's exec property: an unchanged section keeps
    the gate's cache key."""

    min_slice_size: int = Field(ge=1)

    @classmethod
    def of(cls, evaluation: EvaluationConfig) -> "JudgedFairness":
        if evaluation.fairness is None:
            raise ValueError("the config has no evaluation.fairness section")
        return cls.model_validate({**evaluation.fairness.model_dump(),
                                   "min_slice_size": evaluation.fairness_min_slice_size})


def spec_json(evaluation: EvaluationConfig) -> str:
    """The gate's exec property (see `JudgedFairness`); bounds left unset are left out."""
    return JudgedFairness.of(evaluation).model_dump_json(exclude_none=True)


class FairnessGateSpec(ComponentSpec):
    PARAMETERS = {
        SPEC_KEY: ExecutionParameter(type=str),
    }
    INPUTS = {
        EVALUATION_KEY: ChannelParameter(type=standard_artifacts.ModelEvaluation),
        MODEL_BLESSING_KEY: ChannelParameter(type=standard_artifacts.ModelBlessing),
    }
    OUTPUTS = {
        FAIRNESS_KEY: ChannelParameter(type=FairnessChecksArtifact),
        BLESSING_KEY: ChannelParameter(type=standard_artifacts.ModelBlessing),
    }
