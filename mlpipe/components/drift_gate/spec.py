"""The DriftGate's names and types, imported by its component and its executor alike (as TFX's
`standard_component_specs`): input, output and exec property keys, the properties its report
carries, its ComponentSpec and output type, and `ComparedDrift`, the typed exec property the
config's `drift_gate:` section crosses into the executor as.
"""

from typing import List

from pydantic import Field
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter
from tfx.types.experimental import simple_artifacts

from mlpipe.config import DriftGateConfig
from mlpipe.config.monitoring import DriftThresholds

NODE_ID = "DriftGate"  # the node's id in the pipeline, where readers find it

STATISTICS_KEY = "statistics"    # this run's ExampleStatistics
EXAMPLES_KEY = "examples"        # this run's Examples (the span is recorded there)
BASELINE_KEY = "baseline"        # optional: DriftReport(s) to compare with
REPORT_KEY = "report"            # this span's DriftReport
SPEC_KEY = "drift_spec"          # ComparedDrift as JSON
ACCEPT_KEY = "accept_drift"      # 1 lets a crossing through for this run

COMPARED_SPLIT = "train"
REPORT_FILE = "drift.json"
NO_SPAN = -1  # previous_span of a report that had nothing to compare with
# The DriftReport's custom properties (what `mlpipe runs`, `lineage` and `report` read).
SPAN_PROPERTY = "span"
PREVIOUS_SPAN_PROPERTY = "previous_span"
DRIFTED_PROPERTY = "drifted_features"      # "payment_type, trip_miles" ('' when none)
ACCEPTED_PROPERTY = "accepted_drift"       # 1: a crossing was let through by accept_drift
PIPELINE_PROPERTY = "pipeline"

# A span that passed the DriftGate: `drift.json`, its train-split statistics, its span (custom
# properties). TFX's generic `Statistics` type, not a custom one: KFP v2 / Vertex give every
# custom type the schema title `tfx.Artifact`, so TFX's LatestArtifactStrategy there would return
# the newest artifact of *any* custom type; `tfx.Statistics` is one no other node produces.
DriftReportArtifact = simple_artifacts.Statistics


class ComparedDrift(DriftThresholds):
    """The `drift_gate:` section's thresholds with the features it compares resolved, the split
    compared and the pipeline's name (the gate ignores another pipeline's report: KFP's resolver
    queries by type only). Its JSON is the gate's exec property: an unchanged section keeps the
    gate's cache key."""

    features: List[str] = Field(min_length=1)
    split: str = COMPARED_SPLIT
    pipeline: str

    @classmethod
    def of(cls, section: DriftGateConfig, model_features: List[str],
           pipeline_name: str) -> "ComparedDrift":
        thresholds = section.model_dump(include=set(DriftThresholds.model_fields))
        # In name order, so that reordering the section's thresholds keeps the cache key.
        thresholds["feature_thresholds"] = dict(sorted(section.feature_thresholds.items()))
        return cls(**thresholds, features=sorted(section.compared(model_features)),
                   pipeline=pipeline_name)


def spec_json(section: DriftGateConfig, model_features: List[str], pipeline_name: str) -> str:
    """The gate's exec property (see `ComparedDrift`)."""
    return ComparedDrift.of(section, model_features, pipeline_name).model_dump_json()


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
