"""`data.format` csv, parquet and tfrecord through the same graph: one ExampleGen per format under
the node id every reader of its output looks for; parquet rows converted without TFX's
zero-drops-the-value rule; `mlpipe init`'s reader and `mlpipe schema`'s proposal reading every
format; and, end to end (e2e), the same taxi rows as parquet and as TFRecord trained, evaluated
and pushed with the same split."""

import datetime
import pathlib

import mlpipe  # noqa: F401  (process environment before TensorFlow)
import pyarrow as pa
import pytest
import tensorflow as tf

from mlpipe.errors import InputDataError
from mlpipe.init.table import read_table
from mlpipe.pipeline import pipeline as pipeline_module
from mlpipe.pipeline.pipeline import EXAMPLE_GEN_ID, create_pipeline
from mlpipe.pipeline.runner_settings import RunnerSettings
from tests.support.cli import run_mlpipe
from tests.support.configs import write_config
from tests.support.formats import taxi_rows, write_parquet, write_tfrecord

SETTINGS = RunnerSettings(pipeline_root="/runs/p/pipeline_root", serving_dir="/runs/p/serving",
                          schema_text='feature { name: "fare" type: FLOAT }', code_version="abc",
                          metadata_path="/runs/p/metadata.sqlite", beam_args=[])
EXECUTORS = {
    "csv": "mlpipe.components.csv_example_gen.executor.Executor",
    "parquet": "mlpipe.components.parquet_executor.Executor",
    "tfrecord": "tfx.components.example_gen.import_example_gen.executor.Executor",
}


def _with_data(config, **data):
    return config.model_copy(update={"data": config.data.model_copy(update=data)})


def _executor(node) -> str:
    executor = node.executor_spec.executor_class
    return f"{executor.__module__}.{executor.__name__}"


def _graph(pipeline):
    return {node.id: {upstream.id for upstream in node.upstream_nodes}
            for node in pipeline.components}


# ---- the graph -------------------------------------------------------------------------------

@pytest.mark.parametrize("data_format", ["csv", "parquet", "tfrecord"])
def test_every_format_has_the_same_graph_and_example_gen_id(taxi_config, data_format):
    csv_graph = _graph(create_pipeline(taxi_config, SETTINGS))
    config = _with_data(taxi_config, format=data_format, path="/data/trips/",
                        score_path="/data/unlabelled/")
    pipeline = create_pipeline(config, SETTINGS)
    nodes = {node.id: node for node in pipeline.components}
    assert EXAMPLE_GEN_ID == "CsvExampleGen"  # what lineage, `mlpipe runs` and reports read
    assert _executor(nodes[EXAMPLE_GEN_ID]) == EXECUTORS[data_format]
    assert _executor(nodes["UnlabelledExampleGen"]) == EXECUTORS[data_format]
    assert nodes[EXAMPLE_GEN_ID].exec_properties["input_base"] == "/data/trips/"
    graph = _graph(pipeline)
    assert {node: upstream for node, upstream in graph.items()
            if node not in ("UnlabelledExampleGen", "BulkInferrer")} == csv_graph


@pytest.mark.parametrize("data_path, base, pattern", [
    ("/data/trips.parquet", "/data", "trips.parquet"),
    ("/data/*.parquet", "/data", "*.parquet"),
    ("/data/2024-*/part-*.tfrecord.gz", "/data", "2024-*/part-*.tfrecord.gz"),
    ("gs://bucket/data/*.parquet", "gs://bucket/data", "*.parquet"),
    ("gs://bucket/data/", "gs://bucket/data/", "*"),
])
def test_input_base_and_pattern_of_a_file_a_folder_and_a_glob(data_path, base, pattern):
    assert pipeline_module._input_base(data_path) == base
    assert pipeline_module._input_pattern(data_path) == pattern


# ---- parquet rows -> tf.Examples -------------------------------------------------------------

