"""The EmbeddedSchemaGen component class (its keys and spec: `spec`).

TFX's ImportSchemaGen copies a schema file by path, so the file must exist where the step runs:
on the laptop for a local run, inside the pipeline image or on GCS for Kubeflow / Vertex AI. This
component takes the schema's text as an exec property instead: the compiled pipeline carries the
curated schema itself, whichever problem it is, and every runner writes the same artifact
(`schema.pbtxt`, the bytes ImportSchemaGen would copy). Its cache key is the text: an edited
schema re-runs it and what reads it; an unchanged one stays cached.

It keeps ImportSchemaGen's node id (`spec.NODE_ID`): lineage, `mlpipe runs`, the report and the
governance records find the run's schema by it.
"""

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts

from mlpipe.components.embedded_schema import executor
from mlpipe.components.embedded_schema.spec import EmbeddedSchemaGenSpec


class EmbeddedSchemaGen(base_component.BaseComponent):
    SPEC_CLASS = EmbeddedSchemaGenSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self, schema_text: str):
        """`schema_text`: a TFMD Schema in text format (a schema.pbtxt file's contents)."""
        super().__init__(spec=EmbeddedSchemaGenSpec(
            schema_text=schema_text, schema=types.Channel(type=standard_artifacts.Schema)))
