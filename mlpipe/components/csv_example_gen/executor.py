"""The fast CSV ExampleGen executor: what TFX's CsvExampleGen writes, a batch at a time.

See the package docstring for why it exists and what it measured. The Beam pipeline (`Do`):

1. `Chunks`: each CSV file of a split (globbed, headers checked, as TFX does) is cut into byte
   ranges of about `CHUNK_BYTES`, each ending where TFX's own reader ends a record: at a newline
   after an even number of quotes since the header line.
2. `InferKinds`: each chunk is read by `pyarrow.csv` (every column as text; a blank cell, or
   one that is exactly a declared missing-value token, is a null), a RecordBatch at a time, and
   its columns' kinds inferred by tfx_bsl's rules (`_infer_kind`); the kinds of all chunks of a
   split are combined (`_MergeKinds`) into a side input, so the types are those of all rows of
   all files, and memory stays flat.
3. `WriteShards`: each chunk is read again; each RecordBatch is typed by the global kinds and
   serialized straight from its Arrow columns (`_serialize`) into the bytes of
   `Example.SerializeToString(deterministic=True)` of the Example TFX builds for the row; the
   sha256 of those bytes picks the split exactly as `base_example_gen_executor._PartitionFn`
   does; and the records are framed as TFRecords (`_tfrecord_frames`) and gzipped (in a thread
   of their own) into one file per chunk and split (`<split uri>/data_tfrecord-<file>-<chunk>.gz`),
   written under a temporary name, then renamed: a retried bundle leaves no half file.

Missing-value tokens (the config's `data.missing_values`: `NA`, `NaN`, ...) come in the
ExampleGen's `custom_config` (`custom_config(tokens)`: a CustomConfig holding a Struct
{"missing_values": [...]}); a cell equal to one of them is read as a blank cell, in every column
(a quoted `"NA"` too, as Python's csv reader reads it), so the examples are those of the same file
with those cells blank. Every runner reads them so: the compiled cloud step needs nothing else.

Chunks, not single RecordBatches, are the unit of files: a file per batch of ~60k rows would
make thousands of small files on large data. An empty split gets one empty file, as TFX's.
"""

import bisect
import collections
import concurrent.futures
import dataclasses
import hashlib
import io
import os
import uuid
import zlib
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import apache_beam as beam
import google_crc32c
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from absl import logging
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from google.protobuf import struct_pb2
from tfx import types
from tfx.components.example_gen import utils
from tfx.components.example_gen import write_split
from tfx.components.example_gen.base_example_gen_executor import BaseExampleGenExecutor
from tfx.components.example_gen.csv_example_gen import executor as tfx_csv_executor
from tfx.components.util import examples_utils
from tfx.dsl.io import fileio
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils
from tfx.types import standard_component_specs
from tfx.utils import io_utils
from tfx.utils import proto_utils
from tfx_bsl.coders import csv_decoder

Kind = csv_decoder.ColumnType  # UNKNOWN < INT < FLOAT < STRING, tfx_bsl's type hierarchy

CHUNK_BYTES = 64 << 20     # a Beam element: a byte range of a CSV file, read twice
BLOCK_BYTES = 8 << 20      # a RecordBatch: what pyarrow parses at once (~60k taxi rows)
SCAN_BYTES = 16 << 20      # read size when looking for chunk ends
# gzip level of the TFRecord files. TF's default (6) takes ~2x the compression time of level 1
# for files ~17% smaller (taxi x16: 8.4 vs 10.1 MB); every reader reads either.
COMPRESSION_LEVEL = 1
FILE_PREFIX = write_split.DEFAULT_TF_RECORD_FILE_NAME  # data_tfrecord, as TFX's WriteSplit
TEMP_DIR = ".csv_example_gen-tmp"  # under the examples artifact; removed when done

_KIND_TAG = {Kind.INT: 0x1A, Kind.FLOAT: 0x12, Kind.STRING: 0x0A}  # Feature's oneof field tags
MISSING_VALUES_KEY = "missing_values"  # in the Struct of the ExampleGen's custom_config


# ---- the custom config: missing-value tokens -------------------------------------------------

def custom_config(missing_values: Sequence[str]) -> example_gen_pb2.CustomConfig:
    """The ExampleGen's `custom_config` declaring `missing_values` (cell texts read as blank)."""
    struct = struct_pb2.Struct()
    struct.update({MISSING_VALUES_KEY: list(missing_values)})
    config = example_gen_pb2.CustomConfig()
    config.custom_config.Pack(struct)
    return config


