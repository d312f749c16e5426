"""EmbeddedSchemaGen's keys and ComponentSpec, imported by its component and its executor alike
(as TFX's `standard_component_specs`)."""

from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

from mlpipe.core.contract import SCHEMA_GEN_ID

NODE_ID = SCHEMA_GEN_ID  # ImportSchemaGen's: where lineage and the report find the schema
SCHEMA_TEXT_KEY = "schema_text"   # exec property: a TFMD Schema in text format
SCHEMA_KEY = "schema"             # output: the Schema artifact


class EmbeddedSchemaGenSpec(ComponentSpec):
    PARAMETERS = {SCHEMA_TEXT_KEY: ExecutionParameter(type=str)}
    INPUTS = {}
    OUTPUTS = {SCHEMA_KEY: ChannelParameter(type=standard_artifacts.Schema)}
