"""Schema as code: propose a schema from data with TFDV and show how it differs from the
curated one.

The curated `schema.pbtxt` in this folder is reviewed by people and is what the pipeline imports;
a proposal is only ever written beside it for review, never over it. `mlpipe init` writes a new
problem's first curated schema with the same `propose_schema`.

TFDV reads a CSV's blank cell as a missing feature, so on CSV statistics it infers
`value_count { min: 1 }` for a column with blanks. The pipeline never sees a missing feature:
CsvExampleGen writes a blank cell as the feature with an empty value list, and the gate would
reject every such column ("Some examples have fewer values than expected").
`fit_to_csv_encoding` states what the pipeline will see, so a proposal passes the gate on the
data it was inferred from.

Parquet and TFRecord data (`data.format`) give statistics of the tf.Examples the pipeline's
ExampleGen makes of them: TFRecord files as they are (TFDV reads them, gzipped or not); parquet
rows converted by the same rule as the pipeline's parquet executor
(`mlpipe.core.data_files.table_examples`: a null is an empty value list), written to a scratch
TFRecord file. A missing value there is an empty list or an absent feature, so the same fitting
applies: a column with a missing value anywhere gets no `min` and no `presence.min_fraction`.
"""

import difflib
import os
import tempfile
from typing import Dict, Iterable, List, Optional

import pyarrow.parquet as pq
import tensorflow as tf
import tensorflow_data_validation as tfdv
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2, statistics_pb2

from mlpipe.core import data_files
from mlpipe.core.csv_blanks import blank_tokens
from mlpipe.core.schema_io import add_environments


def propose_schema(data_path: str, label_source_columns: Iterable[str],
                   missing_values: Iterable[str] = (),
                   optional: Iterable[str] = (),
                   data_format: Optional[str] = None) -> schema_pb2.Schema:
    """Infers a schema with TFDV from the data (a file, a folder or a glob) as the pipeline reads
    it (CSV cells equal to a `missing_values` token read as blank), with a SERVING environment
    that lacks the label's source columns. `optional` columns may be blank in any row even where
    this data has a value in every one (columns the model does not read: a request need not
    carry them). `data_format`: csv, parquet or tfrecord (default: from the files' names)."""
    statistics = data_statistics(data_path, missing_values, data_format)
    schema = tfdv.infer_schema(statistics, infer_feature_shape=False)
    fit_to_csv_encoding(schema, statistics, optional)
    add_environments(schema, label_source_columns)
    return schema


def data_statistics(data_path: str, missing_values: Iterable[str] = (),
                    data_format: Optional[str] = None
                    ) -> statistics_pb2.DatasetFeatureStatisticsList:
    """TFDV statistics of the examples the pipeline's ExampleGen makes of the data, in any
    format (`data_format`; default: from the files' names, CSV when they say nothing)."""
    files = data_files.data_files(data_path)
    if data_format is None:
        data_format = data_files.format_of_files(data_path, files) if all(
            data_files.format_of(path) for path in files) else "csv"
    if data_format == "csv":
        return csv_statistics(data_path, missing_values)
    if data_format == "tfrecord":
        for path in files:
            data_files.check_tfrecord_name(path)
        return tfdv.generate_statistics_from_tfrecord(data_location=_pattern(data_path))
    return _parquet_statistics(files)


def _pattern(data_path: str) -> str:
    return os.path.join(data_path, "*") if os.path.isdir(data_path) else data_path


def _parquet_statistics(files: List[str]) -> statistics_pb2.DatasetFeatureStatisticsList:
    """Parquet rows -> tf.Examples by the pipeline's own rule, in a scratch TFRecord file."""
    with tempfile.TemporaryDirectory(prefix="mlpipe-parquet-") as scratch:
        location = os.path.join(scratch, "examples.tfrecord")
        with tf.io.TFRecordWriter(location) as writer:
            for path in files:
                for batch in pq.ParquetFile(path).iter_batches(batch_size=65536):
                    for example in data_files.table_examples(batch):
                        writer.write(example.SerializeToString())
        return tfdv.generate_statistics_from_tfrecord(data_location=location)