def missing_values_of(exec_properties: Dict[str, Any]) -> Tuple[str, ...]:
    """The tokens `custom_config` declared in an ExampleGen's exec_properties (none: ())."""
    text = exec_properties.get(standard_component_specs.CUSTOM_CONFIG_KEY)
    if not text:
        return ()
    config = example_gen_pb2.CustomConfig()
    proto_utils.json_to_proto(text, config)
    if not config.HasField("custom_config"):
        return ()
    struct = struct_pb2.Struct()
    if not config.custom_config.Unpack(struct):
        raise ValueError(f"custom_config: expected a google.protobuf.Struct, got "
                         f"{config.custom_config.type_url}")
    tokens = struct.fields.get(MISSING_VALUES_KEY)
    if tokens is None:
        return ()
    if not tokens.HasField("list_value") or any(
            value.WhichOneof("kind") != "string_value" for value in tokens.list_value.values):
        raise ValueError(f"custom_config {MISSING_VALUES_KEY}: expected a list of strings")
    return tuple(value.string_value for value in tokens.list_value.values)


# ---- the plan: which files go to which splits ------------------------------------------------

@dataclasses.dataclass(frozen=True)
class _Group:
    """The CSV files of one input split and the output splits their rows go to: all of
    `split_names` by hash (buckets: TFX's cumulative hash_buckets), or the one of them."""
    pattern: str
    files: Tuple[str, ...]
    column_names: Tuple[str, ...]
    split_names: Tuple[str, ...]
    buckets: Tuple[int, ...] = ()
    partition_feature: Optional[str] = None  # split by this feature's value, not the row's
    missing_values: Tuple[str, ...] = ()  # cell texts read as blank


def _csv_files(input_base: str, split_pattern: str) -> Tuple[str, List[str], List[str]]:
    """(pattern, files, column names) of an input split, with TFX's checks and messages."""
    pattern = os.path.join(input_base, split_pattern)
    files = sorted(fileio.glob(pattern))
    if not files:
        raise RuntimeError(f"Split pattern {pattern} does not match any files.")
    column_names = io_utils.load_csv_column_names(files[0])
    different = [path for path in files[1:]
                 if io_utils.load_csv_column_names(path) != column_names]
    if different:
        raise RuntimeError(
            f"Files in same split {pattern} have different header: {', '.join(different)} "
            f"differ from {files[0]} ({','.join(column_names)}).")
    return pattern, files, column_names


def _plan(exec_properties: Dict[str, Any]) -> List[_Group]:
    """The groups of files of an ExampleGen's exec_properties (see GenerateExamplesByBeam):
    with output splits, the one input split hashed into them; else one group per input split."""
    input_config = example_gen_pb2.Input()
    proto_utils.json_to_proto(exec_properties[standard_component_specs.INPUT_CONFIG_KEY],
                              input_config)
    output_config = example_gen_pb2.Output()
    proto_utils.json_to_proto(exec_properties[standard_component_specs.OUTPUT_CONFIG_KEY],
                              output_config)
    split_names = utils.generate_output_split_names(input_config, output_config)
    input_base = exec_properties[standard_component_specs.INPUT_BASE_KEY]
    tokens = missing_values_of(exec_properties)
    if output_config.split_config.splits:
        if len(input_config.splits) != 1:
            raise ValueError("input must have only one split when output split is specified.")
        pattern, files, names = _csv_files(input_base, input_config.splits[0].pattern)
        buckets = tuple(np.cumsum([split.hash_buckets
                                   for split in output_config.split_config.splits]).tolist())
        return [_Group(pattern, tuple(files), tuple(names), tuple(split_names), buckets,
                       output_config.split_config.partition_feature_name
                       if output_config.split_config.HasField("partition_feature_name")
                       else None, tokens)]
    groups = []
    for split, name in zip(input_config.splits, split_names):
        pattern, files, names = _csv_files(input_base, split.pattern)
        groups.append(_Group(pattern, tuple(files), tuple(names), (name,),
                             missing_values=tokens))
    return groups


# ---- reading ---------------------------------------------------------------------------------

def _open(path: str):
    return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)


def _file_chunks(path: str, chunk_bytes: Optional[int] = None) -> List[Tuple[int, int]]:
    """Byte ranges [start, end) covering the records of `path` after its header line, each of
    about `chunk_bytes` (CHUNK_BYTES) and ending at a record end by TFX's rule (_CsvLineBuffer):
    a newline after an even number of quotes since the header line (not one inside quotes)."""
    chunk_bytes = chunk_bytes or CHUNK_BYTES
    size = FileSystems.match([path])[0].metadata_list[0].size_in_bytes
    with _open(path) as reader:
        start = len(reader.readline())
        if size - start <= chunk_bytes:
            return [(start, size)]
        ranges, odd, position = [], 0, start  # odd: quotes since `start`, mod 2
        cut = start + chunk_bytes  # the first record end at or after `cut` ends a chunk
        while True:
            block = reader.read(SCAN_BYTES)
            if not block:
                break
            index = 0  # quotes of block[:index] are counted in `odd`
            while True:
                target = max(cut - position, index)
                if target >= len(block):
                    break
                odd ^= block.count(b'"', index, target) & 1
                newline = block.find(b"\n", target)
                if newline < 0:
                    index = target
                    break
                odd ^= block.count(b'"', target, newline) & 1
                index = newline + 1
                if not odd:
                    ranges.append((start, position + index))
                    start = position + index
                    cut = start + chunk_bytes
            odd ^= block.count(b'"', index) & 1
            position += len(block)
    if start < position or not ranges:
        ranges.append((start, position))
    return ranges


