"""EmbeddedSchemaGen: the curated schema, carried in the pipeline as text, written as the
pipeline's Schema artifact (in place of TFX's ImportSchemaGen, under its node id)."""

from mlpipe.components.embedded_schema.component import EmbeddedSchemaGen
from mlpipe.components.embedded_schema.spec import NODE_ID

__all__ = ["EmbeddedSchemaGen", "NODE_ID"]
