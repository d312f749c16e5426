"""`mlpipe runs` on a store with hundreds of runs: batched ML Metadata reads, no TFMA.

The store is built with ML Metadata's own API in the shape TFX gives it (one pipeline_run context
per run, one node context per component, executions with their input and output events), so the
test needs no pipeline run and measures only the reading.
"""

import json
import os
import pathlib
import shutil
import tempfile
import time

import ml_metadata as mlmd
import pytest
from ml_metadata.proto import metadata_store_pb2 as pb

import mlpipe  # noqa: F401
from mlpipe.core import lineage, run_record
from mlpipe.core.run_home import RunHome
from mlpipe.governance import provenance
from mlpipe.governance.runs import collect_runs

RUNS = 300
NODES = ["CsvExampleGen", "ImportSchemaGen", "StatisticsGen", "ExampleValidator", "AnomalyGate",
         "Transform", "Trainer", "baseline_resolver", "Evaluator", "Pusher"]
OUTPUTS = {"CsvExampleGen": ("examples", "Examples"), "ImportSchemaGen": ("schema", "Schema"),
           "StatisticsGen": ("statistics", "ExampleStatistics"), "Trainer": ("model", "Model"),
           "Evaluator": ("evaluation", "ModelEvaluation"),
           "Pusher": ("pushed_model", "PushedModel")}
SCRATCH = "/dev/shm"
# How the synthetic runs end, in turn.
KINDS = ["pushed", "not blessed", "gate", "failed"]


def _build_store(home: RunHome) -> None:
    home.root.mkdir(parents=True)
    config = pb.ConnectionConfig()
    config.sqlite.filename_uri = str(home.metadata_path)
    config.sqlite.connection_mode = pb.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
    store = mlmd.MetadataStore(config)
    run_type = store.put_context_type(pb.ContextType(name="pipeline_run"))
    node_type = store.put_context_type(pb.ContextType(name="node"))
    types = {name: store.put_artifact_type(pb.ArtifactType(name=name))
             for name in {"Examples", "Schema", "ExampleStatistics", "Model", "ModelEvaluation",
                          "ModelBlessing", "PushedModel"}}
    execution_types = {node: store.put_execution_type(pb.ExecutionType(name=f"tfx.{node}"))
                       for node in NODES}
    node_contexts = {node: _context(store, node_type, f"taxi.{node}") for node in NODES}
    baseline = None  # the model of the latest blessed run: the next Evaluator's baseline
    for run in range(RUNS):
        kind = KINDS[run % len(KINDS)]
        run_context = _context(store, run_type, f"2026-01-01T00:{run // 60:02d}:{run % 60:02d}")
        for node in NODES:
            state = pb.Execution.COMPLETE
            if (kind, node) in (("gate", "AnomalyGate"), ("failed", "StatisticsGen")):
                state = pb.Execution.FAILED
            execution = pb.Execution(type_id=execution_types[node], last_known_state=state)
            if node == "CsvExampleGen":
                execution.custom_properties["input_fingerprint"].string_value = f"fp-{run}"
            if node in ("Transform", "Trainer"):
                execution.custom_properties["custom_config"].string_value = json.dumps(
                    {"code_version": f"code-{run % 7}", "problem": {"train": {"epochs": 4}}})
            outputs = []
            if node in OUTPUTS and state == pb.Execution.COMPLETE:
                key, type_name = OUTPUTS[node]
                outputs.append((key, _artifact(types[type_name], f"/x/{node}/{key}/{run}")))
                if node == "Evaluator":
                    blessing = _artifact(types["ModelBlessing"], f"/x/blessing/{run}")
                    blessing.custom_properties["blessed"].int_value = int(kind == "pushed")
                    outputs.append(("blessing", blessing))
                if node == "Pusher":
                    pushed = outputs[0][1]
                    pushed.custom_properties["pushed"].int_value = int(kind == "pushed")
                    if kind == "pushed":
                        pushed.custom_properties["pushed_version"].string_value = str(10_000 + run)
                        pushed.custom_properties["pushed_destination"].string_value = \
                            f"/x/serving/{10_000 + run}"
            inputs = [("baseline_model", baseline)] if node == "Evaluator" and baseline else []
            events = []
            for kind_of_event, pairs in ((pb.Event.INPUT, inputs), (pb.Event.OUTPUT, outputs)):
                for key, artifact in pairs:
                    event = pb.Event(type=kind_of_event)
                    event.path.steps.add().key = key
                    events.append((artifact, event))
            _, artifact_ids, _ = store.put_execution(
                execution, events, [run_context, node_contexts[node]],
                reuse_context_if_already_exist=True)
            for (artifact, _), artifact_id in zip(events, artifact_ids):
                artifact.id = artifact_id
            if node == "Trainer":
                model = outputs[0][1]
            if node == "Pusher" and kind == "pushed":
                baseline = model
            if state == pb.Execution.FAILED:
                break  # nothing downstream runs
    # The metrics cache every `mlpipe run` fills: with it, no TFMA.
    home.summaries_dir.mkdir()
    for run in range(RUNS):
        if KINDS[run % len(KINDS)] in ("pushed", "not blessed"):
            lineage.cached_metrics_path(f"/x/Evaluator/evaluation/{run}", home.summaries_dir) \
                .write_text(json.dumps({"auc": 0.9 + run / 10_000, "binary_accuracy": 0.85}))


def _context(store, type_id, name):
    context = pb.Context(type_id=type_id, name=name)
    [context.id] = store.put_contexts([context])
    return context