def test_parquet_zeros_stay_values_and_nulls_are_empty_lists_of_the_kind():
    from mlpipe.components.parquet_executor import table_examples
    table = pa.table({
        "tips": pa.array([0.0, None, 2.5, float("nan")]),
        "count": pa.array([0, 3, None, 1], type=pa.int32()),
        "flag": pa.array([False, True, None, True]),
        "name": pa.array(["", "a", None, "b"]),
        "day": pa.array([datetime.date(2024, 1, 2)] * 4),
        "tags": pa.array([["x", "y"], [], None, ["z"]]),
        "nothing": pa.array([None] * 4, type=pa.null()),
    })
    examples = list(table_examples(table))
    first, second = (example.features.feature for example in examples[:2])
    assert list(first["tips"].float_list.value) == [0.0]          # a 0 is a value
    assert list(first["count"].int64_list.value) == [0]
    assert list(first["flag"].int64_list.value) == [0]
    assert list(first["name"].bytes_list.value) == [b""]
    assert list(first["day"].bytes_list.value) == [b"2024-01-02"]
    assert list(first["tags"].bytes_list.value) == [b"x", b"y"]
    assert second["tips"].WhichOneof("kind") == "float_list"      # a null: empty, typed
    assert list(second["tips"].float_list.value) == []
    assert first["nothing"].WhichOneof("kind") is None
    third, fourth = (example.features.feature for example in examples[2:])
    assert third["count"].WhichOneof("kind") == "int64_list"
    assert not third["count"].int64_list.value
    assert list(fourth["tips"].float_list.value) == []            # NaN reads as missing


def test_tfx_own_parquet_conversion_drops_zeros():
    """Why mlpipe has its own parquet executor: TFX 1.16's reads 0 as 'no value'."""
    from tfx.components.example_gen import utils
    example = utils.dict_to_example({"tips": 0.0, "count": 0})
    assert not example.features.feature["tips"].float_list.value
    assert not example.features.feature["count"].int64_list.value


def test_parquet_executor_runs_in_beam(tmp_path, taxi_row):
    import apache_beam as beam
    from apache_beam.testing.util import assert_that, equal_to
    from mlpipe.components import parquet_executor
    write_parquet(tmp_path / "a.parquet", [taxi_row(tips=0.0), taxi_row(tips=1.0)])
    write_parquet(tmp_path / "b.parquet", [taxi_row(tips=2.0)])
    with beam.Pipeline() as root:
        tips = (root
                | parquet_executor._ParquetToExample({"input_base": str(tmp_path)}, "*.parquet")
                | beam.Map(lambda example: list(example.features.feature["tips"].float_list
                                                .value)))
        assert_that(tips, equal_to([[0.0], [1.0], [2.0]]))


# ---- mlpipe init's reader --------------------------------------------------------------------

def test_read_table_reads_parquet_as_text_cells(tmp_path, taxi_row, taxi_header):
    rows = [taxi_row(tips=0.0, company=None), taxi_row(fare=12.25, trip_seconds=None)]
    table = read_table(write_parquet(tmp_path / "trips.parquet", rows))
    assert table.format == "parquet" and table.rows == 2 and table.lines == [1, 2]
    assert table.header == taxi_header
    assert table.columns["tips"] == ["0.0", "3.0"]
    assert table.columns["company"] == ["", "Flash Cab"]
    assert table.columns["fare"] == ["10.0", "12.25"]
    assert table.columns["trip_seconds"] == ["600", ""]


@pytest.mark.parametrize("name", ["trips.tfrecord", "trips.tfrecord.gz", "trips.gz"])
def test_read_table_reads_tfrecord_as_text_cells(tmp_path, taxi_row, taxi_header, name):
    rows = [taxi_row(pickup_latitude=41.89, company=None), taxi_row(trip_start_hour=None)]
    table = read_table(write_tfrecord(tmp_path / name, rows, blank="absent"))
    assert table.format == "tfrecord" and table.rows == 2
    assert table.header == sorted(taxi_header)
    assert table.columns["pickup_latitude"][0] == "41.89"  # float32, shortest spelling
    assert table.columns["company"] == ["", "Flash Cab"]
    assert table.columns["trip_start_hour"] == ["19", ""]


def test_read_table_reads_a_folder_and_a_glob(tmp_path, taxi_row):
    folder = tmp_path / "data"
    folder.mkdir()
    write_parquet(folder / "a.parquet", [taxi_row(), taxi_row()])
    write_parquet(folder / "b.parquet", [taxi_row(fare=7.5)])
    table = read_table(folder)
    assert table.rows == 3 and table.columns["fare"] == ["10.0", "10.0", "7.5"]
    assert read_table(folder / "b.*").rows == 1


