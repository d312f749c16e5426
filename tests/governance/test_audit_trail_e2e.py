"""`mlpipe runs` and `mlpipe lineage` on real runs (slow: two extra pipeline runs, ~1 min).

A copy of the session's trained home (one blessed, pushed run) gets two more real runs: one the
AnomalyGate stops (trip_start_hour 99 breaks the curated schema) and one that fails in
CsvExampleGen (a stray double quote in the last row: Python's csv reader, which the preflight
check uses, takes it as text; TFX's line reader waits for the closing quote and fails at the end
of the file). The shared trained home is never written to.
"""

import getpass
import hashlib
import io
import json
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import time

import pytest
import yaml

import mlpipe  # noqa: F401  (process settings before TensorFlow)
from mlpipe.config import load_config
from mlpipe.core import lineage, run_record
from mlpipe.core.run_home import RunHome
from mlpipe.governance import provenance
from mlpipe.governance.runs import collect_runs
from mlpipe.local.local_runner import PipelineFailed, run_local

pytestmark = pytest.mark.e2e

GATE_EVERY = 10  # every 10th row gets trip_start_hour 99


def _sha256(path) -> str:
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


def _rows(path) -> int:
    return sum(1 for line in pathlib.Path(path).read_text().splitlines()[1:] if line)


@pytest.fixture(scope="module")
def audited(trained_home, tmp_path_factory):
    """The trained home copied, plus a gate-stopped run and a failed run in the copy."""
    root = tmp_path_factory.mktemp("audited") / "copy"
    shutil.copytree(trained_home["root"], root)
    config = trained_home["config"].model_copy(update={
        "data": trained_home["config"].data.model_copy(update={"path": str(root / "data.csv")})})
    home = RunHome.for_pipeline(config.name, str(root / "runs"))
    lines = (root / "data.csv").read_text().splitlines(keepends=True)
    header = lines[0].rstrip("\n").split(",")

    gate_csv = root / "gate.csv"
    hour = header.index("trip_start_hour")
    gate_lines = [lines[0]]
    for i, line in enumerate(lines[1:]):
        fields = line.rstrip("\n").split(",")
        if i % GATE_EVERY == 0:
            fields[hour] = "99"
        gate_lines.append(",".join(fields) + "\n")
    gate_csv.write_text("".join(gate_lines))
    with pytest.raises(PipelineFailed) as stopped:
        run_local(_with_data(config, gate_csv), home, out=io.StringIO())
    assert stopped.value.component == "AnomalyGate"

    # The failed run is given a config file of its own: its record keeps that file's text.
    quote_csv = root / "quote.csv"
    company = header.index("company")
    fields = lines[-1].rstrip("\n").split(",")
    fields[company] = 'Flash" Cab'
    quote_csv.write_text("".join(lines[:-1]) + ",".join(fields) + "\n")
    config_file = root / "failing.yaml"
    dumped = _with_data(config, quote_csv).model_dump(by_alias=True, mode="json",
                                                      exclude={"source"})
    config_file.write_text("# a run that fails in CsvExampleGen\n" + yaml.safe_dump(dumped))
    with pytest.raises(PipelineFailed) as failed:
        run_local(load_config(config_file), home, out=io.StringIO())
    assert failed.value.component == "CsvExampleGen"
    assert "unbalanced quotes" in str(failed.value.error)

    return {"root": root, "home": home, "config": config, "trained": trained_home,
            "gate_csv": gate_csv, "quote_csv": quote_csv, "config_file": config_file,
            "version": pathlib.Path(trained_home["pushed"]).name}


def _with_data(config, path):
    return config.model_copy(update={"data": config.data.model_copy(update={"path": str(path)})})


def _runs(home, names=("auc",)):
    with lineage.open_store(home.metadata_path) as store:
        return collect_runs(store, home, list(names))


def _lineage(home, selector):
    summaries = _runs(home)
    return provenance.run_lineage(provenance.select_run(summaries, selector, home), summaries,
                                  home)


