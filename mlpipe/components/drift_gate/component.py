"""The DriftGate component: spec, output artifact type and component class.

With data that arrives in spans, the gate sits after StatisticsGen and before Transform (an
upstream node of Transform, like the AnomalyGate). It compares the run's span (its statistics,
train split) with the newest earlier span that passed the gate: TFDV's drift comparators,
L-infinity distance for string features and Jensen-Shannon divergence for numeric ones, with the
thresholds of the config's `drift_gate:` section. A crossing fails the execution, naming each
feature with its distance and threshold, so nothing downstream trains on the shifted data;
`accept_drift` lets a known shift through for one run, recorded on the gate's execution and on
its output.

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

import json
from typing import List

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.experimental import simple_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

from mlpipe.components.drift_gate import executor
from mlpipe.components.drift_gate.executor import (ACCEPT_KEY, BASELINE_KEY, EXAMPLES_KEY,
                                                   REPORT_KEY, SPEC_KEY,
                                                   STATISTICS_KEY)
from mlpipe.config import DriftGateConfig

NODE_ID = "DriftGate"  # the node's id in the pipeline, where readers find it


# A span that passed the DriftGate: `drift.json`, its train-split statistics, its span (custom
# properties). TFX's generic `Statistics` type, not a custom one: KFP v2 / Vertex give every
# custom type the schema title `tfx.Artifact`, so TFX's LatestArtifactStrategy there would return
# the newest artifact of *any* custom type; `tfx.Statistics` is one no other node produces.
DriftReportArtifact = simple_artifacts.Statistics


class DriftGateSpec(ComponentSpec):
    PARAMETERS = {
        SPEC_KEY: ExecutionParameter(type=str),
        ACCEPT_KEY: ExecutionParameter(type=int),
    }
    INPUTS = {
        STATISTICS_KEY: ChannelParameter(type=standard_artifacts.ExampleStatistics),
        EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples),
        BASELINE_KEY: ChannelParameter(type=DriftReportArtifact, optional=True),
    }
    OUTPUTS = {
        REPORT_KEY: ChannelParameter(type=DriftReportArtifact),
    }


class DriftGate(base_component.BaseComponent):
    SPEC_CLASS = DriftGateSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self, statistics: types.BaseChannel, examples: types.BaseChannel,
                 baseline: types.BaseChannel, drift_spec: str,
                 accept_drift: bool = False):
        executor.parse_spec(drift_spec)  # a bad spec fails when the graph is built
        super().__init__(spec=DriftGateSpec(
            statistics=statistics, examples=examples, baseline=baseline,
            drift_spec=drift_spec, accept_drift=int(accept_drift),
            report=types.Channel(type=DriftReportArtifact)))


def spec_json(section: DriftGateConfig, model_features: List[str], pipeline_name: str) -> str:
    """The gate's exec property: the features compared and their thresholds, as stable JSON
    (sorted keys), so an unchanged section keeps the gate's cache key. The pipeline's name
    lets the gate ignore another pipeline's report (KFP's resolver queries by type only)."""
    return json.dumps({
        "features": sorted(section.compared(model_features)),
        "categorical_threshold": section.categorical_threshold,
        "numeric_psi": section.numeric_psi,
        "feature_thresholds": dict(sorted(section.feature_thresholds.items())),
        "split": executor.COMPARED_SPLIT,
        "pipeline": pipeline_name,
    }, sort_keys=True)
