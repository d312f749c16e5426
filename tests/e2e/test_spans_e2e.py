"""Data that arrives in spans, end to end (slow: a few minutes): three spans of 1,500 taxi trips
cut by time, the third with a planted shift, written one after another into a data folder read
through `span-{SPAN}/` with a window of two spans, and `train.warm_start` on.

One run home is shared by the tests in file order: span 1 passes the drift gate (nothing to
compare with; a cold start, no blessed model yet), span 2 passes, trains on spans 1 and 2 and
starts from span 1's blessed model, an unchanged re-run is served from the
cache, the shifted span 3 stops at the drift gate naming the features, `--accept-drift` lets it
through and the acceptance is recorded (runs, lineage, report), and `--span 1` backfills.

Then spans of one distribution (the taxi table dealt into thirds by row number, 5,000 rows each,
default thresholds): span 3 passes the gate against span 2, and `mlpipe monitor` stays quiet on
span 1 against the model trained on span 3.
"""

import io
import json

import pytest

import mlpipe  # noqa: F401  (process settings before TensorFlow)
from mlpipe.config import load_config
from mlpipe.core import lineage
from mlpipe.core.artifacts import span_of
from mlpipe.core.run_home import RunHome
from mlpipe.local.local_runner import run_local
from tests.support import spans
from tests.support.cli import run_mlpipe
from tests.support.configs import write_config

pytestmark = pytest.mark.e2e

RESOLVERS = {"baseline_resolver", "drift_resolver", "span_resolver", "warm_start_resolver"}


def _span_workspace(root, rows, settings=lambda raw: None) -> dict:
    """A taxi config reading `root`/data/span-{SPAN}/, with `settings` applied to it."""
    data = root / "data"

    def edit(raw):
        raw["data"]["path"] = f"{data}/{spans.SPAN_FOLDER}"
        settings(raw)
    config_file = write_config(root / "spans.yaml", edit=edit)
    config = load_config(config_file)
    return {"root": root, "data": data, "config_file": config_file, "config": config,
            "home": RunHome.for_pipeline(config.name, str(root / "runs")),
            "base": root / "runs", "rows": rows}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    def settings(raw):
        raw["data"]["window"] = 2
        raw["train"].update(batch_size=128, epochs=4, warm_start=True)
        raw["evaluation"].update(kpi={"auc": {"min": 0.6}}, max_regression={"auc": 0.5})
        # The calendar month moves by construction between spans cut by time. Every other
        # feature is compared at the default thresholds.
        raw["drift_gate"] = {"features": [f for f in load_config().features.raw_columns
                                          if f != "trip_start_month"]}
    return _span_workspace(tmp_path_factory.mktemp("spans"), spans.taxi_by_time(), settings)


def _states(result):
    return {component.name: component.state for component in result.components}


def _add_span(workspace, span, shifted=False):
    rows = spans.span_rows(span, workspace["rows"])
    spans.write_span(workspace["data"], span, spans.planted_shift(rows) if shifted else rows)


def _run(workspace, **options):
    return run_local(workspace["config"], workspace["home"], out=io.StringIO(), **options)


def _inputs(workspace, node, key):
    """The artifacts the newest run's `node` read as `key`."""
    with lineage.open_store(workspace["home"].metadata_path) as store:
        run = lineage.pipeline_runs(store)[-1]
        execution = lineage.executions_by_node(store, run.id)[node]
        return list(lineage.input_artifacts(store, execution.id, key))


def _input_spans(workspace, node, key="examples"):
    """The spans the newest run's `node` read."""
    return sorted(span_of(a) for a in _inputs(workspace, node, key))


def _mlpipe(workspace, *args, timeout=900):
    return run_mlpipe(*args, "--config", workspace["config_file"], "--home", workspace["base"],
                      timeout=timeout)


def test_first_span_passes_the_gate_with_nothing_to_compare(workspace):
    _add_span(workspace, 1)
    result = _run(workspace)
    states = _states(result)
    assert {states.pop(name) for name in RESOLVERS} == {"resolved"}
    assert set(states.values()) == {"executed"}, states
    assert result.span.span == 1 and result.trained_spans == [1]
    assert result.drift["previous_span"] is None and result.drift["passed"]
    assert "Cold start: no blessed model to warm-start from yet" in result.log_file.read_text()


def test_second_span_passes_and_trains_on_the_window(workspace):
    _add_span(workspace, 2)
    result = _run(workspace)
    assert _states(result)["Transform"] == "executed"
    assert result.span.describe() == "2 (newest of 2: 1, 2)"
    assert result.drift["previous_span"] == 1 and result.drift["drifted"] == []
    assert {d["feature"] for d in result.drift["distances"]} >= {"payment_type", "fare"}
    assert result.trained_spans == [1, 2]
    # The model is judged on the run's span only.
    assert _input_spans(workspace, "Evaluator") == [2]
    assert _input_spans(workspace, "Transform") == [1, 2]
    # The Trainer started from the model span 1 blessed.
    [base_model] = _inputs(workspace, "Trainer", "base_model")
    assert f"Warm start from the latest blessed model {base_model.uri}" in \
        result.log_file.read_text()


