"""The AnomalyGate executor, run for real on anomalies that TFDV finds in small DataFrames."""

import os
import shutil

import mlpipe  # noqa: F401  (process settings before TensorFlow)
import pandas as pd
import pytest
import tensorflow_data_validation as tfdv
from tfx.types import artifact_utils, standard_artifacts

from mlpipe.components.anomaly_gate import DataAnomaliesError
from mlpipe.components.anomaly_gate.component import AnomalyGate
from mlpipe.components.anomaly_gate.spec import ANOMALIES_KEY, SCHEMA_KEY
from mlpipe.components.anomaly_gate.executor import ANOMALIES_FILE, SCHEMA_FILE, Executor

PAYMENT_DOMAIN = ["Cash", "Credit Card", "Dispute", "No Charge", "Pcard", "Prcard", "Unknown"]


def _clean_rows(taxi_row, n=12):
    return [taxi_row(trip_start_hour=i % 24, fare=5.0 + i, tips=float(i % 3),
                     payment_type=PAYMENT_DOMAIN[i % 3]) for i in range(n)]


@pytest.fixture
def schema_artifact(tmp_path, taxi_config):
    folder = tmp_path / "schema"
    folder.mkdir()
    shutil.copyfile(taxi_config.schema_path, folder / SCHEMA_FILE)
    artifact = standard_artifacts.Schema()
    artifact.uri = str(folder)
    return artifact


@pytest.fixture
def anomalies_artifact(tmp_path, taxi_config):
    """anomalies_artifact({split: rows}) -> an ExampleAnomalies artifact as ExampleValidator
    writes it: TFDV statistics of each split validated against the curated schema."""
    schema = tfdv.load_schema_text(taxi_config.schema_path)

    def make(rows_by_split):
        folder = tmp_path / "anomalies"
        for split, rows in rows_by_split.items():
            statistics = tfdv.generate_statistics_from_dataframe(pd.DataFrame(rows))
            anomalies = tfdv.validate_statistics(statistics, schema)
            split_dir = folder / f"Split-{split}"
            split_dir.mkdir(parents=True)
            (split_dir / ANOMALIES_FILE).write_bytes(anomalies.SerializeToString())
        artifact = standard_artifacts.ExampleAnomalies()
        artifact.uri = str(folder)
        artifact.split_names = artifact_utils.encode_split_names(list(rows_by_split))
        return artifact
    return make


def _do(anomalies, schema):
    Executor().Do({ANOMALIES_KEY: [anomalies], SCHEMA_KEY: [schema]}, {}, {})


def _gate_error(anomalies, schema) -> str:
    with pytest.raises(DataAnomaliesError) as caught:
        _do(anomalies, schema)
    return str(caught.value)


def test_clean_data_passes(taxi_row, anomalies_artifact, schema_artifact):
    anomalies = anomalies_artifact({"train": _clean_rows(taxi_row),
                                    "eval": _clean_rows(taxi_row, 5)})
    assert os.path.isfile(os.path.join(anomalies.uri, "Split-train", ANOMALIES_FILE))
    assert _do(anomalies, schema_artifact) is None


def _line_of(message, column):
    [line] = [line for line in message.splitlines() if f"column '{column}'" in line]
    return line


def test_new_payment_type_and_hour_out_of_range_stop_the_gate(taxi_row, anomalies_artifact,
                                                              schema_artifact):
    rows = _clean_rows(taxi_row)
    rows[3]["payment_type"] = "Bitcoin"
    rows[5]["trip_start_hour"] = 25
    message = _gate_error(anomalies_artifact({"train": rows}), schema_artifact)
    assert message.startswith("the data has 2 anomalies against the curated schema")
    assert len(message.splitlines()) == 3
    payment = _line_of(message, "payment_type")
    hour = _line_of(message, "trip_start_hour")
    # What was expected (the closed domain / the range), what was found, and in which split.
    assert f"expected one of {PAYMENT_DOMAIN}" in payment
    assert "Bitcoin" in payment
    assert "train" in payment
    assert "expected INT in [0, 23]" in hour
    assert "25" in hour
    assert "train" in hour


def test_each_split_is_checked_and_named(taxi_row, anomalies_artifact, schema_artifact):
    bad = _clean_rows(taxi_row, 6)
    bad[0]["trip_start_hour"] = -1
    message = _gate_error(anomalies_artifact({"train": _clean_rows(taxi_row), "eval": bad}),
                          schema_artifact)
    assert message.startswith("the data has 1 anomaly ")
    line = _line_of(message, "trip_start_hour")
    assert "expected INT in [0, 23]" in line and "-1" in line
    assert "eval" in line and "train" not in line


def test_anomaly_in_both_splits_names_both(taxi_row, anomalies_artifact, schema_artifact):
    def without_miles(rows):
        for row in rows:
            del row["trip_miles"]
        return rows
    message = _gate_error(anomalies_artifact({"train": without_miles(_clean_rows(taxi_row)),
                                              "eval": without_miles(_clean_rows(taxi_row, 5))}),
                          schema_artifact)
    lines = [line for line in message.splitlines() if "column 'trip_miles'" in line]
    assert lines
    assert all("expected FLOAT in [0, 2000]" in line for line in lines)
    assert any("train" in line for line in lines) and any("eval" in line for line in lines)


def test_float_out_of_range_names_the_float_range(taxi_row, anomalies_artifact, schema_artifact):
    rows = _clean_rows(taxi_row)
    rows[2]["pickup_latitude"] = 45.0
    message = _gate_error(anomalies_artifact({"train": rows}), schema_artifact)
    assert "column 'pickup_latitude': expected FLOAT in [41.5, 42.2]" in message
    assert "45" in _line_of(message, "pickup_latitude")


def test_column_not_in_the_schema(taxi_row, anomalies_artifact, schema_artifact):
    rows = [dict(row, surcharge=1.5) for row in _clean_rows(taxi_row)]
    message = _gate_error(anomalies_artifact({"train": rows}), schema_artifact)
    assert "column 'surcharge': expected no such column (not in the schema)" in message


def test_missing_required_column(taxi_row, anomalies_artifact, schema_artifact):
    rows = _clean_rows(taxi_row)
    for row in rows:
        del row["trip_miles"]
    message = _gate_error(anomalies_artifact({"train": rows}), schema_artifact)
    assert "column 'trip_miles': expected FLOAT in [0, 2000]" in message
    assert "missing" in _line_of(message, "trip_miles")


def test_component_wires_anomalies_and_schema():
    from tfx.types import channel_utils
    gate = AnomalyGate(
        anomalies=channel_utils.as_channel([standard_artifacts.ExampleAnomalies()]),
        schema=channel_utils.as_channel([standard_artifacts.Schema()]))
    assert set(gate.inputs) == {ANOMALIES_KEY, SCHEMA_KEY}
    assert gate.executor_spec.executor_class is Executor
    assert not gate.outputs