def _artifact(type_id, uri):
    return pb.Artifact(type_id=type_id, uri=uri, state=pb.Artifact.LIVE)


@pytest.fixture(scope="module")
def big_home(tmp_path_factory):
    home = RunHome(tmp_path_factory.mktemp("many") / "taxi-big-tipper")
    # Every ML Metadata write is a SQLite transaction synced to disk: the store is built on
    # tmpfs where there is one (3 s instead of 20-30 s here), then copied into place.
    if os.access(SCRATCH, os.W_OK):
        scratch = pathlib.Path(tempfile.mkdtemp(dir=SCRATCH))
        try:
            _build_store(RunHome(scratch / home.root.name))
            shutil.copytree(scratch / home.root.name, home.root)
        finally:
            shutil.rmtree(scratch)
    else:
        _build_store(home)
    return home


def test_runs_reads_hundreds_of_runs_in_batched_queries(big_home, monkeypatch):
    calls = {"executions_by_context": 0, "events": 0, "artifacts": 0}
    real = mlmd.MetadataStore

    class Counting(real):
        def get_executions_by_context(self, *args, **kwargs):
            calls["executions_by_context"] += 1
            return super().get_executions_by_context(*args, **kwargs)

        def get_events_by_execution_ids(self, *args, **kwargs):
            calls["events"] += 1
            return super().get_events_by_execution_ids(*args, **kwargs)

        def get_artifacts_by_id(self, *args, **kwargs):
            calls["artifacts"] += 1
            return super().get_artifacts_by_id(*args, **kwargs)

    monkeypatch.setattr(lineage.mlmd, "MetadataStore", Counting)
    monkeypatch.setattr(lineage, "overall_metrics",
                        lambda uri: pytest.fail(f"TFMA read {uri}: the cache was not used"))
    started = time.perf_counter()
    with lineage.open_store(big_home.metadata_path) as store:
        summaries = collect_runs(store, big_home, ["auc", "binary_accuracy"])
    elapsed = time.perf_counter() - started
    print(f"\ncollect_runs on {RUNS} runs: {elapsed * 1000:.0f} ms, queries: {calls}")

    assert len(summaries) == RUNS
    # One executions query per run and per node, one for all events, one for all artifacts.
    assert calls == {"executions_by_context": RUNS + len(NODES), "events": 1, "artifacts": 1}
    assert elapsed < 10, f"{elapsed:.1f} s for {RUNS} runs"

    newest = summaries[0]
    assert newest.run_id == "2026-01-01T00:04:59"  # run 299 ("failed" kind)
    by_number = {int(s.data_fingerprint.split("-")[1]): s for s in summaries}
    assert by_number[0].outcome == "blessed and pushed"
    assert by_number[0].pushed_version == "10000"
    assert by_number[0].metrics == {"auc": 0.9, "binary_accuracy": 0.85}
    assert by_number[0].code_version == "code-0"
    assert by_number[1].outcome == "not blessed" and by_number[1].pushed_version is None
    assert by_number[2].outcome == "stopped at the gate" and by_number[2].metrics == {}
    assert by_number[3].outcome == "failed at StatisticsGen"
    assert by_number[3].code_version is None


def test_a_version_is_traced_to_the_run_that_pushed_it(big_home):
    with lineage.open_store(big_home.metadata_path) as store:
        summaries = collect_runs(store, big_home, ["auc"])
    traced = provenance.run_lineage(provenance.select_run(summaries, "10004", big_home),
                                    summaries, big_home)
    assert traced["run_id"] == "2026-01-01T00:00:04"
    assert traced["hyperparameters"] == {"epochs": 4}
    assert traced["evaluation"]["blessed"] is True
    assert traced["evaluation"]["baseline"] == {
        "model": "/x/Trainer/model/0", "run_id": "2026-01-01T00:00:00", "version": "10000"}
    first = provenance.run_lineage(provenance.select_run(summaries, "10000", big_home),
                                   summaries, big_home)
    assert first["evaluation"]["baseline"] is None
    assert traced["ran_by"] is None and traced["data"]["files"] is None  # no record written
    with pytest.raises(provenance.LineageError, match="no run or pushed model version"):
        provenance.select_run(summaries, "99999", big_home)
    with pytest.raises(provenance.LineageError, match="more than one"):
        provenance.select_run(summaries, "2026-01-01T00:01", big_home)


def test_a_failure_before_tfx_registered_anything_comes_from_the_record(tmp_path, taxi_config):
    """A run whose context exists but that has no failed execution and no blessing: the
    provenance record names the failed step."""
    home = RunHome(tmp_path / "taxi-big-tipper")
    home.root.mkdir()
    config = pb.ConnectionConfig()
    config.sqlite.filename_uri = str(home.metadata_path)
    store = mlmd.MetadataStore(config)
    run_type = store.put_context_type(pb.ContextType(name="pipeline_run"))
    store.put_contexts([pb.Context(type_id=run_type, name="2026-02-02T00:00:00")])
    with lineage.open_store(home.metadata_path) as reader:
        assert collect_runs(reader, home, [])[0].outcome == "incomplete"
    record = run_record.new_record(run_record.RunStart.capture(taxi_config),
                                   run_id="2026-02-02T00:00:00", data=[], run_home=home.root,
                                   log_file=home.root / "x.log", finished=time.time(),
                                   failed_component="Transform")
    run_record.write_record(home.provenance_dir, record)
    with lineage.open_store(home.metadata_path) as reader:
        assert collect_runs(reader, home, [])[0].outcome == "failed at Transform"
