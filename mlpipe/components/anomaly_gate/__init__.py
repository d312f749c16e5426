"""AnomalyGate: stops the pipeline when ExampleValidator found anomalies in the data."""

from mlpipe.components.anomaly_gate.component import AnomalyGate
from mlpipe.components.anomaly_gate.executor import DataAnomaliesError

__all__ = ["AnomalyGate", "DataAnomaliesError"]
