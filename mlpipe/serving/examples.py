"""Raw feature values (JSON requests, CSV rows) -> checked values -> serialized tf.Examples.

The exported signature takes serialized raw tf.Examples; the checks here are the request contract
of the schema's SERVING environment: unknown fields, missing required features, wrong types and
too many values are refused with a `RequestError` naming the field. Domains (ranges, closed
vocabularies) are not enforced here: out-of-domain values are what `mlpipe monitor` reports,
and refusing them would hide them from the request log.

Checked rows are encoded column by column with tfx_bsl's C++ tf.Example encoder (a 100-row
request in about a tenth of the time of building the messages in Python); `tests/serving` parses
the bytes back with protobuf and compares them with the message built the ordinary way.

Batch scoring (`mlpipe predict`, `monitor --evaluate`) checks whole CSV columns at once instead:
`check_csv_columns` takes a chunk's columns as Arrow strings, types each feature with Arrow's
C++ casts (a column the fast cast refuses is re-checked value by value with the same rules as
`check_csv_row`, which also names the first bad line), and `serialize_batch` encodes the typed
chunk with tfx_bsl's C++ tf.Example encoder. pyarrow and tfx_bsl are imported on first use.
"""

import base64
import functools
import math
import threading
from typing import Dict, List, Mapping, Optional, Sequence

from mlpipe.core.contract import SERVING
from mlpipe.core.schema_io import (BYTES, EXAMPLE_KINDS, FLOAT, INT, FeatureInfo,
                                   environment_features, load_schema)
from mlpipe.serving.outputs import json_ready

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_NO_FEATURES = "\0no features"
# A request of up to this many rows is "a few": encoded as protobuf messages (serialize_all)
# and logged row by row, where the fixed cost of an Arrow batch is more than the rows cost.
FEW_ROWS = 16
Values = List  # one feature's values: list of int, float or bytes


class RequestError(ValueError):
    """A request the schema's SERVING environment does not allow; `field` names the culprit,
    `row` (a CSV chunk's check) the row of the chunk when one row is at fault."""

    def __init__(self, message: str, field: Optional[str] = None, row: Optional[int] = None):
        super().__init__(message)
        self.field = field
        self.row = row


