"""A problem's data files in each format `data.format` names, read the way the pipeline reads them.

`data.path` is a file, a folder (every file in it) or a glob (`data/*.parquet`). The formats:

- csv: read as text by its readers (the preflight check, `mlpipe init`); CsvExampleGen infers
  each column's type.
- parquet: typed columns. The pipeline converts each row to a tf.Example with
  `mlpipe.components.parquet_executor`, whose rule is `column_values` below: an integer or
  boolean column is INT, a floating or decimal one FLOAT, a string or binary one BYTES (dates
  and times as ISO text), a list column several values of its item's kind; a null (and a float
  NaN) is an empty value list of the column's kind, as CsvExampleGen writes a blank cell.
- tfrecord: files of serialized tf.Example (gzipped when the name ends in `.gz`), imported as
  they are by ImportExampleGen: each feature carries its own kind (int64_list -> INT,
  float_list -> FLOAT, bytes_list -> BYTES); a missing value is an absent feature or an empty
  list.

Everything here reads local files and imports pyarrow or TensorFlow only when a file of that
format is read, so a command that does not need them stays fast.
"""

import datetime
import decimal
import fnmatch
import gzip
import math
import os
import struct
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

from mlpipe.core.contract import BYTES, FLOAT, INT
from mlpipe.errors import InputDataError

FORMATS = ("csv", "parquet", "tfrecord")
GLOB_CHARACTERS = "*?["
_GZIP_MAGIC = b"\x1f\x8b"

# A value list per row: what a tf.Example feature holds ([] for a missing value).
Values = List[object]


def format_of(path: str) -> Optional[str]:
    """The format a file's name says (.csv; .parquet/.pq; .tfrecord/.tfrecords/.gz), or None."""
    name = os.path.basename(str(path)).lower()
    if name.endswith(".csv"):
        return "csv"
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith((".tfrecord", ".tfrecords", ".tfrecord.gz", ".tfrecords.gz", ".gz")):
        return "tfrecord"
    return None


def is_glob(path: str) -> bool:
    return any(character in str(path) for character in GLOB_CHARACTERS)


def data_files(data_path: str) -> List[str]:
    """The local files `data_path` names, as TFX's ExampleGen finds them: itself; every file of
    a folder (sorted); or the files a glob matches (sorted; `*` does not cross a `/`). Like
    TFX's file pattern, a wildcard matches hidden files too (`.part-0.crc`, `_SUCCESS`).
    InputDataError when there are none."""
    data_path = str(data_path)
    if "://" in data_path:
        raise InputDataError(f"{data_path}: the local preflight check reads local files only")
    if is_glob(data_path):
        files = sorted(path for path in _glob(data_path) if os.path.isfile(path))
        if not files:
            raise InputDataError(f"{data_path}: no file matches this pattern")
        return files
    if not os.path.exists(data_path):
        raise InputDataError(f"{data_path}: data path does not exist")
    if os.path.isdir(data_path):
        files = sorted(path for path in _glob(os.path.join(data_path, "*"))
                       if os.path.isfile(path))
        if not files:
            raise InputDataError(f"{data_path}: data folder holds no files")
        return files
    return [data_path]


def _glob(pattern: str) -> List[str]:
    """The paths matching `pattern`, a wildcard matching within one path part, hidden names
    included (Python's glob leaves them out; TensorFlow's, which TFX uses, does not)."""
    parts = pattern.split("/")
    found = ["/" if pattern.startswith("/") else ""]
    for index, part in enumerate(parts):
        if part == "" and index == 0:
            continue
        last = index == len(parts) - 1
        matched = []
        for prefix in found:
            folder = prefix or "."
            if not is_glob(part):
                candidate = os.path.join(prefix, part) if prefix else part
                if os.path.exists(candidate):
                    matched.append(candidate)
                continue
            try:
                names = sorted(os.listdir(folder))
            except OSError:
                continue
            for name in names:
                candidate = os.path.join(prefix, name) if prefix else name
                if fnmatch.fnmatchcase(name, part) and (last or os.path.isdir(candidate)):
                    matched.append(candidate)
        found = matched
    return found


def format_of_files(data_path: str, files: Sequence[str]) -> str:
    """The one format the files' names say; InputDataError when a name says none or they
    differ."""
    formats = {}
    for path in files:
        found = format_of(path)
        if found is None:
            raise InputDataError(f"{path}: cannot tell the format from the name: use .csv, "
                                 ".parquet, .tfrecord or .tfrecord.gz")
        formats.setdefault(found, path)
    if len(formats) > 1:
        shown = ", ".join(f"{name} ({path})" for name, path in formats.items())
        raise InputDataError(f"{data_path}: files of more than one format: {shown}")
    return next(iter(formats))