def _read_batches(path: str, start: int, end: int, column_count: int,
                  missing_values: Sequence[str] = ()) -> Iterator[pa.RecordBatch]:
    """The records of `path`[start:end) as TFX's CsvExampleGen reads them, as RecordBatches of
    text columns named by position, a blank cell ('' or "") as null, blank lines skipped; a cell
    equal to one of `missing_values` (quoted or not) is a null too.

    pyarrow.csv reads them (quotes as Python's csv reader reads them). TFX first cuts the text
    into records at the newlines after an even number of quotes: where quotes are not only
    around fields (or a lone carriage return ends a line), that can differ: when pyarrow's rows
    are not as many as TFX's records, TFX's own reader reads the chunk (slowly). An odd number
    of quotes is TFX's error."""
    if end <= start:
        return
    with _open(path) as reader:
        reader.seek(start)
        data = reader.read(end - start)
    quotes = data.count(b'"')
    if quotes & 1:  # chunks end after even counts: this one is the file's end, inside quotes
        raise ValueError(f"Csv record had unbalanced quotes. File: {path}")
    names = [str(index) for index in range(column_count)]
    batches = pa_csv.open_csv(
        pa.BufferReader(data),
        read_options=pa_csv.ReadOptions(column_names=names, block_size=BLOCK_BYTES),
        parse_options=pa_csv.ParseOptions(newlines_in_values=True, ignore_empty_lines=True),
        convert_options=pa_csv.ConvertOptions(
            column_types={name: pa.string() for name in names},
            strings_can_be_null=True, null_values=["", *missing_values],
            quoted_strings_can_be_null=True))
    if not quotes and data.count(b"\r") == data.count(b"\r\n"):
        try:
            yield from batches
        except pa.ArrowInvalid as error:
            raise ValueError(f"Invalid CSV in {path} (bytes {start}-{end}): {error}") from error
        return
    try:
        read = list(batches)
    except pa.ArrowInvalid:
        read = None
    if read is not None and sum(batch.num_rows for batch in read) == _tfx_record_count(data):
        yield from read
    else:
        logging.warning("%s (bytes %d-%d): read by TFX's CSV reader", path, start, end)
        yield _tfx_batch(data, names, path, missing_values)


def _tfx_record_count(data: bytes) -> int:
    """How many records TFX's reader finds in `data`: the lines up to a newline after an even
    number of quotes, less the blank ones."""
    text = np.frombuffer(data, np.uint8)
    newlines = np.flatnonzero(text == ord("\n"))
    quotes_before = np.searchsorted(np.flatnonzero(text == ord('"')), newlines)
    ends = newlines[(quotes_before & 1) == 0]
    starts = np.concatenate([[0], ends + 1])[:len(ends)]
    blank = (ends == starts) | ((ends == starts + 1) & (text[ends - 1] == ord("\r")))
    tail = data[ends[-1] + 1:] if len(ends) else data
    return int(len(ends) - blank.sum()) + (tail not in (b"", b"\r"))


def _tfx_batch(data: bytes, names: List[str], path: str,
               missing_values: Sequence[str] = ()) -> pa.RecordBatch:
    """`data` read by TFX's CsvExampleGen's own reader (_ReadCsvRecordsFromTextFile, then
    tfx_bsl's ParseCSVLine), as a RecordBatch like pyarrow's (`missing_values` as null)."""
    blank = {"", *missing_values}
    # pylint: disable=protected-access
    buffer, reader = tfx_csv_executor._CsvLineBuffer(), csv_decoder._CSVRecordReader(",")
    rows = []
    for line in io.BytesIO(data):
        buffer.write(line.decode("utf-8"))
        if buffer.is_complete_line():
            cells = reader.ReadLine(buffer.read())
            if cells and len(cells) != len(names):
                raise ValueError(f"Invalid CSV line in {path}: {cells}")
            if cells:
                rows.append(cells)
    if not buffer.is_empty():
        raise ValueError(f"Csv record had unbalanced quotes. File: {path}")
    return pa.RecordBatch.from_arrays(
        [pa.array([None if cell in blank else cell
                   for cell in (row[index].decode() for row in rows)], pa.string())
         for index in range(len(names))], names)


# ---- column kinds ----------------------------------------------------------------------------

