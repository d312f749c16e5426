"""The statistics the pipeline's gate judges, computed as the pipeline computes them: the CSV
through the pipeline's CSV ExampleGen's CSV-to-tf.Example transform (declared tokens read as
blank cells, given as the pipeline gives them: in its custom_config), then TFDV statistics of
those examples (StatisticsGen), validated against a schema the way ExampleValidator does (every
feature, no environment) and per environment."""

import csv
import pathlib
import shutil
import tempfile
from typing import List, Optional, Sequence

import mlpipe  # noqa: F401  (process settings before TensorFlow)
import apache_beam as beam
import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import schema_pb2
from tfx.utils import proto_utils

from mlpipe.components.anomaly_gate.executor import describe_anomalies
from mlpipe.components.csv_example_gen import executor as csv_example_gen


def pipeline_statistics(csv_path, missing_values: Sequence[str] = (),
                        drop_columns: Sequence[str] = ()):
    """TFDV statistics of the tf.Examples the pipeline's ExampleGen writes for `csv_path`
    (`missing_values` declared); `drop_columns` are left out of the CSV first (a SERVING-time
    batch without the label)."""
    with tempfile.TemporaryDirectory(prefix="gate-") as scratch:
        scratch = pathlib.Path(scratch)
        source = scratch / "data.csv"
        shutil.copyfile(csv_path, source)
        if drop_columns:
            _drop_columns(source, drop_columns)
        exec_properties = {"input_base": str(scratch)}
        if missing_values:
            exec_properties["custom_config"] = proto_utils.proto_to_json(
                csv_example_gen.custom_config(missing_values))
        with beam.Pipeline(runner="FnApiRunner") as pipeline:
            _ = (pipeline
                 | csv_example_gen._CsvToSerializedExample(exec_properties, "data.csv")
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
