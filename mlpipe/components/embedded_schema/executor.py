"""The EmbeddedSchemaGen executor: writes the schema text of its exec property as the Schema
artifact's `schema.pbtxt`, byte for byte what ImportSchemaGen copies from the same file, after
the same check (the text parses as a TFMD Schema)."""

import os
from typing import Any, Dict, List

from absl import logging
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2
from tfx.dsl.components.base import base_executor
from tfx.dsl.io import fileio
from tfx.types import artifact_utils

from mlpipe.components.embedded_schema.spec import SCHEMA_KEY, SCHEMA_TEXT_KEY
from mlpipe.core.artifacts import SCHEMA_FILE


class Executor(base_executor.BaseExecutor):

    def Do(self, input_dict: Dict[str, List[Any]], output_dict: Dict[str, List[Any]],  # noqa: N802
           exec_properties: Dict[str, Any]) -> None:
        text = exec_properties.get(SCHEMA_TEXT_KEY)
        if not text:
            raise ValueError(f"{SCHEMA_TEXT_KEY} is empty: the pipeline carries no schema")
        try:
            schema = text_format.Parse(text, schema_pb2.Schema())
        except text_format.ParseError as error:
            raise ValueError(f"{SCHEMA_TEXT_KEY}: not a TFMD Schema in text format: "
                             f"{error}") from error
        uri = artifact_utils.get_single_uri(output_dict[SCHEMA_KEY])
        fileio.makedirs(uri)
        path = os.path.join(uri, SCHEMA_FILE)
        with fileio.open(path, "wb") as target:
            target.write(text.encode("utf-8"))
        logging.info("Wrote the embedded schema (%d features) to %s.", len(schema.feature),
                     path)