class ExampleEncoder:
    """Checks raw rows against the SERVING features and serializes them as tf.Examples."""

    def __init__(self, features: Mapping[str, FeatureInfo],
                 csv_missing_values: Sequence[str] = ()):
        """`csv_missing_values`: CSV cell texts read as blank (the config's
        data.missing_values, e.g. NA), as the pipeline read them in training."""
        self.features = dict(features)
        self.required = [name for name, info in self.features.items() if info.required]
        self.csv_missing_values = frozenset(csv_missing_values)
        self._batch_encoders = threading.local()

    # ---- JSON requests ---------------------------------------------------------------------

    def rows_from_request(self, body) -> (List[Dict[str, Values]], str):
        """A TF Serving predict body -> (checked rows, "row" or "columnar")."""
        if not isinstance(body, dict):
            raise RequestError("request body must be a JSON object with 'instances' or 'inputs'")
        unknown_keys = set(body) - {"instances", "inputs", "signature_name"}
        if unknown_keys:
            key = sorted(unknown_keys)[0]
            raise RequestError(f"unknown request key '{key}' (expected 'instances' or 'inputs', "
                               "and optionally 'signature_name')", key)
        if ("instances" in body) == ("inputs" in body):
            raise RequestError("request must have exactly one of 'instances' (row format) or "
                               "'inputs' (columnar format)")
        if "instances" in body:
            instances = body["instances"]
            if not isinstance(instances, list) or not instances:
                raise RequestError("'instances' must be a non-empty list of objects", "instances")
            return [self.check_json_row(row, f"instances[{i}]")
                    for i, row in enumerate(instances)], "row"
        return self._columnar_rows(body["inputs"]), "columnar"

    def plain_instances(self, instances):
        """Row-format instances checked column by column in C++: (a RecordBatch as
        `batch_of_rows` makes of the checked rows, the flat columns `first_values` makes of
        it), or None when any value is not of the plainest kind (a JSON number or string, or
        null) or breaks a rule: the row-by-row check then finds the first fault and names it.
        100 rows: about half the time of the row check, conversion and log columns."""
        import pyarrow as pa
        if not all(type(row) is dict for row in instances):
            return None
        names = set().union(*instances)
        if not names <= self.features.keys():
            return None
        arrays, flat = [], {}
        for name, info in self.features.items():
            if name not in names:
                if info.required:
                    return None
                continue
            column = _plain_column([row.get(name) for row in instances], info)
            if column is None or (info.required and column.null_count):
                return None
            flat[name] = column
            arrays.append(one_value_lists(column))
        if not flat:
            return None
        return pa.RecordBatch.from_arrays(arrays, list(flat)), flat

    def rows_from_examples_request(self, body, verb: str) -> List[Dict[str, Values]]:
        """A TF Serving :classify / :regress body ({"examples": [...], "context": {...}}) ->
        checked rows; the context's features go into every example."""
        if not isinstance(body, dict):
            raise RequestError(f":{verb} request body must be a JSON object with 'examples'")
        unknown_keys = set(body) - {"examples", "context", "signature_name"}
        if unknown_keys:
            key = sorted(unknown_keys)[0]
            raise RequestError(f"unknown request key '{key}' (a :{verb} request has "
                               "'examples', and optionally 'context' and 'signature_name')", key)
        examples = body.get("examples")
        if not isinstance(examples, list) or not examples:
            raise RequestError(f"a :{verb} request needs 'examples': a non-empty list of "
                               "objects", "examples")
        context = body.get("context", {})
        if not isinstance(context, dict):
            raise RequestError("'context' must be an object of feature name -> value",
                               "context")
        rows = []
        for i, example in enumerate(examples):
            if isinstance(example, dict):
                shared = sorted(set(example) & set(context))
                if shared:
                    raise RequestError(f"examples[{i}]: feature '{shared[0]}' is also in "
                                       "'context'", shared[0])
                example = {**context, **example}
            rows.append(self.check_json_row(example, f"examples[{i}]"))
        return rows

    def _columnar_rows(self, inputs) -> List[Dict[str, Values]]:
        if not isinstance(inputs, dict) or not inputs:
            raise RequestError("'inputs' must be a non-empty object of feature -> list of values "
                               "(one per example)", "inputs")
        count = None
        for name, column in inputs.items():
            if not isinstance(column, list):
                raise RequestError(f"inputs['{name}'] must be a list with one value per example",
                                   name)
            if count is None:
                count = len(column)
            elif len(column) != count:
                raise RequestError(f"inputs['{name}'] has {len(column)} values, but the first "
                                   f"input has {count}: every input needs one per example", name)
        if not count:
            raise RequestError("'inputs' lists no examples", "inputs")
        return [self.check_json_row({name: column[i] for name, column in inputs.items()},
                                    f"inputs[{i}]") for i in range(count)]

    def check_json_row(self, row, where: str) -> Dict[str, Values]:
        if not isinstance(row, dict):
            raise RequestError(f"{where} must be an object of feature name -> value")
        checked = {}
        for name, value in row.items():
            info = self.features.get(name)
            if info is None:
                raise RequestError(f"{where}: unknown feature '{name}' (not in the schema's "
                                   "SERVING environment)", name)
            values = _json_values(value, info, where)
            if values:
                checked[name] = values
        self.check_required(checked, where)
        return checked

    # ---- CSV rows --------------------------------------------------------------------------

    def check_csv_row(self, row: Mapping[str, str], where: str) -> Dict[str, Values]:
        """A csv.DictReader row; columns that are not SERVING features are ignored."""
        checked = {}
        for name, info in self.features.items():
            text = row.get(name)
            if text is None or text == "" or text in self.csv_missing_values:
                continue
            checked[name] = [_parse_text(text, info, where)]
        self.check_required(checked, where)
        return checked

    def check_required(self, checked: Dict[str, Values], where: str) -> None:
        for name in self.required:
            if name not in checked:
                raise RequestError(f"{where}: missing required feature '{name}' "
                                   f"({self.features[name].type})", name)

    # ---- encoding --------------------------------------------------------------------------

    def serialize(self, row: Mapping[str, Values]) -> bytes:
        """One checked row -> a serialized tf.Example."""
        return self.serialize_all([row])[0]

    def serialize_all(self, rows: Sequence[Mapping[str, Values]]) -> List[bytes]:
        """Checked rows -> serialized tf.Examples. Many rows go through the same C++ encoder
        as CSV chunks (a feature a row lacks becomes a feature with no values: parsed like an
        absent one); a few are built as protobuf messages, since setting up the Arrow batch
        costs more than that (1 row: ~20 us against ~115 us)."""
        if len(rows) <= FEW_ROWS:
            return [self._example(row).SerializeToString() for row in rows]
        return self.serialize_batch(self.batch_of_rows(rows))

    def _example(self, row: Mapping[str, Values]):
        from tensorflow.core.example import example_pb2
        example = example_pb2.Example()
        features = example.features.feature
        for name, values in row.items():
            getattr(features[name], EXAMPLE_KINDS[self.features[name].type]).value.extend(values)
        return example

    def batch_of_rows(self, rows: Sequence[Mapping[str, Values]]):
        """Checked rows -> a RecordBatch of one list column per feature present (see
        `serialize_batch`; `first_values` makes the request log's columns of it)."""
        import pyarrow as pa
        names, arrays = [], []
        for name, info in self.features.items():
            column = [row.get(name) for row in rows]
            if any(values is not None for values in column):
                names.append(name)
                arrays.append(pa.array(column, type=pa.list_(_arrow_type(info.type))))
        if not names:  # rows of empty examples
            return pa.RecordBatch.from_arrays([pa.nulls(len(rows))], [_NO_FEATURES])
        return pa.RecordBatch.from_arrays(arrays, names)

    # ---- CSV chunks (columnar) ---------------------------------------------------------------

    def check_csv_columns(self, columns: Mapping[str, object], num_rows: int, first_line: int):
        """A CSV chunk's columns (name -> Arrow string array, "" = missing) -> a RecordBatch of
        one list column per SERVING feature present (null list = missing value), typed by the
        schema; the same rules as `check_csv_row`. Columns that are not SERVING features are
        ignored; a feature with no column is left out (an error if it is required). Raises a
        RequestError naming the first bad line (`first_line` is the chunk's first row) and the
        column, as the row-by-row check of the same rows would."""
        import pyarrow as pa
        names, arrays, problems = [], [], []
        for order, (name, info) in enumerate(self.features.items()):
            text = columns.get(name)
            if text is None:
                if info.required and num_rows:
                    problems.append((0, 1, order, RequestError(
                        f"line {first_line}: missing required feature '{name}' ({info.type})",
                        name)))
                continue
            if self.csv_missing_values:
                text = _blank_tokens(text, self.csv_missing_values)
            missing = _empty_mask(text)
            if missing is not None and info.required:
                row = int(missing.argmax())
                problems.append((row, 1, order, RequestError(
                    f"line {first_line + row}: missing required feature '{name}' "
                    f"({info.type})", name, row)))
            present = text if missing is None else text.filter(pa.array(~missing))
            values = _arrow_values(present, info)
            if values is None:
                values, bad = _python_values(text, info, first_line)
                if bad is not None:
                    bad[1].row = bad[0]
                    problems.append((bad[0], 0, order, bad[1]))
                    continue
            names.append(name)
            arrays.append(_list_array(values, missing, num_rows))
        if problems:
            raise min(problems, key=lambda problem: problem[:3])[3]
        if not names:  # no feature column at all: rows of empty examples
            return pa.RecordBatch.from_arrays([pa.nulls(num_rows)], [_NO_FEATURES])
        return pa.RecordBatch.from_arrays(arrays, names)

    def serialize_batch(self, batch) -> List[bytes]:
        """A RecordBatch from `check_csv_columns` -> serialized tf.Examples (tfx_bsl, in C++).
        A missing value is a feature with no values: parsed exactly like an absent one."""
        if batch.schema.names == [_NO_FEATURES]:
            return [b""] * batch.num_rows
        coder = getattr(self._batch_encoders, "coder", None)
        if coder is None:  # one per thread: chunks are encoded in parallel
            from tfx_bsl.coders import example_coder
            coder = self._batch_encoders.coder = example_coder.RecordBatchToExamplesEncoder()
        return coder.encode(batch)


