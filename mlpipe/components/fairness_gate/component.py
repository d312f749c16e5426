"""The FairnessGate component: spec, output artifact type and component class.

It sits between the Evaluator and the Pusher. It reads the Evaluator's `evaluation` (the rate
metrics TFMA computed on every slice of the sensitive features) and its `blessing`, judges every
slice with at least `min_slice_size` examples against the config's `evaluation.fairness` bounds,
and writes two artifacts: `fairness` (`fairness.json`: every slice, judged or not, with value,
bound and margin) and `blessing`, a ModelBlessing that says blessed only when the Evaluator
blessed the model *and* no judged slice breaks a bound. The Pusher takes that blessing.

Why not TFMA thresholds: TFMA 0.47 would judge every value of the feature, tiny slices included,
and its `options.min_slice_size` replaces a small slice's metrics with an error, which its
metrics validator then counts as a failed threshold ("Metric not found.") on that slice.
"""

import json

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

from mlpipe.components.fairness_gate import executor
from mlpipe.config import EvaluationConfig

NODE_ID = "FairnessGate"             # the node's id in the pipeline, where readers find it
EVALUATION_KEY = "evaluation"        # input: the Evaluator's ModelEvaluation
MODEL_BLESSING_KEY = "model_blessing"  # input: the Evaluator's ModelBlessing
FAIRNESS_KEY = "fairness"            # output: fairness.json
BLESSING_KEY = "blessing"            # output: the blessing the Pusher reads
SPEC_KEY = "fairness_spec"           # exec property: JSON of the fairness section (see spec_json)


class FairnessChecksArtifact(types.Artifact):
    """Every slice of the sensitive features with its rate metrics, bounds and margins
    (`fairness.json`).

    Kubeflow / Vertex need a custom type name of the form `<namespace>.<Title>`."""
    TYPE_NAME = "mlpipe.FairnessChecks"


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


class FairnessGate(base_component.BaseComponent):
    SPEC_CLASS = FairnessGateSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self, evaluation: types.BaseChannel, model_blessing: types.BaseChannel,
                 fairness_spec: str):
        executor.parse_spec(fairness_spec)  # a bad spec fails when the graph is built
        super().__init__(spec=FairnessGateSpec(
            evaluation=evaluation, model_blessing=model_blessing, fairness_spec=fairness_spec,
            fairness=types.Channel(type=FairnessChecksArtifact),
            blessing=types.Channel(type=standard_artifacts.ModelBlessing)))


def spec_json(evaluation: EvaluationConfig) -> str:
    """The gate's exec property: the fairness section with `min_slice_size` resolved, as stable
    JSON (sorted keys), so an unchanged section keeps the gate's cache key."""
    fairness = evaluation.fairness
    if fairness is None:
        raise ValueError("the config has no evaluation.fairness section")
    return json.dumps({
        "features": list(fairness.features),
        "metrics": {name: bound.model_dump(exclude_none=True)
                    for name, bound in sorted(fairness.metrics.items())},
        "min_slice_size": evaluation.fairness_min_slice_size,
    }, sort_keys=True)