# ---- parquet ---------------------------------------------------------------------------------

def arrow_kind(arrow_type) -> Optional[str]:
    """INT, FLOAT or BYTES for a column of `arrow_type` (a list type: its item's kind); None for
    a column of nulls only; 'unsupported' for a type a tf.Example cannot hold (struct, map)."""
    import pyarrow as pa
    types = pa.types
    if types.is_dictionary(arrow_type):
        return arrow_kind(arrow_type.value_type)
    if types.is_list(arrow_type) or types.is_large_list(arrow_type) or \
            types.is_fixed_size_list(arrow_type):
        return arrow_kind(arrow_type.value_type)
    if types.is_null(arrow_type):
        return None
    if types.is_integer(arrow_type) or types.is_boolean(arrow_type):
        return INT
    if types.is_floating(arrow_type) or types.is_decimal(arrow_type):
        return FLOAT
    if (types.is_string(arrow_type) or types.is_large_string(arrow_type)
            or types.is_binary(arrow_type) or types.is_large_binary(arrow_type)
            or types.is_fixed_size_binary(arrow_type) or types.is_temporal(arrow_type)):
        return BYTES
    return "unsupported"


def column_values(column, kind: Optional[str]) -> List[Values]:
    """A parquet (arrow) column -> one value list per row, in the kind `arrow_kind` gives it:
    ints (booleans as 0/1), floats, or str/bytes (dates and times as ISO text); a null or a
    float NaN is []."""
    rows = column.to_pylist()
    return [_row_values(value, kind) for value in rows]


def _row_values(value, kind: Optional[str]) -> Values:
    if value is None:
        return []
    items = value if isinstance(value, (list, tuple)) else [value]
    converted = []
    for item in items:
        if item is None:
            continue
        if kind == INT:
            converted.append(int(item))
        elif kind == FLOAT:
            number = float(item)
            if not math.isnan(number):
                converted.append(number)
        elif isinstance(item, (datetime.date, datetime.time)):
            converted.append(item.isoformat())
        elif isinstance(item, decimal.Decimal):
            converted.append(str(item))
        else:
            converted.append(item)
    return converted


def table_examples(table) -> Iterator[object]:
    """One tf.train.Example per row of a pyarrow Table or RecordBatch, by the rule above: the
    examples the pipeline's parquet executor writes."""
    import tensorflow as tf
    columns = []
    for name, field in zip(table.schema.names, table.schema):
        kind = arrow_kind(field.type)
        if kind == "unsupported":
            raise ValueError(f"parquet column '{name}' has type {field.type}, which a "
                             "tf.Example cannot hold")
        columns.append((name, kind, column_values(table.column(name), kind)))
    for row in range(table.num_rows):
        yield tf.train.Example(features=tf.train.Features(feature={
            name: to_feature(kind, values[row]) for name, kind, values in columns}))


def to_feature(kind: Optional[str], values: Values):
    """A value list of one kind -> a tf.train.Feature (an empty list keeps the kind, as
    CsvExampleGen writes a blank cell; no kind: a feature with no list)."""
    import tensorflow as tf
    if kind == INT:
        return tf.train.Feature(int64_list=tf.train.Int64List(value=values))
    if kind == FLOAT:
        return tf.train.Feature(float_list=tf.train.FloatList(value=values))
    if kind == BYTES:
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[
            value.encode("utf-8") if isinstance(value, str) else value for value in values]))
    return tf.train.Feature()


def parquet_schema(path: str) -> Dict[str, object]:
    """Column -> arrow type of a parquet file (InputDataError when it is not one)."""
    import pyarrow.parquet as pq
    try:
        schema = pq.read_schema(path)
    except Exception as error:  # noqa: BLE001 - pyarrow raises several kinds for a bad file
        raise InputDataError(f"{path}: not readable as a parquet file ({error})") from None
    return {field.name: field.type for field in schema}