# The Python types a column may hold to be checked in C++, by schema type (a JSON true is no
# number: `type(True) is bool`); anything else goes through the row-by-row rules.
_PLAIN_TYPES = {FLOAT: {float, int, type(None)}, INT: {int, type(None)},
                BYTES: {str, type(None)}}


def _plain_column(values: list, info: FeatureInfo):
    """A feature's JSON values (one per row, None = missing) as a checked flat Arrow array of
    its type, or None when the row-by-row check must decide."""
    import numpy as np
    import pyarrow as pa
    if not {type(value) for value in values} <= _PLAIN_TYPES[info.type]:
        return None
    try:
        if info.type == BYTES:
            return pa.array(values, pa.string()).cast(pa.binary())
        if info.type == INT:
            return pa.array(values, pa.int64())
        column = pa.array(values, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, UnicodeError):
        return None
    numbers = column.drop_null().to_numpy()
    if not np.isfinite(numbers).all() or (np.abs(numbers) > FLOAT32_MAX).any():
        return None
    return column.cast(pa.float32())


def one_value_lists(column):
    """A flat array -> one-value lists; a null value becomes a null list (missing). Arrow
    lets a null list keep its slot in the values, so every column shares the cached offsets
    (a column with nulls: 9 us for 100 rows, against 31 us for offsets counted past the
    nulls; the encoder writes the same examples)."""
    import pyarrow as pa
    offsets = _one_value_offsets(len(column))
    if not column.null_count:
        return pa.ListArray.from_arrays(offsets, column)
    return pa.ListArray.from_arrays(offsets, column, mask=column.is_null())


