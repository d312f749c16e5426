"""Raw feature values (JSON requests, CSV rows) -> checked values -> serialized tf.Examples.

The exported signature takes serialized raw tf.Examples; the checks here are the request contract
of the schema's SERVING environment: unknown fields, missing required features, wrong types and
too many values are refused with a `RequestError` naming the field. Domains (ranges, closed
vocabularies) are not enforced here: out-of-domain values are what `mlpipe monitor` reports,
and refusing them would hide them from the request log.

tf.Examples are encoded by hand (a few varints per value): it is several times faster than
building the protobuf message from Python; `tests/serving` parses the bytes back with protobuf
and compares them with the message built the ordinary way.
"""

import base64
import math
import struct
from typing import Dict, Iterable, List, Mapping, Optional, Sequence

from mlpipe.serving.schema_features import BYTES, FLOAT, INT, FeatureInfo

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
Values = List  # one feature's values: list of int, float or bytes


class RequestError(ValueError):
    """A request the schema's SERVING environment does not allow; `field` names the culprit."""

    def __init__(self, message: str, field: Optional[str] = None):
        super().__init__(message)
        self.field = field


class ExampleEncoder:
    """Checks raw rows against the SERVING features and serializes them as tf.Examples."""

    def __init__(self, features: Mapping[str, FeatureInfo]):
        self.features = dict(features)
        self.required = [name for name, info in self.features.items() if info.required]

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
        self._check_required(checked, where)
        return checked

    # ---- CSV rows --------------------------------------------------------------------------

    def check_csv_row(self, row: Mapping[str, str], where: str) -> Dict[str, Values]:
        """A csv.DictReader row; columns that are not SERVING features are ignored."""
        checked = {}
        for name, info in self.features.items():
            text = row.get(name)
            if text is None or text == "":
                continue
            checked[name] = [_parse_text(text, info, where)]
        self._check_required(checked, where)
        return checked

    def _check_required(self, checked: Dict[str, Values], where: str) -> None:
        for name in self.required:
            if name not in checked:
                raise RequestError(f"{where}: missing required feature '{name}' "
                                   f"({self.features[name].type})", name)

    # ---- encoding --------------------------------------------------------------------------

    def serialize(self, row: Mapping[str, Values]) -> bytes:
        """One checked row -> a serialized tf.Example."""
        entries = []
        for name, values in row.items():
            kind = self.features[name].type
            if kind == BYTES:
                body = b"".join(_field(1, value) for value in values)
                feature = _field(1, body)
            elif kind == FLOAT:
                feature = _field(2, _field(1, struct.pack(f"<{len(values)}f", *values)))
            else:
                feature = _field(3, _field(1, b"".join(_varint(v & 0xFFFFFFFFFFFFFFFF)
                                                       for v in values)))
            entries.append(_field(1, _field(1, name.encode()) + _field(2, feature)))
        return _field(1, b"".join(entries)) if entries else b""

    def serialize_all(self, rows: Iterable[Mapping[str, Values]]) -> List[bytes]:
        return [self.serialize(row) for row in rows]


def _json_values(value, info: FeatureInfo, where: str) -> Values:
    if value is None:
        return []
    values = value if isinstance(value, list) else [value]
    if info.max_values and len(values) > info.max_values:
        raise RequestError(f"{where}: feature '{info.name}' takes at most {info.max_values} "
                           f"value(s), got {len(values)}", info.name)
    return [_json_value(item, info, where) for item in values]


def _json_value(item, info: FeatureInfo, where: str):
    if info.type == FLOAT:
        if isinstance(item, (int, float)) and not isinstance(item, bool) and math.isfinite(item):
            return float(item)
    elif info.type == INT:
        if isinstance(item, int) and not isinstance(item, bool) and INT64_MIN <= item <= INT64_MAX:
            return item
        if isinstance(item, float) and item.is_integer() and INT64_MIN <= item <= INT64_MAX:
            return int(item)
    else:
        if isinstance(item, str):
            return item.encode()
        if isinstance(item, dict) and set(item) == {"b64"} and isinstance(item["b64"], str):
            try:
                return base64.b64decode(item["b64"], validate=True)
            except ValueError:
                pass
    raise RequestError(f"{where}: feature '{info.name}' expects {_expected(info.type)}, "
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


def _expected(kind: str) -> str:
    return {FLOAT: "a number (FLOAT)", INT: "an integer (INT)",
            BYTES: "a string (BYTES) or {\"b64\": ...}"}[kind]


def _describe(item) -> str:
    text = repr(item)
    kind = {bool: "boolean", str: "string", dict: "object", list: "list"}.get(type(item),
                                                                               type(item).__name__)
    return f"{kind} {text[:40]}"


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field."""
    return _varint((number << 3) | 2) + _varint(len(payload)) + payload


def as_json_predictions(outputs: Mapping[str, Sequence], columnar: bool):
    """Model outputs (name -> per-row values) in TF Serving's response shape."""
    if columnar:
        body = {name: _tolist(values) for name, values in outputs.items()}
        return {"outputs": next(iter(body.values())) if len(body) == 1 else body}
    names = list(outputs)
    lists = {name: _tolist(outputs[name]) for name in names}
    if len(names) == 1:
        return {"predictions": lists[names[0]]}
    count = len(lists[names[0]])
    return {"predictions": [{name: lists[name][i] for name in names} for i in range(count)]}


def _tolist(values):
    return values.tolist() if hasattr(values, "tolist") else list(values)
