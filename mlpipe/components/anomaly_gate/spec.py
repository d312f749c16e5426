"""The AnomalyGate's input keys and ComponentSpec, imported by its component and its executor
alike (as TFX's `standard_component_specs`)."""

from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec

ANOMALIES_KEY = "anomalies"   # ExampleValidator's ExampleAnomalies
SCHEMA_KEY = "schema"         # the curated schema, for what each column was expected to hold


class AnomalyGateSpec(ComponentSpec):
    PARAMETERS = {}
    INPUTS = {
        ANOMALIES_KEY: ChannelParameter(type=standard_artifacts.ExampleAnomalies),
        SCHEMA_KEY: ChannelParameter(type=standard_artifacts.Schema),
    }
    OUTPUTS = {}