def _infer_kind(column: pa.Array) -> Kind:
    """tfx_bsl's ColumnTypeInferrer over a column's cells: UNKNOWN if all are blank, INT if
    every other is a Python int of int64's range, FLOAT if every one is a Python float, else
    STRING. Plain integers (up to 18 digits, '-' in front or not) and plain decimals are told
    apart by Arrow kernels; any other cell ('+1', an exponent, 'nan', spaces, text, ...) by
    tfx_bsl's own `_InferValueType`, once per distinct value."""
    cells = column.drop_null()
    if not len(cells):
        return Kind.UNKNOWN
    lengths = pc.binary_length(cells)
    if pc.all(pc.ascii_is_decimal(cells)).as_py() and pc.max(lengths).as_py() <= 18:
        return Kind.INT
    undashed = pc.replace_substring(cells, "-", "", max_replacements=1)
    undashed_lengths = pc.binary_length(undashed)
    sign_ok = pc.or_(pc.equal(undashed_lengths, lengths), pc.starts_with(cells, "-"))
    undotted = pc.replace_substring(undashed, ".", "", max_replacements=1)
    undotted_lengths = pc.binary_length(undotted)
    plain = pc.and_(pc.ascii_is_decimal(undotted), sign_ok)
    plain_int = pc.and_(plain, pc.and_(pc.equal(undotted_lengths, undashed_lengths),
                                       pc.less_equal(undotted_lengths, 18)))
    if pc.all(plain_int).as_py():
        return Kind.INT
    plain_float = pc.and_(plain, pc.less(undotted_lengths, undashed_lengths))
    kind = Kind.FLOAT if pc.any(plain_float).as_py() else Kind.INT
    others = cells.filter(pc.invert(pc.or_(plain_int, plain_float)))
    infer = csv_decoder._InferValueType  # pylint: disable=protected-access
    for value in pc.unique(others).to_pylist():
        kind = max(kind, infer(value.encode()))
        if kind == Kind.STRING:
            break
    return kind


def _batch_kinds(batch: pa.RecordBatch, known: Optional[List[Kind]] = None) -> List[Kind]:
    """Each column's kind in `batch`, at least `known` (a STRING column is not looked at)."""
    known = known or [Kind.UNKNOWN] * batch.num_columns
    return [kind if kind == Kind.STRING else max(kind, _infer_kind(column))
            for kind, column in zip(known, batch.columns)]


def _merge_kinds(kinds: Sequence[Optional[List[Kind]]]) -> Optional[List[Kind]]:
    present = [each for each in kinds if each is not None]
    return [Kind(max(column)) for column in zip(*present)] if present else None


class _MergeKinds(beam.CombineFn):
    """Column kinds of chunks -> of all of them (the higher kind of each column)."""

    def create_accumulator(self):
        return None

    def add_input(self, accumulator, kinds):
        return _merge_kinds([accumulator, kinds])

    def merge_accumulators(self, accumulators):
        return _merge_kinds(list(accumulators))

    def extract_output(self, accumulator):
        return accumulator


def _chunk_kinds(group: _Group, file_index: int, start: int, end: int) -> Optional[List[Kind]]:
    kinds = None
    for batch in _read_batches(group.files[file_index], start, end, len(group.column_names),
                               group.missing_values):
        kinds = _batch_kinds(batch, kinds)
    return kinds


# ---- rows -> serialized tf.Examples ----------------------------------------------------------

