"""The DriftGate executor, run for real on TFDV statistics of small taxi spans cut by time: the
first span passes and says so, a similar span passes, a planted shift stops the run naming each
feature with its distance, threshold and what moved, --accept-drift lets it through and is
recorded."""

import json
import os

import mlpipe  # noqa: F401  (process settings before TensorFlow)
import pandas as pd
import pytest
import tensorflow_data_validation as tfdv
from tfx.types import channel_utils, standard_artifacts

from mlpipe.components import drift_gate
from mlpipe.components.drift_gate import executor
from mlpipe.components.drift_gate import spec as gate
from mlpipe.components.drift_gate.component import DriftGate
from mlpipe.components.drift_gate.spec import DriftReportArtifact, spec_json
from mlpipe.config import DriftGateConfig
from mlpipe.core import drift
from mlpipe.core.artifacts import STATISTICS_FILE
from mlpipe.governance import runs as governance_runs
from tests.support import spans
from tests.support.formats import TAXI_KINDS

ROWS = 400  # per span: enough for stable distances, small enough for a fast test


@pytest.fixture(scope="module")
def by_time():
    return spans.taxi_by_time()


@pytest.fixture
def spec(taxi_config):
    """The drift spec of the taxi features without the calendar month (it moves by construction
    between spans cut by time), with a feature's own threshold."""
    section = DriftGateConfig(
        features=[f for f in taxi_config.features.raw_columns if f != "trip_start_month"],
        feature_thresholds={"trip_seconds": 0.5})
    return spec_json(section, taxi_config.features.raw_columns, taxi_config.name)


@pytest.fixture
def span_inputs(tmp_path):
    """span_inputs(span, rows) -> (Examples, ExampleStatistics) as ExampleGen and StatisticsGen
    leave them: the span on the Examples, TFDV statistics of the train split with StatisticsGen's
    options (columns typed as CsvExampleGen infers them: the schema's INT and FLOAT columns are
    numbers)."""
    def make(span, rows):
        frame = pd.DataFrame(rows)
        for column in TAXI_KINDS:
            frame[column] = pd.to_numeric(frame[column], errors="coerce")
        split = tmp_path / f"statistics-{span}-{len(list(tmp_path.iterdir()))}" / "Split-train"
        split.mkdir(parents=True)
        statistics = tfdv.generate_statistics_from_dataframe(
            frame, stats_options=drift.statistics_options())
        (split / STATISTICS_FILE).write_bytes(statistics.SerializeToString())
        examples = standard_artifacts.Examples()
        examples.set_int_custom_property("span", span)
        stats_artifact = standard_artifacts.ExampleStatistics()
        stats_artifact.uri = str(split.parent)
        return examples, stats_artifact
    return make


@pytest.fixture
def run_gate(tmp_path, span_inputs, spec):
    """run_gate(span, rows, baseline=[], accept=False) -> the DriftReport it wrote."""
    def run(span, rows, baseline=(), accept=False, drift_spec=None):
        examples, statistics = span_inputs(span, rows)
        report = DriftReportArtifact()
        report.uri = str(tmp_path / f"report-{span}-{len(list(tmp_path.iterdir()))}")
        report.id = len(list(tmp_path.iterdir()))
        executor.Executor().Do(
            {gate.STATISTICS_KEY: [statistics], gate.EXAMPLES_KEY: [examples],
             gate.BASELINE_KEY: list(baseline)},
            {gate.REPORT_KEY: [report]},
            {gate.SPEC_KEY: drift_spec or spec, gate.ACCEPT_KEY: int(accept)})
        return report
    return run


