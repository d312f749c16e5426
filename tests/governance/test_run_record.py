"""The provenance record a run writes, the data hashes the preflight check computes for it, and
finding recorded paths in a run home that was moved."""

import dataclasses
import hashlib
import json
import os
import pathlib

import mlpipe  # noqa: F401  (process settings before TensorFlow)
from mlpipe.core import run_record
from mlpipe.core.run_home import RunHome
from mlpipe.core.schema_io import load_schema, numeric_columns
from mlpipe.local.preflight import check_input_data


def test_preflight_hashes_and_counts_each_file_in_its_one_read(tmp_path, write_csv, taxi_row,
                                                               config_for_data):
    folder = tmp_path / "data"
    folder.mkdir()
    first = write_csv(folder / "a.csv", [taxi_row(fare=5.0 + i) for i in range(3)])
    # A file larger than the reader's buffer, with a blank line (not a row).
    second = write_csv(folder / "b.csv", [taxi_row(company=f"Cab {i}") for i in range(2000)])
    second.write_text(second.read_text() + "\n")
    config = config_for_data(folder)
    summary = check_input_data(config, numeric_columns(load_schema(config.schema_path)))
    assert [(c.path, c.sha256, c.rows, c.bytes) for c in summary.contents] == [
        (str(path), hashlib.sha256(path.read_bytes()).hexdigest(), rows, path.stat().st_size)
        for path, rows in [(first, 3), (second, 2000)]]
    assert summary.rows == 2003


def _record(tmp_path, taxi_config, run_id="2026-01-02T03:04:05.678901", **changes):
    data = tmp_path / "data.csv"
    data.write_text("a,b\n1,2\n")
    config = taxi_config.model_copy(update={"data": taxi_config.data.model_copy(
        update={"path": str(data)}), **changes})
    item = run_record.DataFile(str(data), run_record.file_sha256(str(data)), 1, 8)
    start = dataclasses.replace(run_record.RunStart.capture(config), time=1000.0)
    return run_record.new_record(start, run_id=run_id, data=[item],
                                 run_home=tmp_path / "home", log_file=tmp_path / "run.log",
                                 finished=1012.5, failed_component="Trainer",
                                 error=ValueError("bad units\nmore detail"))


def test_a_record_holds_what_ml_metadata_does_not(tmp_path, taxi_config):
    record = _record(tmp_path, taxi_config)
    assert record["seconds"] == 12.5
    assert record["started"] == "1970-01-01T00:16:40+00:00"
    assert record["config"]["file"] == taxi_config.source
    assert record["config"]["text"] == pathlib.Path(taxi_config.source).read_text()
    assert record["config"]["sha256"] == hashlib.sha256(
        pathlib.Path(taxi_config.source).read_bytes()).hexdigest()
    assert record["config"]["differs_from_file"] == ["data.path"]
    assert record["schema"]["sha256"] == run_record.file_sha256(taxi_config.schema_path)
    assert record["packages"]["tfx"] == "1.16.0" and record["packages"]["mlpipe"]
    assert record["error"] == "ValueError: bad units"
    assert record["failed_component"] == "Trainer"
    assert record["user"] and record["host"]


def test_a_config_built_in_code_has_no_file_to_keep(tmp_path, taxi_config):
    record = _record(tmp_path, taxi_config, source="")
    assert record["config"]["file"] is None and record["config"]["text"] is None
    assert record["config"]["effective"]["name"] == taxi_config.name


def test_records_are_written_whole_and_read_back_by_run_id(tmp_path, taxi_config):
    folder = tmp_path / "provenance"
    record = _record(tmp_path, taxi_config)
    path = run_record.write_record(folder, record)
    assert path.name == "2026-01-02T03-04-05.678901.json"
    assert os.listdir(folder) == [path.name]  # nothing left aside
    assert run_record.read_record(folder, record["run_id"]) == json.loads(path.read_text())
    # A record still being written (or torn) is skipped, never half-read.
    (folder / "2026-01-03T00-00-00.000000.json").write_text('{"run_id": "2026-01-0')
    assert [r["run_id"] for r in run_record.read_records(folder)] == [record["run_id"]]
    assert run_record.read_record(folder, "no-such-run") is None


def test_what_a_run_starts_with_is_taken_when_it_starts(tmp_path, taxi_config):
    config_file = tmp_path / "problem.yaml"
    text = pathlib.Path(taxi_config.source).read_text().replace(
        "schema: ../schema/taxi/schema.pbtxt", f"schema: {taxi_config.schema_path}")
    config_file.write_text(text)
    config = taxi_config.model_copy(update={"source": str(config_file)})
    start = run_record.RunStart.capture(config)
    config_file.write_text("# edited while the run goes on\n")
    record = run_record.new_record(start, run_id="r", data=[], run_home=tmp_path,
                                   log_file=tmp_path / "log", finished=start.time + 1)
    assert record["config"]["text"] == text
    assert record["config"]["differs_from_file"] == []
    assert record["code_version"] == start.code_version and len(start.code_version) == 16


def test_a_run_tfx_never_registered_is_recorded_under_its_start(tmp_path, taxi_config):
    path = run_record.write_record(tmp_path, _record(tmp_path, taxi_config, run_id=None))
    assert path.name.startswith("unregistered-1970-01-01T00-16-40")


def test_locate_finds_recorded_paths_in_a_moved_home(tmp_path):
    home = RunHome(tmp_path / "new" / "taxi-big-tipper")
    evaluation = home.pipeline_root / "Evaluator" / "evaluation" / "9"
    evaluation.mkdir(parents=True)
    old = "/old/place/runs/taxi-big-tipper/pipeline_root/Evaluator/evaluation/9"
    assert home.locate(old) == evaluation
    # As recorded when the path still exists, or when nothing matches under the home.
    assert home.locate(str(tmp_path)) == tmp_path
    assert home.locate("/old/place/runs/taxi-big-tipper/pipeline_root/Trainer/model/7") == \
        pathlib.Path("/old/place/runs/taxi-big-tipper/pipeline_root/Trainer/model/7")