def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _binary(data: np.ndarray, lengths: np.ndarray) -> pa.BinaryArray:
    offsets = np.zeros(len(lengths) + 1, np.int32)
    np.cumsum(lengths, out=offsets[1:])
    return pa.BinaryArray.from_buffers(pa.binary(), len(lengths),
                                       [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def _varints(values: np.ndarray, valid: Optional[np.ndarray] = None,
             prefix: bytes = b"") -> Tuple[pa.BinaryArray, np.ndarray]:
    """`prefix` + the protobuf varint of each value (int64: two's complement, 10 bytes when
    negative), empty where not `valid`, as a binary array; and each varint's size."""
    values = np.ascontiguousarray(values).view(np.uint64)
    sizes = np.ones(len(values), np.int64)
    rest = values >> np.uint64(7)
    while rest.any():
        sizes += rest != 0
        rest >>= np.uint64(7)
    width = len(prefix) + (int(sizes.max()) if len(values) else 1)
    rows = np.empty((len(values), width), np.uint8)
    rows[:, :len(prefix)] = np.frombuffer(prefix, np.uint8)
    shifted = values.copy()
    for index in range(len(prefix), width):
        rows[:, index] = ((shifted & np.uint64(0x7F)).astype(np.uint8)
                          | ((sizes > index - len(prefix) + 1).astype(np.uint8) << 7))
        shifted >>= np.uint64(7)
    lengths = sizes + len(prefix)
    if valid is not None:
        lengths = np.where(valid, lengths, 0)
    elif width == len(prefix) + 1:
        return _binary(rows.reshape(-1), lengths), sizes
    return _binary(rows[np.arange(width) < lengths[:, None]], lengths), sizes


@dataclasses.dataclass(frozen=True)
class _Column:
    """How one feature of the Examples is written: a map entry of `Features.feature`, the
    feature's name, then the Feature (one value, or an empty list of the column's kind)."""
    name: str
    index: int  # its column in the CSV (the last one of that name, as TFX's dict keeps)
    kind: Kind

    def _entry_header(self, feature_size: int) -> bytes:
        key = self.name.encode()
        key = b"\x0a" + _varint(len(key)) + key
        body = len(key) + 1 + len(_varint(feature_size)) + feature_size
        return b"\x0a" + _varint(body) + key + b"\x12" + _varint(feature_size)

    def header(self, size: int, feature_only: bool = False) -> bytes:
        """The bytes before a one-value feature's value of `size` bytes: of its map entry, or
        with `feature_only`, of the Feature."""
        value_list = 1 + len(_varint(size)) + size
        feature = bytes([_KIND_TAG[self.kind]]) + _varint(value_list) + b"\x0a" + _varint(size)
        if feature_only:
            return feature
        return self._entry_header(len(feature) + size) + feature

    def blank(self, feature_only: bool = False) -> bytes:
        """A blank cell: the feature with an empty list of the column's kind (no kind if the
        column has no value at all: `tf.train.Feature()`)."""
        feature = b"" if self.kind == Kind.UNKNOWN else bytes([_KIND_TAG[self.kind], 0])
        return feature if feature_only else self._entry_header(len(feature)) + feature


def _layout(column_names: Sequence[str], kinds: Optional[Sequence[Kind]]) -> List[_Column]:
    """The features of the Examples in the order of a deterministic serialization (by name);
    a name twice in the header: TFX's kind of the name (the higher) and value (the last)."""
    kinds = kinds or [Kind.UNKNOWN] * len(column_names)
    kind, index = {}, {}
    for position, (name, column_kind) in enumerate(zip(column_names, kinds)):
        kind[name] = max(kind.get(name, Kind.UNKNOWN), Kind(column_kind))
        index[name] = position
    return [_Column(name, index[name], kind[name]) for name in sorted(index, key=str.encode)]


def _python_values(cells: pa.Array, convert, arrow_type) -> pa.Array:
    return pa.array([None if cell is None else convert(cell.encode())
                     for cell in cells.to_pylist()], arrow_type)


def _values(cells: pa.Array, kind: Kind, valid: Optional[np.ndarray]) -> Tuple[pa.Array, Any]:
    """(each cell's value as the bytes protobuf writes in the value list, empty for a blank
    cell; the size of each, an array or one int for all) for a column of `kind`. Numbers are
    parsed as TFX does, int() and float() (then float32): by Arrow, whose casts agree with them
    on the cells both accept, else by Python."""
    if kind == Kind.INT:
        try:
            ints = pc.cast(cells, pa.int64())
        except pa.ArrowInvalid:  # '+5', ' 5', '1_000'
            ints = _python_values(cells, int, pa.int64())
        return _varints(ints.fill_null(0).to_numpy(), valid)
    if kind == Kind.FLOAT:
        try:
            doubles = pc.cast(cells, pa.float64())
            if pc.any(pc.is_nan(doubles)).as_py():  # the sign of a NaN as Python reads it
                raise pa.ArrowInvalid("NaN")
        except pa.ArrowInvalid:
            doubles = _python_values(cells, float, pa.float64())
        floats = pc.cast(doubles, pa.float32(), safe=False).fill_null(0).to_numpy()
        data = floats.astype("<f4").view(np.uint8).reshape(-1, 4)
        if valid is not None:
            return _binary(data[valid], np.where(valid, 4, 0)), 4
        return _binary(data, np.full(len(cells), 4)), 4
    values = pc.cast(cells.fill_null(""), pa.binary())
    return values, pc.binary_length(values).to_numpy()


def _fragments(column: _Column, cells: pa.Array, feature_only: bool = False) -> List[Any]:
    """Each row's map entry of `column` (with `feature_only`, its Feature), as pieces to
    concatenate: arrays of one piece per row, or a scalar when the same in every row."""
    blank = column.blank(feature_only)
    if column.kind == Kind.UNKNOWN:
        return [pa.scalar(blank, pa.binary())]
    valid = cells.is_valid().to_numpy(zero_copy_only=False) if cells.null_count else None
    values, sizes = _values(cells, column.kind, valid)
    if isinstance(sizes, int) and valid is None:
        return [pa.scalar(column.header(sizes, feature_only), pa.binary()), values]
    sizes = np.broadcast_to(sizes, (len(cells),))
    keys = sizes + 1 if valid is None else np.where(valid, sizes + 1, 0)  # 0: blank
    distinct, codes = _distinct(keys)
    headers = pa.array([column.header(int(key) - 1, feature_only) if key else blank
                        for key in distinct], pa.binary())
    return [headers.take(pa.array(codes)), values]


def _distinct(keys: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """np.unique(keys, return_inverse=True) for small non-negative ints, without a sort."""
    if not len(keys) or keys.max() >= 1 << 16:
        distinct, codes = np.unique(keys, return_inverse=True)
        return distinct, codes.astype(np.int32)
    distinct = np.flatnonzero(np.bincount(keys))
    lookup = np.zeros(distinct[-1] + 1, np.int32)
    lookup[distinct] = np.arange(len(distinct), dtype=np.int32)
    return distinct, lookup[keys]


_EMPTY = pa.scalar(b"", pa.binary())


def _concatenate(pieces: List[Any], rows: int, prefix: Optional[bytes] = None) -> pa.Array:
    """The pieces of each row joined; with `prefix`, behind it + the varint of their size."""
    if prefix is not None:
        sizes = np.zeros(rows, np.int64)
        for piece in pieces:
            sizes += (len(piece.as_py()) if isinstance(piece, pa.Scalar)
                      else pc.binary_length(piece).to_numpy())
        pieces = [_varints(sizes, prefix=prefix)[0], *pieces]
    return pc.binary_join_element_wise(*pieces, _EMPTY)


def _serialize(batch: pa.RecordBatch, layout: List[_Column],
               key_feature: Optional[str] = None) -> Tuple[pa.Array, Optional[pa.Array]]:
    """The rows of `batch` as `Example.SerializeToString(deterministic=True)` of the Examples
    TFX's CsvExampleGen builds for them (an Example: field 1, its Features: a map entry per
    feature, by name); and, with `key_feature`, the deterministic serialization of that
    Feature in each (TFX's partition key)."""
    pieces = [piece for column in layout
              for piece in _fragments(column, batch.column(column.index))]
    records = _concatenate(pieces, batch.num_rows, prefix=b"\x0a")
    keys = None
    if key_feature is not None:
        [column] = [column for column in layout if column.name == key_feature]
        keys = _concatenate(_fragments(column, batch.column(column.index), feature_only=True)
                            + [_EMPTY], batch.num_rows)
    return records, keys


def _check_partition_feature(layout: List[_Column], name: str) -> None:
    """TFX's errors for a `partition_feature_name` its rows cannot be split by."""
    column = {column.name: column for column in layout}.get(name)
    if column is None:
        raise RuntimeError(f"Feature name `{name}` does not exist.")
    if column.kind == Kind.UNKNOWN:
        raise RuntimeError("Partition feature does not contain any value.")
    if column.kind == Kind.FLOAT:
        raise RuntimeError("Only `bytes_list` and `int64_list` features are supported for "
                           "partition.")


def _split_indices(keys: np.ndarray, buckets: Sequence[int]) -> np.ndarray:
    """TFX's _PartitionFn for each key: its split, by the sha256 of the key (a big-endian
    integer) modulo the total buckets."""
    sha256, total = hashlib.sha256, buckets[-1]
    digests = b"".join([sha256(key).digest() for key in keys])
    if total >= 1 << 55:  # the modulo below needs 256 * total < 2**64
        return np.array([bisect.bisect(buckets, int.from_bytes(digests[at:at + 32], "big")
                                       % total) for at in range(0, len(digests), 32)])
    remainder = np.zeros(len(keys), np.uint64)
    total_ = np.uint64(total)
    for byte in np.frombuffer(digests, np.uint8).reshape(-1, 32).T.astype(np.uint64):
        remainder = (remainder * np.uint64(256) + byte) % total_
    return np.searchsorted(np.asarray(buckets, np.uint64), remainder, side="right")


def _chunk_records(group: _Group, file_index: int, start: int, end: int,
                   kinds: Optional[List[Kind]]
                   ) -> Iterator[Tuple[pa.BinaryArray, np.ndarray, np.ndarray]]:
    """Each RecordBatch of a chunk as its serialized Examples (an Arrow array and a numpy array
    of bytes objects) and the split index of each."""
    layout = _layout(group.column_names, kinds)
    for batch in _read_batches(group.files[file_index], start, end, len(group.column_names),
                               group.missing_values):
        if group.buckets and group.partition_feature is not None:
            _check_partition_feature(layout, group.partition_feature)
        records, keys = _serialize(batch, layout, group.partition_feature)
        objects = records.to_numpy(zero_copy_only=False)
        if len(group.buckets) <= 1:  # one split: every row
            yield records, objects, np.zeros(len(objects), np.int64)
        else:
            keys = objects if keys is None else keys.to_numpy(zero_copy_only=False)
            yield records, objects, _split_indices(keys, group.buckets)


# ---- TFRecord files --------------------------------------------------------------------------

def _crc32c_table() -> np.ndarray:
    table = np.zeros(256, np.uint32)
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table[byte] = crc
    return table


_CRC32C_TABLE = _crc32c_table()


def _crc32c_rows(rows: np.ndarray) -> np.ndarray:
    """The CRC-32C of each row of a 2-D uint8 array (table-driven, a column at a time)."""
    crc = np.full(len(rows), 0xFFFFFFFF, np.uint32)
    for column in rows.T:
        crc = _CRC32C_TABLE[(crc ^ column) & 0xFF] ^ (crc >> np.uint32(8))
    return crc ^ np.uint32(0xFFFFFFFF)


def _masked(crc: np.ndarray) -> np.ndarray:
    """TFRecord's masked CRC (tensorflow/core/lib/hash/crc32c.h: Mask)."""
    crc = crc.astype(np.uint32)
    return ((crc >> np.uint32(15)) | (crc << np.uint32(17))) + np.uint32(0xA282EAD8)


def _tfrecord_frames(records: pa.BinaryArray, objects: np.ndarray) -> pa.Buffer:
    """The records as a TFRecord file holds them, one after the other: each as its length
    (uint64), the masked CRC-32C of the length, the record, the masked CRC-32C of the record
    (all little-endian), as tf.io.TFRecordWriter writes them."""
    rows = len(records)
    offsets = np.frombuffer(records.buffers()[1], np.int32, rows + 1, records.offset * 4)
    lengths = np.diff(offsets).astype("<u8").view(np.uint8).reshape(rows, 8)
    heads = np.empty((rows, 12), np.uint8)
    heads[:, :8] = lengths
    heads[:, 8:] = _masked(_crc32c_rows(lengths)).astype("<u4").view(np.uint8).reshape(rows, 4)
    tails = _masked(np.fromiter(map(google_crc32c.value, objects), np.uint32, rows))
    framed = pc.binary_join_element_wise(
        _binary(heads.reshape(-1), np.full(rows, 12)), records,
        _binary(tails.astype("<u4").view(np.uint8), np.full(rows, 4)), _EMPTY)
    ends = np.frombuffer(framed.buffers()[1], np.int32, rows + 1, framed.offset * 4)
    return framed.buffers()[2].slice(int(ends[0]), int(ends[-1] - ends[0]))


class _GzipTFRecordFile:
    """A gzip TFRecord file (as tf.io.TFRecordWriter with compression_type GZIP writes it)
    written a batch of frames at a time."""

    def __init__(self, path: str):
        self._file = fileio.open(path, "wb")
        self._gzip = zlib.compressobj(COMPRESSION_LEVEL, zlib.DEFLATED, 16 + zlib.MAX_WBITS)

    def write(self, frames: pa.Buffer) -> None:
        self._file.write(self._gzip.compress(frames))

    def close(self) -> None:
        self._file.write(self._gzip.flush())
        self._file.close()


# ---- the Beam pipeline -----------------------------------------------------------------------

class _WriteShards(beam.DoFn):
    """A chunk -> its Examples, one gzip TFRecord file per split it has rows of (written under
    a temporary name, then renamed: a retried bundle rewrites the same file); yields
    (split name, examples written)."""

    def __init__(self, groups: List[_Group], split_uris: Dict[str, str], temp_dir: str):
        super().__init__()
        self._groups = groups
        self._split_uris = split_uris
        self._temp_dir = temp_dir
        self._counter = beam.metrics.Metrics.counter(write_split.METRICS_NAMESPACE,
                                                     "num_instances")

    def process(self, chunk, kinds_by_group):
        group_index, file_index, chunk_index, start, end = chunk
        group = self._groups[group_index]
        split_count = len(group.split_names)
        temp_paths = [os.path.join(self._temp_dir, f"{uuid.uuid4().hex}-{name}-"
                                                   f"{_shard_name(file_index, chunk_index)}")
                      for name in group.split_names]
        files, counts = {}, [0] * split_count
        try:
            # gzip and the writes in a thread of their own (zlib lets go of the GIL), at most a
            # batch behind the reading and serializing
            with concurrent.futures.ThreadPoolExecutor(1) as background:
                pending = collections.deque()
                for records, objects, splits in _chunk_records(group, file_index, start, end,
                                                               kinds_by_group.get(group_index)):
                    for split in range(split_count):
                        if split_count > 1:
                            selected = splits == split
                            if not selected.any():
                                continue
                            records_ = records.filter(pa.array(selected))
                            objects_ = objects[selected]
                        else:
                            records_, objects_ = records, objects
                        if split not in files:
                            files[split] = _GzipTFRecordFile(temp_paths[split])
                        pending.append(background.submit(
                            files[split].write, _tfrecord_frames(records_, objects_)))
                        counts[split] += len(objects_)
                    while len(pending) > split_count:
                        pending.popleft().result()
                for future in pending:
                    future.result()
        finally:
            for file in files.values():
                file.close()
        for split in files:
            fileio.rename(temp_paths[split],
                          os.path.join(self._split_uris[group.split_names[split]],
                                       _shard_name(file_index, chunk_index)),
                          overwrite=True)
        for split, count in enumerate(counts):
            self._counter.inc(count)
            yield group.split_names[split], count


def _shard_name(file_index: int, chunk_index: int) -> str:
    return f"{FILE_PREFIX}-{file_index:05d}-{chunk_index:05d}.gz"


def _chunks(pipeline: beam.Pipeline, groups: List[_Group]) -> beam.PCollection:
    """(group, file, chunk, start, end) of every chunk of every file, spread over workers."""
    def file_chunks(group_and_file):
        group_index, file_index = group_and_file
        path = groups[group_index].files[file_index]
        return [(group_index, file_index, chunk_index, start, end)
                for chunk_index, (start, end) in enumerate(_file_chunks(path))]
    return (pipeline
            | "CsvFiles" >> beam.Create([(group_index, file_index)
                                         for group_index, group in enumerate(groups)
                                         for file_index in range(len(group.files))])
            | "Chunks" >> beam.FlatMap(file_chunks)
            | "SpreadChunks" >> beam.Reshuffle())


def _kinds(chunks: beam.PCollection, groups: List[_Group]) -> beam.PCollection:
    """group -> its columns' kinds over all its chunks."""
    return (chunks
            | "InferKinds" >> beam.Map(lambda chunk: (chunk[0], _chunk_kinds(
                groups[chunk[0]], chunk[1], chunk[3], chunk[4])))
            | "CombineKinds" >> beam.CombinePerKey(_MergeKinds()))


@beam.ptransform_fn
@beam.typehints.with_input_types(beam.Pipeline)
@beam.typehints.with_output_types(bytes)
def _CsvToSerializedExample(pipeline: beam.Pipeline, exec_properties: Dict[str, Any],  # noqa: N802
                            split_pattern: str) -> beam.PCollection:
    """One input split's CSV files -> the deterministic serializations of the Examples TFX's
    CsvExampleGen builds (for TFX's own GenerateExamplesByBeam; `Do` does not use it)."""
    pattern, files, names = _csv_files(
        exec_properties[standard_component_specs.INPUT_BASE_KEY], split_pattern)
    groups = [_Group(pattern, tuple(files), tuple(names), ("all",),
                     missing_values=missing_values_of(exec_properties))]
    chunks = _chunks(pipeline, groups)
    kinds = beam.pvalue.AsDict(_kinds(chunks, groups))

    def records(chunk, kinds_by_group):
        for _, objects, _ in _chunk_records(groups[0], chunk[1], chunk[3], chunk[4],
                                            kinds_by_group.get(0)):
            yield from objects
    return chunks | "ToSerializedExample" >> beam.FlatMap(records, kinds)


class Executor(BaseExampleGenExecutor):
    """FileBasedExampleGen's executor for CSV files: TFX's CsvExampleGen's output, faster (see
    the module docstring). `Do` runs its own Beam pipeline; `GetInputSourceToExamplePTransform`
    serves TFX's GenerateExamplesByBeam with the same records (and so the same split)."""

    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:  # noqa: N802 (TFX's name)
        return _CsvToSerializedExample

    def Do(self, input_dict: Dict[str, List[types.Artifact]],  # noqa: N802
           output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        self._log_startup(input_dict, output_dict, exec_properties)
        payload_format = exec_properties.get(standard_component_specs.OUTPUT_DATA_FORMAT_KEY)
        if payload_format not in (None, example_gen_pb2.FORMAT_TF_EXAMPLE):
            raise ValueError(f"output_data_format {payload_format}: the CSV ExampleGen writes "
                             "tf.Examples only (FORMAT_TF_EXAMPLE)")
        file_format = exec_properties.get(standard_component_specs.OUTPUT_FILE_FORMAT_KEY,
                                          example_gen_pb2.FILE_FORMAT_UNSPECIFIED)
        file_format_name = write_split.to_file_format_str(file_format)  # tfrecords_gzip only
        groups = _plan(exec_properties)
        split_names = [name for group in groups for name in group.split_names]
        outputs = output_dict[standard_component_specs.EXAMPLES_KEY]
        examples = artifact_utils.get_single_instance(outputs)
        examples.split_names = artifact_utils.encode_split_names(split_names)
        split_uris = {name: artifact_utils.get_split_uri(outputs, name) for name in split_names}
        temp_dir = os.path.join(examples.uri, TEMP_DIR)
        for path in [temp_dir, *split_uris.values()]:
            fileio.makedirs(path)

        logging.info("Generating examples from %s.", ", ".join(g.pattern for g in groups))
        with self._make_beam_pipeline() as pipeline:
            chunks = _chunks(pipeline, groups)
            kinds = beam.pvalue.AsDict(_kinds(chunks, groups))
            _ = (chunks
                 | "WriteShards" >> beam.ParDo(_WriteShards(groups, split_uris, temp_dir),
                                               kinds)
                 | "CountPerSplit" >> beam.CombinePerKey(sum)
                 | "LogCounts" >> beam.Map(lambda count: logging.info("%s: %d examples.",
                                                                      *count)))
        for uri in split_uris.values():  # a split without rows: one empty file, as TFX writes
            if not fileio.glob(os.path.join(uri, f"{FILE_PREFIX}-*.gz")):
                _GzipTFRecordFile(os.path.join(uri, f"{FILE_PREFIX}-empty.gz")).close()
        fileio.rmtree(temp_dir)

        if payload_format:
            for artifact in outputs:
                examples_utils.set_payload_format(artifact, payload_format)
        if file_format:
            for artifact in outputs:
                examples_utils.set_file_format(artifact, file_format_name)
        logging.info("Examples generated.")
