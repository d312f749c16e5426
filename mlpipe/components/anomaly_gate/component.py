"""The AnomalyGate component: spec and component class.

ExampleValidator records anomalies but never fails; the gate turns them into a failed execution,
so nothing that depends on the gate (Transform, Trainer, ...) runs on data that breaks the schema,
under every orchestrator alike.
"""

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec

from mlpipe.components.anomaly_gate import executor

ANOMALIES_KEY = "anomalies"
SCHEMA_KEY = "schema"


class AnomalyGateSpec(ComponentSpec):
    PARAMETERS = {}
    INPUTS = {
        ANOMALIES_KEY: ChannelParameter(type=standard_artifacts.ExampleAnomalies),
        SCHEMA_KEY: ChannelParameter(type=standard_artifacts.Schema),
    }
    OUTPUTS = {}


class AnomalyGate(base_component.BaseComponent):
    SPEC_CLASS = AnomalyGateSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self, anomalies: types.BaseChannel, schema: types.BaseChannel):
        super().__init__(spec=AnomalyGateSpec(anomalies=anomalies, schema=schema))
