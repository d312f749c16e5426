"""monitoring.drift.monitor on small CSV files: which schema anomalies a request log raises."""

import csv

import pytest

import mlpipe  # noqa: F401  (process settings before TensorFlow)
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2

from mlpipe.config.monitoring import MonitoringConfig
from mlpipe.monitoring.drift import monitor, unread_columns_optional
from mlpipe.monitoring.training_stats import TrainingStatistics

# "read" is a model feature, "unread" a column init left out, "y" the label's source.
SCHEMA = """
default_environment: "TRAINING"
default_environment: "SERVING"
feature { name: "read" type: FLOAT presence { min_count: 1 min_fraction: 1.0 } }
feature { name: "unread" type: FLOAT presence { min_count: 1 } }
feature { name: "y" type: INT presence { min_count: 1 } not_in_environment: "SERVING" }
"""
ROWS = 200


def _write(path, columns, rows=ROWS):
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for i in range(rows):
            writer.writerow([{"read": i % 7, "unread": i % 3, "y": i % 2,
                              "model_version": 1}[name] for name in columns])
    return str(path)


@pytest.fixture(scope="module")
def training(tmp_path_factory):
    import tensorflow_data_validation as tfdv
    folder = tmp_path_factory.mktemp("drift")
    statistics = tfdv.generate_statistics_from_csv(
        _write(folder / "train.csv", ["read", "unread", "y"]))
    path = folder / "FeatureStats.pb"
    path.write_bytes(statistics.SerializeToString())
    return folder, TrainingStatistics(path=path, artifact_id=1, found_by="test", version="1")


def _anomalies(training, columns, name):
    folder, statistics = training
    schema = text_format.Parse(SCHEMA, schema_pb2.Schema())
    report = monitor(_write(folder / name, columns), schema, statistics, MonitoringConfig(),
                     model_features=["read"], label_columns=["y"])
    assert report.environment == "SERVING"
    return [anomaly.feature for anomaly in report.anomalies]


def test_a_request_log_without_the_columns_the_model_does_not_read_is_no_anomaly(training):
    assert _anomalies(training, ["read", "model_version"], "log.csv") == []


def test_a_request_log_without_a_model_feature_still_is(training):
    assert _anomalies(training, ["unread", "model_version"], "no-feature.csv") == ["read"]


def test_only_the_unread_columns_lose_their_presence_rule():
    schema = text_format.Parse(SCHEMA, schema_pb2.Schema())
    relaxed = {feature.name: feature for feature in
               unread_columns_optional(schema, ["read"]).feature}
    assert relaxed["unread"].presence.min_count == 0
    assert relaxed["read"].presence.min_count == 1 and relaxed["read"].presence.min_fraction == 1
    # The schema itself is not changed.
    assert schema.feature[1].presence.min_count == 1
