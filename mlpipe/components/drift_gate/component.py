"""The DriftGate component class (its keys, spec and types: `spec`).

With data that arrives in spans, the gate sits after StatisticsGen and before Transform (an
upstream node of Transform, like the AnomalyGate). It compares the run's span (its statistics,
train split) with the newest earlier span that passed the gate: `mlpipe.core.drift`'s measures,
L-infinity distance of value shares for string features and the population stability index for
numeric ones, with the thresholds of the config's `drift_gate:` section. A crossing fails the
execution, naming each feature with its distance and threshold, so nothing downstream trains on
the shifted data; `accept_drift` lets a known shift through for one run, recorded on the gate's
execution and on its output.

Its output, the span's report, is what the next span is compared with: `drift.json` (the
comparison), a copy of the span's train-split statistics, and the span as a custom property.
Only a span that passed (or was accepted) gets one, so a stopped span is never a baseline, and
the report carries its span itself (TFX's StatisticsGen records span 0 on its statistics, see
`mlpipe.core.artifacts.span_of`). The report to compare with comes in through a resolver: the
local runner's picks the newest report of an earlier span than the run's
(`mlpipe.pipeline.span_resolvers`); KFP v2 / Vertex compile only TFX's LatestArtifactStrategy
(the newest report when the run starts), and the executor applies the same earlier-span rule
to whatever it is given.
"""

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec

from mlpipe.components.drift_gate import executor
from mlpipe.components.drift_gate.spec import ComparedDrift, DriftGateSpec, DriftReportArtifact


class DriftGate(base_component.BaseComponent):
    SPEC_CLASS = DriftGateSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self, statistics: types.BaseChannel, examples: types.BaseChannel,
                 baseline: types.BaseChannel, drift_spec: str,
                 accept_drift: bool = False):
        ComparedDrift.model_validate_json(drift_spec)  # a bad spec fails when the graph is built
        super().__init__(spec=DriftGateSpec(
            statistics=statistics, examples=examples, baseline=baseline,
            drift_spec=drift_spec, accept_drift=int(accept_drift),
            report=types.Channel(type=DriftReportArtifact)))
