"""Taxi rows written as parquet and as TFRecord files of tf.Example, typed the way the curated
taxi schema declares each column (INT -> int64, FLOAT -> double / float_list, else text)."""

import csv
import gzip as gzip_module
import pathlib
import struct
from typing import Dict, Iterable, List, Optional

from tests.support.taxi import TAXI_HEADER

# The taxi schema's numeric columns (mlpipe/schema/taxi/schema.pbtxt); every other is text.
TAXI_KINDS = {
    "pickup_community_area": "INT", "fare": "FLOAT", "trip_start_month": "INT",
    "trip_start_hour": "INT", "trip_start_day": "INT", "trip_start_timestamp": "INT",
    "pickup_latitude": "FLOAT", "pickup_longitude": "FLOAT", "dropoff_latitude": "FLOAT",
    "dropoff_longitude": "FLOAT", "trip_miles": "FLOAT", "pickup_census_tract": "INT",
    "dropoff_census_tract": "INT", "trip_seconds": "INT", "dropoff_community_area": "INT",
    "tips": "FLOAT",
}


def typed(value, kind: str):
    """A cell (text, number or None) as the kind's Python value; '' and None -> None."""
    if value is None or value == "":
        return None
    if kind == "INT":
        return int(float(value))
    if kind == "FLOAT":
        return float(value)
    return value if isinstance(value, bytes) else str(value)


def kinds_for(header: Iterable[str], kinds: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    kinds = {**TAXI_KINDS, **(kinds or {})}
    return {column: kinds.get(column, "BYTES") for column in header}


def write_parquet(path, rows: List[dict], header=TAXI_HEADER,
                  kinds: Optional[Dict[str, str]] = None, arrow_types: Optional[dict] = None,
                  row_group_size: Optional[int] = None) -> pathlib.Path:
    """Dict rows as a parquet file; a column's type from `arrow_types` (column -> pyarrow type),
    else from its kind (taxi schema, or `kinds`): int64, float64 or string; None/'' -> null."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    column_kinds = kinds_for(header, kinds)
    default = {"INT": pa.int64(), "FLOAT": pa.float64(), "BYTES": pa.string()}
    arrays, fields = [], []
    for column in header:
        arrow_type = (arrow_types or {}).get(column) or default[column_kinds[column]]
        values = [row.get(column) for row in rows]
        if not (arrow_types or {}).get(column):
            values = [typed(value, column_kinds[column]) for value in values]
        arrays.append(pa.array(values, type=arrow_type))
        fields.append(pa.field(column, arrow_type))
    path = pathlib.Path(path)
    pq.write_table(pa.Table.from_arrays(arrays, schema=pa.schema(fields)), str(path),
                   row_group_size=row_group_size)
    return path


def example_bytes(row: dict, header=TAXI_HEADER, kinds: Optional[Dict[str, str]] = None,
                  blank: str = "empty") -> bytes:
    """A dict row as a serialized tf.Example, each feature of its kind; a missing value is an
    empty list of the kind (blank='empty', as CsvExampleGen writes it) or absent
    (blank='absent'). A value that is a list is written as it is (several values)."""
    import tensorflow as tf
    features = {}
    for column, kind in kinds_for(header, kinds).items():
        value = row.get(column)
        if isinstance(value, list):
            values = value
        else:
            value = typed(value, kind)
            if value is None and blank == "absent":
                continue
            values = [] if value is None else [value]
        if kind == "INT":
            features[column] = tf.train.Feature(int64_list=tf.train.Int64List(value=values))
        elif kind == "FLOAT":
            features[column] = tf.train.Feature(float_list=tf.train.FloatList(value=values))
        else:
            features[column] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[
                v if isinstance(v, bytes) else str(v).encode("utf-8") for v in values]))
    return tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString()


def write_tfrecord(path, rows: List[dict], header=TAXI_HEADER,
                   kinds: Optional[Dict[str, str]] = None, blank: str = "empty",
                   records: Optional[List[bytes]] = None, gzip: Optional[bool] = None
                   ) -> pathlib.Path:
    """Dict rows (or serialized `records`) as a TFRecord file, gzipped when `gzip` (default: when
    the name ends in .gz)."""
    import tensorflow as tf
    path = pathlib.Path(path)
    gzip = str(path).endswith(".gz") if gzip is None else gzip
    payloads = records if records is not None else [
        example_bytes(row, header, kinds, blank) for row in rows]
    options = tf.io.TFRecordOptions(compression_type="GZIP" if gzip else "")
    with tf.io.TFRecordWriter(str(path), options) as writer:
        for payload in payloads:
            writer.write(payload)
    return path


def taxi_rows(count: int) -> List[dict]:
    """The first `count` trips of the taxi CSV shipped with tfx, as dicts of text cells."""
    from mlpipe.config import load_config
    with open(load_config().data.path, newline="") as source:
        reader = csv.DictReader(source)
        return [row for _, row in zip(range(count), reader)]


def tfrecord_frame(payload: bytes) -> bytes:
    """One TFRecord frame (CRCs zero: readers that check them would refuse it)."""
    return struct.pack("<Q", len(payload)) + b"\0" * 4 + payload + b"\0" * 4


def gzip_bytes(data: bytes) -> bytes:
    return gzip_module.compress(data)
