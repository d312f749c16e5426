"""The AnomalyGate component class (its keys and spec: `spec`).

ExampleValidator records anomalies but never fails; the gate turns them into a failed execution,
so nothing that depends on the gate (Transform, Trainer, ...) runs on data that breaks the schema,
under every orchestrator alike.
"""

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec

from mlpipe.components.anomaly_gate import executor
from mlpipe.components.anomaly_gate.spec import AnomalyGateSpec


class AnomalyGate(base_component.BaseComponent):
    SPEC_CLASS = AnomalyGateSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self, anomalies: types.BaseChannel, schema: types.BaseChannel):
        super().__init__(spec=AnomalyGateSpec(anomalies=anomalies, schema=schema))