def test_read_table_refuses_mixed_formats_and_several_values(tmp_path, taxi_row):
    folder = tmp_path / "data"
    folder.mkdir()
    write_parquet(folder / "a.parquet", [taxi_row()])
    write_tfrecord(folder / "b.tfrecord", [taxi_row()])
    with pytest.raises(InputDataError, match="files of more than one format"):
        read_table(folder)
    path = write_tfrecord(tmp_path / "multi.tfrecord", [taxi_row(company=["a", "b"])])
    with pytest.raises(InputDataError, match=r"record 1: column 'company' holds 2 values"):
        read_table(path)


def test_read_table_still_refuses_a_folder_of_csv(tmp_path, write_csv, taxi_row):
    folder = tmp_path / "data"
    folder.mkdir()
    write_csv(folder / "a.csv", [taxi_row()])
    with pytest.raises(InputDataError, match="--data takes one CSV file"):
        read_table(folder)


# ---- mlpipe schema's proposal ----------------------------------------------------------------

def test_parquet_and_tfrecord_give_the_csv_proposal(tmp_path, write_csv, taxi_header):
    from mlpipe.schema.proposal import propose_schema, schema_diff
    header = [column for column in taxi_header if column != "pickup_census_tract"]  # all blank
    rows = taxi_rows(300)
    csv_path = write_csv(tmp_path / "trips.csv", rows, header=header)
    from_csv = propose_schema(str(csv_path), ["tips"])
    for path, data_format in [(write_parquet(tmp_path / "t.parquet", rows, header=header), None),
                              (write_tfrecord(tmp_path / "t.tfrecord.gz", rows, header=header),
                               "tfrecord")]:
        proposed = propose_schema(str(path), ["tips"], data_format=data_format)
        assert schema_diff(from_csv, proposed) == [], path


# ---- end to end ------------------------------------------------------------------------------

E2E_ROWS = 1500


def _split_counts(run_home: pathlib.Path):
    """Split -> examples the ExampleGen wrote (its one output of the run)."""
    [examples] = [path for path in (run_home / "pipeline_root" / EXAMPLE_GEN_ID / "examples")
                  .iterdir() if path.is_dir()]
    counts = {}
    for split in sorted(examples.glob("Split-*")):
        files = [str(path) for path in split.iterdir()]
        counts[split.name] = sum(1 for _ in tf.data.TFRecordDataset(files, "GZIP"))
    return counts


@pytest.mark.e2e
def test_the_same_rows_as_parquet_and_tfrecord_train_evaluate_and_push(tmp_path):
    rows = taxi_rows(E2E_ROWS)
    data = {"parquet": write_parquet(tmp_path / "trips.parquet", rows),
            "tfrecord": write_tfrecord(tmp_path / "trips.tfrecord.gz", rows)}
    counts = {}
    for data_format, path in data.items():
        def edit(raw, path=path, data_format=data_format):
            raw["data"].update(path=str(path), format=data_format)
            raw["train"].update(epochs=4, batch_size=64)
            raw["evaluation"]["kpi"] = {"auc": {"min": 0.7}}
            raw["evaluation"].pop("max_regression", None)
        config_file = write_config(tmp_path / f"{data_format}.yaml", edit=edit)
        home = tmp_path / f"home-{data_format}"
        result = run_mlpipe("run", "--config", config_file, "--home", home, cwd=tmp_path,
                            timeout=900)
        assert result.returncode == 0, result.stdout + result.stderr
        for component in (EXAMPLE_GEN_ID, "Transform", "Trainer", "Evaluator", "Pusher"):
            assert component in result.stdout
        run_home = home / "taxi-big-tipper"
        assert [path for path in (run_home / "serving").iterdir() if path.is_dir()]
        counts[data_format] = _split_counts(run_home)
    assert counts["parquet"] == counts["tfrecord"], counts
    assert set(counts["parquet"]) == {"Split-train", "Split-eval"}
    assert sum(counts["parquet"].values()) == E2E_ROWS
