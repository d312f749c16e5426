"""The record of the last completed run, and when a re-run may be answered from it: with the real
files a run home holds (a data file, a metadata store file, output folders), no TFX."""

import os
import pathlib

import pytest

from mlpipe.core.run_record import DataFile, file_sha256
from mlpipe.local.unchanged_run import PreviousRun, find_unchanged, remember, run_key

COMPONENTS = [{"name": "CsvExampleGen", "state": "executed", "execution_id": 1},
              {"name": "Trainer", "state": "cached", "execution_id": 4}]
OUTCOME = {"blessed": True, "pushed_version": "/serving/17", "metrics": {"auc": 0.94}}


@pytest.fixture
def home(tmp_path):
    data = tmp_path / "data.csv"
    data.write_text("a,b\n1,2\n3,4\n")
    store = tmp_path / "metadata.sqlite"
    store.write_bytes(b"SQLite format 3\x00" + bytes(range(256)) * 8)
    outputs = [tmp_path / "pipeline_root" / "Trainer" / "model" / "4",
               tmp_path / "pipeline_root" / "Evaluator" / "blessing" / "9"]
    for output in outputs:
        output.mkdir(parents=True)
    record = tmp_path / "last-run.json"
    key = run_key("pipeline-abc", [_data_file(data)])
    remember(record, store, key, PreviousRun("run-1", COMPONENTS, OUTCOME),
             [str(output) for output in outputs])
    return {"data": data, "store": store, "record": record, "key": key, "outputs": outputs}


def _data_file(path: pathlib.Path) -> DataFile:
    return DataFile(path=str(path), sha256=file_sha256(str(path)), rows=2,
                    bytes=path.stat().st_size)


def _found(home, key=None):
    return find_unchanged(home["record"], home["store"], key or home["key"])


def test_an_unchanged_run_is_the_recorded_one(home):
    previous = _found(home)
    assert previous == PreviousRun("run-1", COMPONENTS, OUTCOME)
    assert not list(home["record"].parent.glob(".*partial")), "the record was written aside"


def test_the_key_is_stable_and_follows_the_pipeline(home):
    data = [_data_file(home["data"])]
    assert run_key("pipeline-abc", data) == home["key"]
    assert _found(home, run_key("pipeline-abd", data)) is None


def test_new_data_content_changes_the_key(home):
    home["data"].write_text("a,b\n1,2\n3,5\n")  # same size, one digit changed
    assert _found(home, run_key("pipeline-abc", [_data_file(home["data"])])) is None


def test_a_touched_data_file_changes_the_key(home):
    """TFX's input fingerprint holds modification times: a touched file is ingested again."""
    stat = home["data"].stat()
    os.utime(home["data"], ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert _found(home, run_key("pipeline-abc", [_data_file(home["data"])])) is None


def test_another_data_file_changes_the_key(home, tmp_path):
    second = tmp_path / "more.csv"
    second.write_text("a,b\n5,6\n")
    files = [_data_file(home["data"]), _data_file(second)]
    assert _found(home, run_key("pipeline-abc", files)) is None


def test_any_write_to_the_metadata_store_means_a_run(home):
    with open(home["store"], "r+b") as store:
        store.seek(100)
        store.write(b"\x01")
    assert _found(home) is None


def test_a_store_being_written_means_a_run(home):
    pathlib.Path(f"{home['store']}-journal").write_bytes(b"")
    assert _found(home) is None


def test_a_missing_store_means_a_run(home):
    home["store"].unlink()
    assert _found(home) is None


def test_a_deleted_output_means_a_run(home):
    """TFX's cache checks that a cached execution's outputs still exist; so does this."""
    home["outputs"][1].rmdir()
    assert _found(home) is None


@pytest.mark.parametrize("text", ["", "{not json", "[]", '{"format": 0}'])
def test_an_unreadable_record_means_a_run(home, text):
    home["record"].write_text(text)
    assert _found(home) is None


def test_no_record_means_a_run(home):
    home["record"].unlink()
    assert _found(home) is None


def test_the_store_digest_is_of_the_store_as_the_run_left_it(home):
    """Recorded after the run: a later record of the same key is judged by the newer store."""
    home["store"].write_bytes(home["store"].read_bytes() + b"one more run")
    assert _found(home) is None
    remember(home["record"], home["store"], home["key"],
             PreviousRun("run-2", COMPONENTS, OUTCOME), [str(p) for p in home["outputs"]])
    assert _found(home).run_id == "run-2"


def test_importing_the_module_does_not_import_tfx():
    import subprocess
    import sys
    code = ("import sys, mlpipe.local.unchanged_run, mlpipe.local.local_runner; "
            "print(sorted(m for m in ('tfx', 'tensorflow', 'apache_beam') if m in sys.modules))")
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                               check=True)
    assert completed.stdout.strip() == "[]", completed.stdout