def test_runs_lists_every_run_newest_first_with_its_outcome(audited):
    home = audited["home"]
    started = time.perf_counter()
    summaries = _runs(home)
    elapsed = time.perf_counter() - started
    print(f"collect_runs on 3 real runs: {elapsed * 1000:.0f} ms")
    assert [s.outcome for s in summaries] == [
        "failed at CsvExampleGen", "stopped at the gate", "blessed and pushed"]
    failed, gate, blessed = summaries
    assert failed.started >= gate.started >= blessed.started
    assert blessed.pushed_version == audited["version"]
    assert gate.pushed_version is None and failed.pushed_version is None
    assert gate.failed_component == "AnomalyGate"

    # The metrics are TFMA's own numbers for the evaluation.
    with lineage.open_store(home.metadata_path) as store:
        evaluator = lineage.executions_by_node(
            store, next(r.id for r in lineage.pipeline_runs(store) if r.name == blessed.run_id)
        )["Evaluator"]
        evaluation_uri = lineage.outputs_of(store, evaluator.id)["evaluation"].uri
    expected = lineage.overall_metrics(evaluation_uri)
    assert blessed.metrics == {"auc": expected["auc"]}
    assert gate.metrics == {} and failed.metrics == {}

    # Data fingerprint: TFX's, from the examples artifact; the gate run read other data.
    assert blessed.data_fingerprint.startswith("split:all,num_files:1,total_bytes:")
    assert gate.data_fingerprint and gate.data_fingerprint != blessed.data_fingerprint
    assert failed.data_fingerprint is None  # CsvExampleGen wrote no examples

    # Each run's record names the same run and the same code version as ML Metadata.
    records = {r["run_id"]: r for r in run_record.read_records(home.provenance_dir)}
    assert set(records) == {s.run_id for s in summaries}
    assert blessed.code_version == records[blessed.run_id]["code_version"]
    assert gate.code_version is None  # never reached Transform
    assert records[gate.run_id]["failed_component"] == "AnomalyGate"
    assert records[failed.run_id]["failed_component"] == "CsvExampleGen"
    assert "unbalanced quotes" in records[failed.run_id]["error"]
    assert records[blessed.run_id]["failed_component"] is None
    assert not list(home.provenance_dir.glob("*.partial"))


def test_lineage_of_the_pushed_version(audited):
    home, trained = audited["home"], audited["trained"]
    traced = _lineage(home, audited["version"])
    assert traced["outcome"] == "blessed and pushed"
    assert traced["pushed"]["version"] == audited["version"]
    assert traced["pushed"]["by_this_run"] is True
    assert pathlib.Path(traced["pushed"]["destination"], "saved_model.pb").is_file()

    [data] = traced["data"]["files"]
    assert data["sha256"] == _sha256(trained["csv"])
    assert data["rows"] == _rows(trained["csv"]) == 2000
    assert data["bytes"] == pathlib.Path(trained["csv"]).stat().st_size

    config = trained["config"]
    assert traced["schema"]["path"] == config.schema_path
    assert traced["schema"]["sha256"] == _sha256(config.schema_path)
    assert pathlib.Path(traced["schema"]["artifact"], "schema.pbtxt").is_file()
    assert traced["config"]["file"] == config.source
    assert traced["config"]["text"] == pathlib.Path(config.source).read_text()
    assert traced["config"]["sha256"] == _sha256(config.source)
    # The trained home's config is the taxi file changed in code: the record says where.
    assert traced["config"]["differs_from_file"] == ["data.path", "evaluation.kpi.auc.min",
                                                     "evaluation.kpi.binary_accuracy"]
    assert traced["config"]["effective"]["data"]["path"] == str(trained["csv"])

    assert traced["hyperparameters"] == config.train.model_dump()
    assert traced["code_version"] and len(traced["code_version"]) == 16
    assert traced["packages"]["tfx"] == "1.16.0"
    assert set(traced["packages"]) >= {"tfx", "tensorflow", "tensorflow-model-analysis",
                                       "mlpipe"}
    assert (pathlib.Path(traced["training_statistics"]) / "Split-train").is_dir()
    assert traced["evaluation"]["blessed"] is True
    assert traced["evaluation"]["metrics"]["auc"] > 0.8
    assert traced["evaluation"]["baseline"] is None  # the first blessed model of the home
    assert traced["ran_by"]["user"] == getpass.getuser()
    assert traced["ran_by"]["host"] == socket.gethostname()
    assert traced["ran_by"]["seconds"] > 0


def test_lineage_of_the_failed_run_keeps_its_config_file(audited):
    home = audited["home"]
    failed = _runs(home)[0]
    traced = _lineage(home, failed.run_id[:-3])  # a unique prefix
    assert traced["run_id"] == failed.run_id
    assert traced["outcome"] == "failed at CsvExampleGen"
    assert traced["pushed"] is None and traced["evaluation"] is None
    assert traced["config"]["file"] == str(audited["config_file"])
    assert traced["config"]["text"] == audited["config_file"].read_text()
    assert traced["config"]["differs_from_file"] == []
    [data] = traced["data"]["files"]
    assert data["sha256"] == _sha256(audited["quote_csv"]) and data["rows"] == 2000
    assert pathlib.Path(traced["log_file"]).is_file()