@functools.lru_cache(maxsize=64)
def _one_value_offsets(count: int):
    """The offsets of `count` one-value lists; the same few request sizes come again."""
    import numpy as np
    import pyarrow as pa
    return pa.array(np.arange(count + 1, dtype=np.int32))


def first_values(batch) -> Dict[str, object]:
    """A RecordBatch of list columns -> feature -> its first value per row (null when the
    list is empty or null): the flat columns `RequestLog.log_columns` takes."""
    import pyarrow as pa
    columns = {}
    for name, column in zip(batch.schema.names, batch.columns):
        if name == _NO_FEATURES or pa.types.is_null(column.type):
            continue
        if column.offset:   # a slice: its offsets are not into its own values
            column = pa.concat_arrays([column])
        # Each row's first value sits at its list's start offset. Numpy on the offsets: a few
        # microseconds a column, where Arrow's compute calls took tens.
        offsets, lengths = column.offsets.to_numpy(), list_lengths(column)
        if (lengths == 1).all():   # one value a row, as requests have: the values themselves
            columns[name] = column.values.slice(offsets[0], len(column))
            continue
        # An empty or null list takes a null index, which `take` answers with null.
        columns[name] = column.values.take(pa.array(offsets[:-1], mask=lengths == 0))
    return columns


def list_lengths(column):
    """A list column's length per row as numpy, 0 for a null list (Arrow lets a null list
    span values: its offsets are not read)."""
    import numpy as np
    lengths = np.diff(column.offsets.to_numpy())
    if column.null_count:
        lengths[column.is_null().to_numpy(zero_copy_only=False)] = 0
    return lengths


def _json_values(value, info: FeatureInfo, where: str) -> Values:
    if value is None:
        return []
    if type(value) is not list:
        return [_json_value(value, info, where)]
    if info.max_values and len(value) > info.max_values:
        raise RequestError(f"{where}: feature '{info.name}' takes at most {info.max_values} "
                           f"value(s), got {len(value)}", info.name)
    return [_json_value(item, info, where) for item in value]


def _json_value(item, info: FeatureInfo, where: str):
    kind, item_type = info.type, type(item)  # exact types: a JSON true is no number here
    if kind == FLOAT:
        if (item_type is float or item_type is int) and math.isfinite(item):
            if abs(item) > FLOAT32_MAX:
                raise RequestError(f"{where}: feature '{info.name}' value {item!r} is out of the "
                                   "FLOAT (float32) range", info.name)
            return float(item)
    elif kind == INT:
        if item_type is int and INT64_MIN <= item <= INT64_MAX:
            return item
        if item_type is float and item.is_integer() and INT64_MIN <= item <= INT64_MAX:
            return int(item)
    else:
        if item_type is str:
            return item.encode()
        if item_type is dict and set(item) == {"b64"} and isinstance(item["b64"], str):
            try:
                return base64.b64decode(item["b64"], validate=True)
            except ValueError:
                pass
    raise RequestError(f"{where}: feature '{info.name}' expects {_expected(kind)}, "
                       f"got {_describe(item)}", info.name)


def _parse_text(text: str, info: FeatureInfo, where: str):
    try:
        if info.type == FLOAT:
            value = float(text)
            if math.isfinite(value):
                return value
        elif info.type == INT:
            try:
                return int(text)
            except ValueError:
                value = float(text)
                if value.is_integer():
                    return int(value)
        else:
            return text.encode()
    except ValueError:
        pass
    raise RequestError(f"{where}: column '{info.name}' expects {_expected(info.type)}, "
                       f"got {text!r}", info.name)


def _blank_tokens(text, tokens):
    """An Arrow string array with the cells equal to one of `tokens` made empty."""
    import pyarrow as pa
    import pyarrow.compute as pc
    matches = pc.is_in(text, value_set=pa.array(sorted(tokens), type=text.type))
    return pc.if_else(matches, pa.scalar("", type=text.type), text)


def _empty_mask(text):
    """numpy bool mask of the empty strings of an Arrow string array; None when there are none."""
    import numpy as np
    import pyarrow.compute as pc
    lengths = pc.binary_length(text)
    if lengths.null_count:
        lengths = pc.fill_null(lengths, 0)
    if pc.min(lengths).as_py() != 0:
        return None
    return np.asarray(lengths.to_numpy(zero_copy_only=False) == 0)