def test_an_unchanged_span_reruns_from_the_cache(workspace):
    before = workspace["home"].pushed_versions()
    result = _run(workspace, recheck=True)
    states = _states(result)
    assert {states.pop(name) for name in RESOLVERS} == {"resolved"}
    assert set(states.values()) == {"cached"}, states
    assert workspace["home"].pushed_versions() == before


def test_a_shifted_span_stops_at_the_drift_gate_naming_the_features(workspace):
    _add_span(workspace, 3, shifted=True)
    before = workspace["home"].pushed_versions()
    completed = _mlpipe(workspace, "run")
    assert completed.returncode == 1, completed.stdout + completed.stderr
    assert "✗  DriftGate" in completed.stdout and "Transform" not in completed.stdout
    message = completed.stderr
    assert "FAILED at DriftGate: DataDriftError" in message
    assert "span 3 drifted from span 2 (train split) on 2 features:" in message
    assert "  - payment_type: L-infinity " in message and "Cash " in message
    assert "  - trip_start_hour: PSI " in message and "> threshold 0.1000: p10 " in message
    assert "--accept-drift" in message
    assert workspace["home"].pushed_versions() == before


def test_accept_drift_lets_the_span_through_and_is_recorded(workspace):
    completed = _mlpipe(workspace, "run", "--accept-drift")
    assert completed.returncode in (0, 3), completed.stdout + completed.stderr
    assert "Span:         3 (newest of 3: 1, 2, 3); trained on spans 2, 3 (data.window 2)" \
        in completed.stdout
    gate_line = next(line for line in completed.stdout.splitlines()
                     if line.startswith("Drift gate:"))
    assert gate_line.startswith("Drift gate:   span 3 vs span 2: drift ACCEPTED for this run "
                                "(--accept-drift): ")
    assert "payment_type L-infinity" in gate_line and "trip_start_hour PSI" in gate_line

    listed = _mlpipe(workspace, "runs", "--json", timeout=120)
    assert listed.returncode == 0, listed.stderr
    accepted, stopped = json.loads(listed.stdout)[:2]
    assert (accepted["span"], accepted["trained_on_spans"]) == (3, [2, 3])
    assert accepted["drift_gate"]["accepted"] and accepted["drift_gate"]["accept_drift_flag"]
    assert set(accepted["drift_gate"]["drifted_features"]) == set(spans.SHIFTED_FEATURES)
    assert (stopped["outcome"], stopped["span"]) == ("stopped at the drift gate", 3)
    table = _mlpipe(workspace, "runs", timeout=120).stdout
    accepted_line = next(line for line in table.splitlines() if "ACCEPTED vs 2: " in line)
    assert {"payment_type", "trip_start_hour"} <= set(
        accepted_line.split("ACCEPTED vs 2: ")[1].replace(",", " ").split())

    traced = _mlpipe(workspace, "lineage", accepted["run_id"], timeout=120)
    assert "Span:            3 (the model trained on spans 2, 3)" in traced.stdout
    assert "drift accepted for this run: --accept-drift" in traced.stdout

    report = _mlpipe(workspace, "report", accepted["run_id"], "--json", "-", timeout=300)
    assert report.returncode == 0, report.stderr[-2000:]
    assert f"Evaluation of run {accepted['run_id']} (taxi-big-tipper), span 3" in report.stdout
    body = json.loads(report.stdout[report.stdout.index("\n{") + 1:])
    assert (body["span"], body["trained_spans"], body["drift_gate"]["accepted"]) == (
        3, [2, 3], True)


def test_span_one_backfills(workspace):
    result = _run(workspace, span="1")
    states = _states(result)
    # Span 1's data, statistics and drift verdict are those of its first run.
    assert states["CsvExampleGen"] == states["StatisticsGen"] == states["DriftGate"] == "cached"
    assert result.span.describe() == "1 (backfill; the newest is 3)"
    assert result.trained_spans == [1]
    assert result.drift["span"] == 1 and result.drift["previous_span"] is None
    assert _input_spans(workspace, "Evaluator") == [1]


@pytest.fixture(scope="module")
def thirds(tmp_path_factory):
    return _span_workspace(tmp_path_factory.mktemp("thirds"), spans.taxi_rows())


def test_random_thirds_of_one_table_pass_the_gate_and_keep_the_monitor_quiet(thirds):
    for span in (1, 2):
        spans.write_span(thirds["data"], span, spans.random_third(span, thirds["rows"]))
    first = _run(thirds)
    assert first.span.span == 2 and first.drift["passed"] and first.pushed_version
    spans.write_span(thirds["data"], 3, spans.random_third(3, thirds["rows"]))
    second = _run(thirds)
    assert second.span.span == 3 and second.drift["previous_span"] == 2
    assert second.drift["drifted"] == [] and second.drift["passed"], second.drift
    assert second.pushed_version

    monitored = _mlpipe(thirds, "monitor", "--input",
                        str(thirds["data"] / "span-1" / "trips.csv"), timeout=300)
    assert monitored.returncode == 0, monitored.stdout + monitored.stderr
    assert "OK: within thresholds" in monitored.stdout
