"""EmbeddedSchemaGen (mlpipe.components.embedded_schema), run for real: it writes what TFX's
ImportSchemaGen writes from the same file, refuses a text that is not a Schema, and in a pipeline
is cached while the text is unchanged and re-runs when it changes (the text is its cache key)."""

import pathlib

import mlpipe  # noqa: F401  (process settings before TensorFlow)
import pytest
from ml_metadata.proto import metadata_store_pb2
from tfx import v1 as tfx
from tfx.components.schema_gen.import_schema_gen import executor as import_schema_gen
from tfx.types import standard_artifacts

from mlpipe.components.embedded_schema import NODE_ID, EmbeddedSchemaGen
from mlpipe.components.embedded_schema.spec import SCHEMA_KEY, SCHEMA_TEXT_KEY
from mlpipe.components.embedded_schema.executor import SCHEMA_FILE, Executor
from mlpipe.core.schema_io import schema_text

# Comments, blank lines, CRLF and non-ASCII text: kept byte for byte.
ODD = ('# curated by hand\r\n\r\nfeature {\r\n  name: "café"\r\n  type: BYTES\r\n'
       '  annotation { comment: "prix en €" }\r\n}\r\n')


def _written(executor, exec_properties, folder: pathlib.Path) -> bytes:
    schema = standard_artifacts.Schema()
    schema.uri = str(folder)
    folder.mkdir(parents=True)
    executor.Do({}, {SCHEMA_KEY: [schema]}, exec_properties)
    return (folder / SCHEMA_FILE).read_bytes()


@pytest.mark.parametrize("name", ["taxi", "odd"])
def test_writes_what_import_schema_gen_writes(taxi_config, tmp_path, name):
    if name == "taxi":
        path = pathlib.Path(taxi_config.schema_path)
    else:
        path = tmp_path / "schema.pbtxt"
        path.write_bytes(ODD.encode())
    ours = _written(Executor(), {SCHEMA_TEXT_KEY: schema_text(path)}, tmp_path / "ours")
    theirs = _written(import_schema_gen.Executor(), {"schema_file": str(path)},
                      tmp_path / "theirs")
    assert ours == theirs == path.read_bytes()


def test_a_text_that_is_not_a_schema_is_refused(tmp_path):
    with pytest.raises(ValueError, match="schema_text: not a TFMD Schema"):
        _written(Executor(), {SCHEMA_TEXT_KEY: "feature { nme: 'x' }"}, tmp_path / "out")
    with pytest.raises(ValueError, match="schema_text is empty"):
        _written(Executor(), {SCHEMA_TEXT_KEY: ""}, tmp_path / "empty")


def test_the_component_carries_the_text_and_outputs_a_schema():
    node = EmbeddedSchemaGen(schema_text=ODD).with_id(NODE_ID)
    assert node.id == "ImportSchemaGen"      # lineage, runs, the report read it by this id
    assert node.exec_properties == {SCHEMA_TEXT_KEY: ODD}
    assert node.outputs[SCHEMA_KEY].type is standard_artifacts.Schema


def _run(tmp_path, text: str) -> dict:
    """One run of a pipeline holding only the schema step: its execution's state, its Schema
    artifact's uri and text."""
    from tfx.orchestration.local.local_dag_runner import LocalDagRunner
    from mlpipe.core import lineage
    metadata = tmp_path / "metadata.sqlite"
    LocalDagRunner().run(tfx.dsl.Pipeline(
        pipeline_name="schema-only", pipeline_root=str(tmp_path / "root"),
        components=[EmbeddedSchemaGen(schema_text=text).with_id(NODE_ID)], enable_cache=True,
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
            str(metadata))))
    with lineage.open_store(metadata) as store:
        executions = store.get_executions()
        newest = max(executions, key=lambda execution: execution.id)
        [schema] = store.get_artifacts_by_id(
            [event.artifact_id for event in store.get_events_by_execution_ids([newest.id])])
    return {"state": metadata_store_pb2.Execution.State.Name(newest.last_known_state),
            "uri": schema.uri, "text": pathlib.Path(schema.uri, SCHEMA_FILE).read_text()}


def test_cached_while_the_text_is_unchanged_and_rerun_when_it_changes(taxi_config, tmp_path):
    text = schema_text(taxi_config.schema_path)
    first = _run(tmp_path, text)
    assert first["state"] == "COMPLETE" and first["text"] == text
    again = _run(tmp_path, text)
    assert again == {**first, "state": "CACHED"}
    edited = text + '\nfeature { name: "new_column" type: INT }\n'
    changed = _run(tmp_path, edited)
    assert changed["state"] == "COMPLETE" and changed["uri"] != first["uri"]
    assert changed["text"] == edited
