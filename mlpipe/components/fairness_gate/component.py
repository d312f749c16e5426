"""The FairnessGate component class (its keys, spec and types: `spec`).

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

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts

from mlpipe.components.fairness_gate import executor
from mlpipe.components.fairness_gate.spec import (FairnessChecksArtifact, FairnessGateSpec,
                                                  JudgedFairness)


class FairnessGate(base_component.BaseComponent):
    SPEC_CLASS = FairnessGateSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self, evaluation: types.BaseChannel, model_blessing: types.BaseChannel,
                 fairness_spec: str):
        JudgedFairness.model_validate_json(fairness_spec)  # a bad spec fails when built
        super().__init__(spec=FairnessGateSpec(
            evaluation=evaluation, model_blessing=model_blessing, fairness_spec=fairness_spec,
            fairness=types.Channel(type=FairnessChecksArtifact),
            blessing=types.Channel(type=standard_artifacts.ModelBlessing)))
