"""The real `mlpipe` console command on bad input: exit code 2, a one-line reason, nothing created.

These paths fail in the preflight check, before TFX is imported, so each command takes well
under a few seconds.
"""

import os
import pathlib

import mlpipe  # noqa: F401  (process settings before TensorFlow)
import pytest

from tests.support.cli import mlpipe_command, run_mlpipe
from tests.support.configs import write_config

PIPELINE_NAME = "taxi-big-tipper"


@pytest.fixture
def config_for(tmp_path):
    """config_for(data_path, edit=None) -> a copy of the taxi config, in tmp_path, reading
    `data_path` (and `edit(raw)` applied to its plain dict)."""
    def write(data_path, edit=None):
        def change(raw):
            raw["data"]["path"] = str(data_path)
            if edit is not None:
                edit(raw)
        return write_config(tmp_path / "problem.yaml", edit=change)
    return write


def _assert_bad_input(result, home, *names):
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: ")
    assert "Traceback" not in result.stderr
    for name in names:
        assert str(name) in result.stderr
    # The run home was not created: no serving folder, no metadata store, no logs.
    run_home = home / PIPELINE_NAME
    assert not (run_home / "serving").exists()
    assert not (run_home / "metadata.sqlite").exists()
    assert not run_home.exists()


def test_console_script_is_installed():
    assert pathlib.Path(mlpipe_command()[0]).name == "mlpipe"


def test_help_lists_the_commands(tmp_path):
    result = run_mlpipe("--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    commands = result.stdout.split("{", 1)[1].split("}", 1)[0].split(",")
    assert set(commands) == {"init", "run", "schema", "report", "runs", "lineage", "card",
                             "serve", "predict", "monitor", "compile", "submit", "schedule",
                             "deploy"}


def test_no_command_is_a_usage_error(tmp_path):
    result = run_mlpipe(cwd=tmp_path)
    assert result.returncode == 2
    assert "usage: mlpipe" in result.stderr


def test_missing_data_file(tmp_path, config_for):
    data = tmp_path / "missing.csv"
    home = tmp_path / "home"
    result = run_mlpipe("run", "--config", config_for(data), "--home", home, cwd=tmp_path)
    _assert_bad_input(result, home, data, "does not exist")


def test_empty_csv(tmp_path, config_for):
    data = tmp_path / "empty.csv"
    data.write_text("")
    home = tmp_path / "home"
    result = run_mlpipe("run", "--config", config_for(data), "--home", home, cwd=tmp_path)
    _assert_bad_input(result, home, data, "empty")


def test_missing_column(tmp_path, config_for, write_csv, taxi_row, taxi_header):
    header = [column for column in taxi_header if column != "payment_type"]
    data = write_csv(tmp_path / "trips.csv", [taxi_row(), taxi_row()], header=header)
    home = tmp_path / "home"
    result = run_mlpipe("run", "--config", config_for(data), "--home", home, cwd=tmp_path)
    _assert_bad_input(result, home, data, "payment_type", "missing column")


def test_wrong_type(tmp_path, config_for, write_csv, taxi_row):
    data = write_csv(tmp_path / "trips.csv", [taxi_row(), taxi_row(trip_seconds="ten")])
    home = tmp_path / "home"
    result = run_mlpipe("run", "--config", config_for(data), "--home", home, cwd=tmp_path)
    _assert_bad_input(result, home, data, "'trip_seconds'", "line 3", "must be INT", "'ten'")


def test_underivable_label(tmp_path, config_for, write_csv, taxi_row):
    data = write_csv(tmp_path / "trips.csv",
                     [taxi_row(fare=0, tips=0) for _ in range(5)] + [taxi_row()])
    home = tmp_path / "home"
    result = run_mlpipe("run", "--config", config_for(data), "--home", home, cwd=tmp_path)
    _assert_bad_input(result, home, data, "'fare'", "5 of 6 rows")


def test_missing_config_file(tmp_path):
    config = tmp_path / "nowhere.yaml"
    home = tmp_path / "home"
    result = run_mlpipe("run", "--config", config, "--home", home, cwd=tmp_path)
    _assert_bad_input(result, home, config, "not found")


def test_invalid_config_field(tmp_path, config_for):
    def misspell(raw):
        raw["train"]["epoch"] = 3
    config = config_for(tmp_path / "trips.csv", edit=misspell)
    home = tmp_path / "home"
    result = run_mlpipe("run", "--config", config, "--home", home, cwd=tmp_path)
    _assert_bad_input(result, home, config, "train.epoch")


def test_default_home_is_runs_in_the_working_directory(tmp_path, config_for):
    data = tmp_path / "missing.csv"
    result = run_mlpipe("run", "--config", config_for(data), cwd=tmp_path)
    assert result.returncode == 2
    assert str(data) in result.stderr
    assert not (tmp_path / "runs").exists()
    assert os.listdir(tmp_path) == ["problem.yaml"]


@pytest.mark.parametrize("command", [["run"], ["schema"], ["report"],
                                     ["compile", "--target", "vertex"]])
def test_a_misspelt_kpi_metric_is_a_config_error_before_anything_runs(tmp_path, config_for,
                                                                      write_csv, taxi_row,
                                                                      command):
    """Not a failure inside the Evaluator, nor a traceback under `mlpipe compile`."""
    data = write_csv(tmp_path / "trips.csv", [taxi_row(), taxi_row()])
    home = tmp_path / "home"
    config = config_for(data, edit=lambda raw: raw["evaluation"]["kpi"].update(
        {"binary_acuracy": {"min": 0.8}}))
    result = run_mlpipe(*command, "--config", config, "--home", home, cwd=tmp_path)
    _assert_bad_input(result, home, config, "evaluation.kpi", "binary_acuracy", "known:")
    assert not list(tmp_path.glob("*.json")), "compile wrote nothing"


def test_a_non_utf8_csv_is_bad_input_naming_the_line(tmp_path, config_for, write_csv,
                                                     taxi_row):
    data = write_csv(tmp_path / "trips.csv", [taxi_row(), taxi_row()])
    data.write_bytes(data.read_bytes().replace(b"Credit Card", b"Cr\xe9dit Card", 1))
    home = tmp_path / "home"
    result = run_mlpipe("run", "--config", config_for(data), "--home", home, cwd=tmp_path)
    _assert_bad_input(result, home, data, "line 2: not UTF-8")


def test_a_command_that_loaded_tensorflow_exits_with_its_code_and_everything_written(tmp_path):
    """`run()` skips the interpreter's teardown once TensorFlow is loaded: the exit code, all of
    stdout (a pipe: block-buffered) and the log file still get out, and exit handlers run."""
    import subprocess
    import sys
    log_file = tmp_path / "command.log"
    marker = tmp_path / "exit-handler-ran"
    code = f"""
import atexit, logging, pathlib
import mlpipe.cli as cli
def command():
    import tensorflow  # noqa: F401
    logging.getLogger().addHandler(logging.FileHandler({str(log_file)!r}))
    logging.getLogger().setLevel(logging.INFO)
    logging.info("the last log line")
    atexit.register(pathlib.Path({str(marker)!r}).touch)
    print("x" * 200000)
    print("the last line")
    return 3
cli.main = command
cli.run()
"""
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                               timeout=120)
    assert completed.returncode == 3, completed.stderr[-2000:]
    assert completed.stdout.endswith("x" * 200000 + "\nthe last line\n")
    assert log_file.read_text() == "the last log line\n"
    assert marker.exists()