FLOAT32_MAX = 3.4028234663852886e38
EXACT_FLOAT_INT = 2**53


def _arrow_values(text, info: FeatureInfo):
    """Typed Arrow values of the non-empty strings `text` with Arrow's C++ casts, or None
    when a value needs a closer look (not a plain number, or a form `_parse_text` might
    read differently): `_python_values` then decides value by value."""
    import pyarrow as pa
    import pyarrow.compute as pc
    if info.type == BYTES:
        return text.cast(pa.binary())
    try:
        if info.type == FLOAT:
            values = pc.cast(pc.cast(text, pa.float64()), pa.float32(), safe=False)
            return values if len(values) == 0 or pc.all(pc.is_finite(values)).as_py() else None
        if pc.any(pc.match_substring(text, "x", ignore_case=True)).as_py():
            return None  # Arrow reads "0x1f" as hexadecimal, Python's int() does not
        try:
            return pc.cast(text, pa.int64())
        except pa.ArrowInvalid:  # e.g. "5.0", as a CSV written from floats has it
            numbers = pc.cast(text, pa.float64())
            if len(numbers) and not (pc.all(pc.equal(pc.floor(numbers), numbers)).as_py()
                                     and pc.max(pc.abs(numbers)).as_py() <= EXACT_FLOAT_INT):
                return None
            return pc.cast(numbers, pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _python_values(text, info: FeatureInfo, first_line: int):
    """The non-empty values of `text` typed with `_parse_text`, value by value -> (Arrow
    values, None), or (None, (row, RequestError)) for the first value it refuses."""
    import pyarrow as pa
    values = []
    for row, item in enumerate(text.to_pylist()):
        if not item:
            continue
        where = f"line {first_line + row}"
        try:
            value = _parse_text(item, info, where)
            if (info.type == INT and not INT64_MIN <= value <= INT64_MAX) or (
                    info.type == FLOAT and abs(value) > FLOAT32_MAX):
                raise RequestError(f"{where}: column '{info.name}' value {item!r} is out of "
                                   f"the {info.type} range", info.name)
        except RequestError as error:
            return None, (row, error)
        values.append(value)
    return pa.array(values, _arrow_type(info.type)), None


def _arrow_type(kind: str):
    import pyarrow as pa
    return {INT: pa.int64(), FLOAT: pa.float32(), BYTES: pa.binary()}[kind]


def _list_array(values, missing, num_rows: int):
    """One value per row (`missing` rows: a null list) -> an Arrow list array."""
    import numpy as np
    import pyarrow as pa
    if missing is None:
        return pa.ListArray.from_arrays(pa.array(np.arange(num_rows + 1, dtype=np.int32)),
                                        values)
    offsets = np.zeros(num_rows + 1, dtype=np.int32)
    np.cumsum(~missing, out=offsets[1:])
    return pa.ListArray.from_arrays(pa.array(offsets), values, mask=pa.array(missing))


def _expected(kind: str) -> str:
    return {FLOAT: "a number (FLOAT)", INT: "an integer (INT)",
            BYTES: "a string (BYTES) or {\"b64\": ...}"}[kind]


def _describe(item) -> str:
    text = repr(item)
    kind = {bool: "boolean", str: "string", dict: "object", list: "list"}.get(type(item),
                                                                               type(item).__name__)
    return f"{kind} {text[:40]}"


def as_json_predictions(outputs: Mapping[str, Sequence], columnar: bool):
    """Model outputs (name -> per-row values) in TF Serving's response shape: one output ->
    its values; several (multiclass: "classes" and "scores") -> an object per row ("instances")
    or an object of outputs ("inputs"). String outputs are answered as UTF-8 text."""
    if columnar:
        body = {name: json_ready(values) for name, values in outputs.items()}
        return {"outputs": next(iter(body.values())) if len(body) == 1 else body}
    names = list(outputs)
    lists = {name: json_ready(outputs[name]) for name in names}
    if len(names) == 1:
        return {"predictions": lists[names[0]]}
    count = len(lists[names[0]])
    return {"predictions": [{name: lists[name][i] for name in names} for i in range(count)]}


def encoder_for_schema(schema_path: str,
                       csv_missing_values: Sequence[str] = ()) -> "ExampleEncoder":
    """The encoder of requests for the features of the schema's SERVING environment."""
    return ExampleEncoder(environment_features(load_schema(schema_path), SERVING),
                          csv_missing_values)