def test_the_first_span_passes_and_says_so(run_gate, by_time):
    report = run_gate(1, spans.span_rows(1, by_time, ROWS))
    result = drift_gate.read_report(report.uri)
    assert (result["span"], result["previous_span"], result["passed"]) == (1, None, True)
    assert drift_gate.summary(result) == ("span 1: nothing to compare with (no earlier span "
                                          "passed the gate); passed")
    assert report.get_int_custom_property(drift_gate.SPAN_PROPERTY) == 1
    assert report.get_int_custom_property(drift_gate.PREVIOUS_SPAN_PROPERTY) == drift_gate.NO_SPAN
    # The span's statistics travel with the report: what the next span is compared with.
    assert os.path.isfile(os.path.join(report.uri, STATISTICS_FILE))


def test_the_next_span_by_time_passes_with_its_distances(run_gate, by_time):
    first = run_gate(1, spans.span_rows(1, by_time, ROWS))
    report = run_gate(2, spans.span_rows(2, by_time, ROWS), baseline=[first])
    result = drift_gate.read_report(report.uri)
    assert (result["previous_span"], result["drifted"], result["passed"]) == (1, [], True)
    measured = {d["feature"]: d for d in result["distances"]}
    # Strings by L-infinity, numbers (integer codes of categories too) by PSI.
    assert measured["payment_type"]["measure"] == drift.L_INFINITY
    assert measured["company"]["measure"] == drift.L_INFINITY
    assert measured["fare"]["measure"] == drift.PSI
    assert measured["pickup_community_area"]["measure"] == drift.PSI
    assert "trip_start_month" not in measured
    assert measured["trip_seconds"]["threshold"] == 0.5  # the per-feature override
    assert measured["fare"]["threshold"] == 0.1
    assert all(0 <= d["value"] < d["threshold"] or d["value"] <= d["chance"]
               for d in result["distances"])
    # What a person reads: the previous span's and this span's quantiles side by side.
    assert set(measured["fare"]["moved"]["quantiles"]) == {"min", "p10", "p50", "p90", "max"}
    assert drift_gate.summary(result).startswith("span 2 vs span 1: no drift (largest: ")


def test_a_planted_shift_stops_naming_each_feature(run_gate, by_time):
    first = run_gate(1, spans.span_rows(1, by_time, ROWS))
    with pytest.raises(drift_gate.DataDriftError) as caught:
        run_gate(2, spans.planted_shift(spans.span_rows(2, by_time, ROWS)), baseline=[first])
    lines = str(caught.value).splitlines()
    assert lines[0] == "span 2 drifted from span 1 (train split) on 2 features:"
    payment = next(line for line in lines if "payment_type" in line)
    hour = next(line for line in lines if "trip_start_hour" in line)
    assert "L-infinity" in payment and "> threshold 0.0800" in payment
    assert "Cash" in payment and "-> 0.0%" in payment  # cash paid trips vanished
    assert "PSI" in hour and "> threshold 0.1000" in hour
    assert "p10 " in hour and "-> 3," in hour  # every quantile at 3 am now
    assert "mlpipe run --accept-drift" in lines[-1]


def test_accept_drift_lets_the_shift_through_and_records_it(run_gate, by_time):
    first = run_gate(1, spans.span_rows(1, by_time, ROWS))
    report = run_gate(2, spans.planted_shift(spans.span_rows(2, by_time, ROWS)),
                      baseline=[first], accept=True)
    result = drift_gate.read_report(report.uri)
    assert result["accepted"] and result["passed"]
    assert set(result["drifted"]) == set(spans.SHIFTED_FEATURES)
    assert report.get_int_custom_property(drift_gate.ACCEPTED_PROPERTY) == 1
    assert set(report.get_string_custom_property(drift_gate.DRIFTED_PROPERTY).split(", ")) == \
        set(spans.SHIFTED_FEATURES)
    assert "drift ACCEPTED for this run (--accept-drift)" in drift_gate.summary(result)


def test_accepting_without_a_shift_records_no_acceptance(run_gate, by_time):
    first = run_gate(1, spans.span_rows(1, by_time, ROWS))
    report = run_gate(2, spans.span_rows(2, by_time, ROWS), baseline=[first], accept=True)
    assert report.get_int_custom_property(drift_gate.ACCEPTED_PROPERTY) == 0


