"""The statistics the pipeline's gate judges, computed as the pipeline computes them: the CSV
(the staged copy, declared tokens blanked) through CsvExampleGen's own CSV-to-tf.Example
transform, then TFDV statistics of those examples (StatisticsGen), validated against a schema
the way ExampleValidator does (every feature, no environment) and per environment."""

import csv
import pathlib
import tempfile
from typing import List, Optional, Sequence

import mlpipe  # noqa: F401  (process settings before TensorFlow)
import apache_beam as beam
import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import schema_pb2
from tfx.components.example_gen.csv_example_gen import executor as csv_example_gen

from mlpipe.components.anomaly_gate.executor import describe_anomalies
from mlpipe.core.csv_blanks import blank_tokens


def pipeline_statistics(csv_path, missing_values: Sequence[str] = (),
                        drop_columns: Sequence[str] = ()):
    """TFDV statistics of the tf.Examples CsvExampleGen writes for `csv_path`; `drop_columns`
    are left out of the CSV first (a SERVING-time batch without the label)."""
    with tempfile.TemporaryDirectory(prefix="gate-") as scratch:
        scratch = pathlib.Path(scratch)
        source = scratch / "data.csv"
        blank_tokens(csv_path, source, missing_values)
        if drop_columns:
            _drop_columns(source, drop_columns)
        with beam.Pipeline(runner="FnApiRunner") as pipeline:
            _ = (pipeline
                 | csv_example_gen._CsvToExample({"input_base": str(scratch)}, "data.csv")
                 | beam.Map(lambda example: example.SerializeToString())
                 | beam.io.WriteToTFRecord(str(scratch / "examples"),
                                           file_name_suffix=".tfrecord"))
        return tfdv.generate_statistics_from_tfrecord(str(scratch / "examples*"))


def gate_anomalies(schema: schema_pb2.Schema, statistics,
                   environment: Optional[str] = None) -> List[str]:
    """The AnomalyGate's lines for these statistics (empty: the gate lets the run through)."""
    anomalies = tfdv.validate_statistics(statistics, schema, environment=environment)
    return describe_anomalies(anomalies, schema)


def _drop_columns(path: pathlib.Path, columns: Sequence[str]) -> None:
    with path.open(newline="", encoding="utf-8") as source:
        rows = list(csv.reader(source))
    keep = [i for i, name in enumerate(rows[0]) if name not in set(columns)]
    with path.open("w", newline="", encoding="utf-8") as target:
        writer = csv.writer(target, lineterminator="\n")
        writer.writerows([[row[i] for i in keep] for row in rows if row])