def test_lineage_by_data_finds_the_version_from_a_renamed_copy(audited, tmp_path):
    renamed = tmp_path / "elsewhere" / "trips-renamed.csv"
    renamed.parent.mkdir()
    shutil.copyfile(audited["trained"]["csv"], renamed)
    found = provenance.data_lineage(str(renamed), _runs(audited["home"]), audited["home"])
    assert found["versions"] == [audited["version"]]
    assert [run["outcome"] for run in found["runs"]] == ["blessed and pushed"]
    assert found["runs"][0]["files"][0]["recorded_path"] == str(audited["trained"]["csv"])

    gate = provenance.data_lineage(str(audited["gate_csv"]), _runs(audited["home"]),
                                   audited["home"])
    assert gate["versions"] == [] and [r["outcome"] for r in gate["runs"]] == [
        "stopped at the gate"]


def test_the_commands_work_after_the_home_is_moved(audited, tmp_path):
    before = _runs(audited["home"])
    gate_before = _lineage(audited["home"], before[1].run_id)
    moved_root = tmp_path / "moved"
    shutil.copytree(audited["root"], moved_root)  # the copy in another folder ...
    shutil.rmtree(audited["root"])                # ... and the old folder gone
    try:
        home = RunHome.for_pipeline(audited["config"].name, str(moved_root / "runs"))
        shutil.rmtree(home.summaries_dir)  # metrics must be read again, at the new place
        after = _runs(home)
        assert [(s.run_id, s.outcome, s.pushed_version, s.data_fingerprint, s.code_version)
                for s in after] == [(s.run_id, s.outcome, s.pushed_version, s.data_fingerprint,
                                     s.code_version) for s in before]
        assert after[2].metrics == pytest.approx(before[2].metrics)

        # The gate run's artifacts were written in the copy: found under the new root.
        gate = _lineage(home, before[1].run_id)
        statistics = pathlib.Path(gate["training_statistics"])
        assert statistics.is_relative_to(moved_root) and statistics.is_dir()
        assert gate_before["training_statistics"].startswith(str(audited["root"]))
        assert pathlib.Path(gate["log_file"]).is_relative_to(moved_root)
        assert gate["data"]["files"] == gate_before["data"]["files"]

        _assert_cli_end_to_end(moved_root / "runs", audited, tmp_path)
    finally:
        shutil.move(str(moved_root), str(audited["root"]))


def _mlpipe(*args):
    started = time.perf_counter()
    completed = subprocess.run([sys.executable, "-m", "mlpipe", *map(str, args)],
                               capture_output=True, text=True, timeout=120,
                               env=dict(os.environ))
    return completed, time.perf_counter() - started


def _assert_cli_end_to_end(base, audited, tmp_path):
    listed, seconds = _mlpipe("runs", "--json", "--home", base)
    print(f"`mlpipe runs --json` on the moved home: {seconds:.2f} s (process included)")
    assert listed.returncode == 0, listed.stderr
    runs = json.loads(listed.stdout)
    assert [run["outcome"] for run in runs] == [
        "failed at CsvExampleGen", "stopped at the gate", "blessed and pushed"]
    assert runs[2]["pushed_version"] == audited["version"]
    assert set(runs[2]["metrics"]) == {"auc", "binary_accuracy"}  # the taxi config's KPI

    table, _ = _mlpipe("runs", "--home", base)
    assert table.returncode == 0, table.stderr
    assert "stopped at the gate" in table.stdout and audited["version"] in table.stdout

    traced, _ = _mlpipe("lineage", audited["version"], "--json", "--home", base)
    assert traced.returncode == 0, traced.stderr
    body = json.loads(traced.stdout)
    assert body["data"]["files"][0]["sha256"] == _sha256(audited["trained"]["csv"])
    text, _ = _mlpipe("lineage", audited["version"], "--home", base)
    assert text.returncode == 0, text.stderr
    assert "Config file as it was" in text.stdout and "BLESSED" in text.stdout

    by_data, _ = _mlpipe("lineage", "--data", audited["trained"]["csv"], "--json", "--home", base)
    assert by_data.returncode == 0, by_data.stderr
    assert json.loads(by_data.stdout)["versions"] == [audited["version"]]

    for args, names in [(("lineage", "no-such-run"), ["no-such-run", audited["version"]]),
                        (("lineage", "--data", tmp_path / "missing.csv"), ["missing.csv"]),
                        (("lineage",), ["--data"]),
                        (("runs", "--home", tmp_path / "empty"), ["no pipeline run"])]:
        home_args = [] if "--home" in args else ["--home", base]
        failed, _ = _mlpipe(*args, *home_args)
        assert failed.returncode == 2, (args, failed.stderr)
        assert failed.stderr.startswith("error: ") and "Traceback" not in failed.stderr
        for name in names:
            assert name in failed.stderr