def test_the_baseline_is_the_highest_earlier_span(run_gate, by_time):
    """A report of a later span (a backfill runs after it) or of another pipeline is not a
    baseline; among earlier ones, the highest span's."""
    rows = spans.span_rows(1, by_time, ROWS)
    one, three = run_gate(1, rows), run_gate(3, rows)
    result = drift_gate.read_report(run_gate(2, rows, baseline=[three, one]).uri)
    assert result["previous_span"] == 1
    backfill = drift_gate.read_report(run_gate(1, rows, baseline=[three]).uri)
    assert backfill["previous_span"] is None
    one.set_string_custom_property(gate.PIPELINE_PROPERTY, "another-pipeline")
    assert drift_gate.read_report(run_gate(2, rows, baseline=[one]).uri)[
        "previous_span"] is None


def test_a_features_own_threshold_replaces_the_default(run_gate, by_time, taxi_config):
    section = DriftGateConfig(features=["trip_start_hour"],
                              feature_thresholds={"trip_start_hour": 10})
    drift_spec = spec_json(section, taxi_config.features.raw_columns, taxi_config.name)
    first = run_gate(1, spans.span_rows(1, by_time, ROWS), drift_spec=drift_spec)
    report = run_gate(2, spans.planted_shift(spans.span_rows(2, by_time, ROWS)),
                      baseline=[first], drift_spec=drift_spec)
    assert drift_gate.read_report(report.uri)["passed"]


@pytest.mark.parametrize("change, words", [
    ({"features": []}, "features"),
    ({"numeric_psi": 0}, "numeric_psi"),
    ({"feature_thresholds": {"fare": 20}}, "fare"),
])
def test_a_bad_spec_fails_when_the_graph_is_built(spec, change, words):
    with pytest.raises(ValueError, match=words):
        DriftGate(statistics=None, examples=None, baseline=None,
                  drift_spec=json.dumps({**json.loads(spec), **change}))


def test_spec_is_stable_json_of_the_section(taxi_config):
    section = DriftGateConfig(feature_thresholds={"fare": 0.3, "company": 0.2})
    spec = json.loads(spec_json(section, taxi_config.features.raw_columns, "p"))
    assert spec == {"features": sorted(taxi_config.features.raw_columns),
                    "categorical_threshold": 0.08, "numeric_psi": 0.1,
                    "feature_thresholds": {"company": 0.2, "fare": 0.3}, "split": "train",
                    "pipeline": "p"}


def test_component_wires_statistics_examples_and_baseline(spec):
    component = DriftGate(
        statistics=channel_utils.as_channel([standard_artifacts.ExampleStatistics()]),
        examples=channel_utils.as_channel([standard_artifacts.Examples()]),
        baseline=channel_utils.as_channel([DriftReportArtifact()]), drift_spec=spec,
        accept_drift=True)
    assert set(component.inputs) == {"statistics", "examples", "baseline"}
    assert set(component.outputs) == {"report"}
    assert component.exec_properties["accept_drift"] == 1
    assert component.executor_spec.executor_class is executor.Executor


def test_governance_reads_the_property_names_the_gate_writes():
    """`mlpipe runs` reads the report's properties without importing TFX: same names."""
    assert (governance_runs._REPORT_SPAN, governance_runs._REPORT_PREVIOUS,
            governance_runs._REPORT_DRIFTED, governance_runs._REPORT_ACCEPTED,
            governance_runs._ACCEPT_FLAG) == (
        gate.SPAN_PROPERTY, gate.PREVIOUS_SPAN_PROPERTY, gate.DRIFTED_PROPERTY,
        gate.ACCEPTED_PROPERTY, gate.ACCEPT_KEY)
    assert governance_runs.DRIFT_GATE == drift_gate.NODE_ID