def parquet_rows(path: str, columns: Optional[Sequence[str]] = None, batch_rows: int = 65536
                 ) -> Iterator[Tuple[int, Dict[str, Values]]]:
    """(row number from 1, column -> value list) for each row of a parquet file, in batches
    (memory stays flat on a large file); only `columns` when given."""
    import pyarrow.parquet as pq
    try:
        source = pq.ParquetFile(path)
        kinds = {field.name: arrow_kind(field.type) for field in source.schema_arrow}
        number = 0
        for batch in source.iter_batches(batch_size=batch_rows, columns=columns):
            names = batch.schema.names
            values = [column_values(batch.column(index), kinds[name])
                      for index, name in enumerate(names)]
            for row in range(batch.num_rows):
                number += 1
                yield number, {name: values[index][row] for index, name in enumerate(names)}
    except InputDataError:
        raise
    except Exception as error:  # noqa: BLE001 - pyarrow raises several kinds for a bad file
        raise InputDataError(f"{path}: not readable as a parquet file ({error})") from None


# ---- tfrecord --------------------------------------------------------------------------------

def is_gzip(path: str) -> bool:
    with open(path, "rb") as source:
        return source.read(2) == _GZIP_MAGIC


def check_tfrecord_name(path: str) -> None:
    """ImportExampleGen (Beam's TFRecord reader) decompresses a file by its name: gzip exactly
    when the name ends in `.gz`."""
    gzipped, named = is_gzip(path), str(path).endswith(".gz")
    if gzipped and not named:
        raise InputDataError(f"{path}: a gzip-compressed file whose name does not end in .gz: "
                             "TFX would read it uncompressed; rename it to end in .gz")
    if named and not gzipped:
        raise InputDataError(f"{path}: named .gz but not gzip-compressed: TFX would try to "
                             "decompress it; remove the .gz from its name")


def tfrecord_records(path: str) -> Iterator[Tuple[int, bytes]]:
    """(record number from 1, serialized record) for each record of a TFRecord file, gzipped or
    not (told by its first bytes). The length framing is checked, not the CRCs."""
    opener = gzip.open if is_gzip(path) else open
    number = 0
    try:
        with opener(path, "rb") as source:
            while True:
                header = source.read(12)
                if not header:
                    return
                number += 1
                if len(header) < 12:
                    raise InputDataError(f"{path}, record {number}: cut short (the file ends "
                                         "inside a record header); not a TFRecord file?")
                (length,) = struct.unpack("<Q", header[:8])
                data = source.read(length)
                if len(data) < length or len(source.read(4)) < 4:
                    raise InputDataError(f"{path}, record {number}: cut short (a record of "
                                         f"{length} bytes, the file ends first); not a "
                                         "TFRecord file, or a truncated one?")
                yield number, data
    except (OSError, EOFError) as error:  # a damaged gzip stream
        raise InputDataError(f"{path}, record {number + 1}: not readable ({error})") from None


def tfrecord_examples(path: str) -> Iterator[Tuple[int, Dict[str, Tuple[Optional[str], Values]]]]:
    """(record number, feature -> (kind, values)) for each tf.Example of a TFRecord file; kind
    None for a feature with no value list set."""
    example_class = _example_class()
    for number, data in tfrecord_records(path):
        try:
            example = example_class.FromString(data)
        except Exception:  # noqa: BLE001 - protobuf's DecodeError
            raise InputDataError(f"{path}, record {number}: not a tf.Example") from None
        features = {}
        for name, feature in example.features.feature.items():
            which = feature.WhichOneof("kind")
            if which == "int64_list":
                features[name] = (INT, list(feature.int64_list.value))
            elif which == "float_list":
                features[name] = (FLOAT, list(feature.float_list.value))
            elif which == "bytes_list":
                features[name] = (BYTES, list(feature.bytes_list.value))
            else:
                features[name] = (None, [])
        yield number, features


def _example_class():
    # TensorFlow's import takes seconds: only when a TFRecord file is read.
    from tensorflow.core.example import example_pb2
    return example_pb2.Example


# ---- values as text --------------------------------------------------------------------------

def value_text(value, kind: Optional[str], single: bool = False) -> str:
    """One value as a CSV cell would spell it: an int as digits, a float in its shortest form
    (as a float32 when `single`: a tf.Example's floats are float32), text as it is (bytes
    decoded as UTF-8; UnicodeDecodeError when they are not)."""
    if kind == INT or isinstance(value, bool):
        return str(int(value))
    if kind == FLOAT:
        return float_text(value, single)
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return str(value)


def float_text(value: float, single: bool = False) -> str:
    """The shortest text that reads back as `value` (as a float32 when `single`): 1.0, 41.89."""
    value = float(value)
    if single and math.isfinite(value):
        import numpy as np
        return np.format_float_positional(np.float32(value), unique=True, trim="0") \
            if 1e-4 <= abs(value) < 1e16 or value == 0 else \
            np.format_float_scientific(np.float32(value), unique=True, trim="0")
    return repr(value)