def csv_statistics(csv_path: str, missing_values: Iterable[str] = ()
                   ) -> statistics_pb2.DatasetFeatureStatisticsList:
    """TFDV statistics of a CSV file or folder; with `missing_values`, of a copy in which those
    cells are blank (`mlpipe.core.csv_blanks`, the rule the pipeline's CSV ExampleGen follows)."""
    tokens = list(missing_values)
    if not tokens:
        return tfdv.generate_statistics_from_csv(data_location=_pattern(csv_path))
    files = data_files.data_files(csv_path)
    with tempfile.TemporaryDirectory(prefix="mlpipe-blanked-") as scratch:
        for index, path in enumerate(files):
            blank_tokens(path, os.path.join(scratch, f"{index:05d}.csv"), tokens)
        return tfdv.generate_statistics_from_csv(data_location=os.path.join(scratch, "*.csv"))


def fit_to_csv_encoding(schema: schema_pb2.Schema,
                        statistics: statistics_pb2.DatasetFeatureStatisticsList,
                        optional: Iterable[str] = ()) -> None:
    """Makes a schema inferred from CSV statistics say what CsvExampleGen's examples carry: a
    column with blank cells is present in every example with zero or one value, so it gets
    `value_count { max: 1 }` (no `min`) and no `presence.min_fraction`; the serving encoder then
    treats it as optional. Columns without blanks keep TFDV's `min: 1` (required), unless named
    in `optional`. The same holds for statistics of tf.Examples (parquet, TFRecord data), where
    a missing value is an absent feature or an empty value list."""
    common = {_feature_name(stats): _common_stats(stats)
              for stats in statistics.datasets[0].features}
    with_blanks = {name for name, stats in common.items()
                   if stats.num_missing > 0 or stats.min_num_values == 0} | set(optional)
    for feature in schema.feature:
        if feature.name not in with_blanks:
            continue
        if feature.HasField("value_count"):
            feature.value_count.ClearField("min")
        elif feature.name in common and common[feature.name].max_num_values == 1 \
                and not feature.HasField("shape"):
            # Empty value lists (parquet nulls, TFRecord): TFDV infers no value_count at all;
            # say "at most one", as it does for a CSV column with blanks.
            feature.value_count.max = 1
        if feature.HasField("presence"):
            feature.presence.ClearField("min_fraction")


def _feature_name(stats: statistics_pb2.FeatureNameStatistics) -> str:
    return stats.path.step[0] if stats.path.step else stats.name


def _common_stats(stats: statistics_pb2.FeatureNameStatistics):
    kind = stats.WhichOneof("stats")
    if kind in ("num_stats", "string_stats", "bytes_stats"):
        return getattr(stats, kind).common_stats
    if kind == "struct_stats":
        return stats.struct_stats.common_stats
    return statistics_pb2.CommonStatistics()


def schema_diff(curated: schema_pb2.Schema, proposed: schema_pb2.Schema) -> List[str]:
    """A readable, per-feature diff; empty when the two schemas say the same."""
    lines: List[str] = []
    old, new = _features_as_text(curated), _features_as_text(proposed)
    for name in sorted(set(old) | set(new)):
        if name not in new:
            lines.append(f"- feature {name}: in the curated schema, not seen in the data")
        elif name not in old:
            lines.append(f"+ feature {name}: in the data, not in the curated schema")
        elif old[name] != new[name]:
            lines.append(f"~ feature {name}:")
            changed = [line for line in difflib.unified_diff(
                old[name].splitlines(), new[name].splitlines(), "curated", "proposed", lineterm="",
                n=0) if not line.startswith(("---", "+++", "@@"))]
            lines.extend("    " + line for line in _shorten_domain_values(changed))
    return lines


def _shorten_domain_values(changed: List[str], shown: int = 5) -> List[str]:
    """A domain of hundreds of values would bury the diff: show a few per sign, count the rest."""
    kept, hidden = [], {"+": 0, "-": 0}
    seen = {"+": 0, "-": 0}
    for line in changed:
        sign = line[:1]
        if line[1:].lstrip().startswith("value:") and sign in seen:
            seen[sign] += 1
            if seen[sign] > shown:
                hidden[sign] += 1
                continue
        kept.append(line)
    kept += [f"{sign}... and {count} more domain values" for sign, count in hidden.items() if count]
    return kept


def _features_as_text(schema: schema_pb2.Schema) -> Dict[str, str]:
    domains = {domain.name: domain for domain in schema.string_domain}
    texts = {}
    for feature in schema.feature:
        text = text_format.MessageToString(feature)
        if feature.HasField("domain") and feature.domain in domains:
            text += text_format.MessageToString(domains[feature.domain])
        texts[feature.name] = text
    return texts
