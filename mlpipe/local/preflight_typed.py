"""The preflight check of the typed formats (`mlpipe.local.preflight`), parquet and TFRecord
(tf.Example): the columns the config needs are there, each numeric column is of its numeric kind,
a column has one type in every file (parquet) or record (TFRecord), the text of a feature the
config needs is UTF-8 (TFRecord), and the label checked row by row."""

import math
import os
from typing import Dict, Optional, Tuple

from mlpipe.config import ProblemConfig
from mlpipe.core import data_files
from mlpipe.core.data_files import BYTES, FLOAT, INT
from mlpipe.core.run_record import DataFile, file_sha256
from mlpipe.core.schema_io import EXAMPLE_KINDS
from mlpipe.errors import InputDataError
from mlpipe.local.preflight_kinds import NUMBER
from mlpipe.local.preflight_label import LabelCheck, positive_values


class TypedColumns:
    """The kinds of a typed format's columns: each numeric column of its numeric kind, and each
    column of one type in every file (parquet) or record (TFRecord)."""

    def __init__(self, config: ProblemConfig, kinds: Dict[str, str]):
        self.kinds = kinds
        self.required = config.required_columns
        self.first: Dict[str, Tuple[str, str]] = {}  # column -> (its type, where first seen)

    def expect(self, column: str, kind: Optional[str]) -> Optional[str]:
        """Why a column of `kind` cannot be what the schema or config says it is, or None."""
        wanted = self.kinds.get(column)
        if wanted is None or kind is None or kind == wanted or \
                (wanted == NUMBER and kind in (INT, FLOAT)):
            return None
        return wanted

    def finish_tfrecord(self, data_path: str) -> None:
        missing = [column for column in self.required if column not in self.first]
        if missing:
            raise InputDataError(
                f"{data_path}: no record has the feature(s) {missing} that the config needs "
                f"(features seen: {sorted(self.first)})")


def check_parquet(path: str, config: ProblemConfig, typed: TypedColumns,
                   label: LabelCheck):
    types = data_files.parquet_schema(path)
    unsupported = {name: str(arrow_type) for name, arrow_type in types.items()
                   if data_files.arrow_kind(arrow_type) == "unsupported"}
    if unsupported:
        name, arrow_type = next(iter(unsupported.items()))
        raise InputDataError(f"{path}: column '{name}' has type {arrow_type}, which a "
                             "tf.Example cannot hold (TFX converts every column); drop it or "
                             "store it as numbers or text")
    missing = [column for column in config.required_columns if column not in types]
    if missing:
        raise InputDataError(f"{path}: missing column(s) {missing} that the config needs "
                             f"(columns: {list(types)})")
    for column, arrow_type in types.items():
        kind = data_files.arrow_kind(arrow_type)
        wanted = typed.expect(column, kind)
        if wanted is not None:
            raise InputDataError(_parquet_kind_message(path, column, arrow_type, wanted))
        if kind is None:
            continue
        first = typed.first.setdefault(column, (str(arrow_type), path))
        if first[0] != str(arrow_type):
            raise InputDataError(
                f"{path}: column '{column}' changes type: {arrow_type} in this file, "
                f"{first[0]} in {first[1]}; every file must store a column with the same type")
    derive = config.label.derive
    read = sorted({*([label.column] if label.column else []),
                   *([derive.denominator] if derive else [])})
    label.start_file(path, "row")
    rows = underivable = 0
    for row_number, values in data_files.parquet_rows(path, columns=read):
        rows += 1
        if label.column is not None:
            label.check_values(values[label.column], data_files.arrow_kind(types[label.column]),
                               row_number)
        if derive and not positive_values(values[derive.denominator]):
            underivable += 1
    if rows == 0:
        raise InputDataError(f"{path}: file has no rows")
    return rows, underivable, DataFile(path=path, sha256=file_sha256(path), rows=rows,
                                       bytes=os.path.getsize(path))


def _parquet_kind_message(path: str, column: str, arrow_type, wanted: str) -> str:
    """A parquet column stored with the wrong type for the kind the schema or config wants: the
    first row whose value is not a number of that kind (or the first value) is named."""
    shown = ""
    for row_number, values in data_files.parquet_rows(path, columns=[column]):
        cell = values[column]
        if not cell:
            continue
        value = cell[0]
        if not _reads_as(value, wanted) or not shown:
            shown = f"; row {row_number} holds {value!r}"
            if not _reads_as(value, wanted):
                break
    fix = "store the column as " + ("integers" if wanted == INT else "numbers" if wanted == NUMBER
                                    else "floating point numbers (double)")
    return (f"{path}: column '{column}' must be {wanted}, but the file stores it as "
            f"{arrow_type}{shown}: {fix}")


def _reads_as(value, wanted: str) -> bool:
    try:
        number = float(value.decode("utf-8") if isinstance(value, bytes) else value)
    except (TypeError, ValueError, UnicodeDecodeError):
        return False
    return wanted != INT or (math.isfinite(number) and number == int(number))


def check_tfrecord(path: str, config: ProblemConfig, typed: TypedColumns,
                    label: LabelCheck):
    data_files.check_tfrecord_name(path)
    derive = config.label.derive
    text_columns = set(config.required_columns)
    label.start_file(path, "record")
    rows = underivable = 0
    for record, features in data_files.tfrecord_examples(path):
        rows += 1
        for column, (kind, values) in features.items():
            _check_feature(path, record, column, kind, values, typed,
                           column in text_columns)
        if label.column is not None:
            kind, values = features.get(label.column, (None, []))
            label.check_values(values, kind, record)
        if derive and not positive_values(features.get(derive.denominator, (None, []))[1]):
            underivable += 1
    if rows == 0:
        raise InputDataError(f"{path}: file holds no records")
    return rows, underivable, DataFile(path=path, sha256=file_sha256(path), rows=rows,
                                       bytes=os.path.getsize(path))


def _check_feature(path: str, record: int, column: str, kind: Optional[str], values: list,
                   typed: TypedColumns, needed: bool) -> None:
    if kind is None:
        typed.first.setdefault(column, (None, f"record {record}"))
        return
    first_kind, first_where = typed.first.get(column, (None, ""))
    wanted = typed.expect(column, kind)
    if wanted is not None:
        changed = (f"; the feature changes type here: {EXAMPLE_KINDS[first_kind]} in "
                   f"{first_where}" if first_kind is not None and first_kind != kind else "")
        raise InputDataError(f"{path}, record {record}: column '{column}' must be {wanted}, "
                             f"found {_sample(kind, values)}{changed}")
    if first_kind is None:
        typed.first[column] = (kind, f"record {record}")
    elif first_kind != kind:
        raise InputDataError(
            f"{path}, record {record}: column '{column}' changes type: "
            f"{_sample(kind, values)} here, {EXAMPLE_KINDS[first_kind]} in {first_where}; "
            "a feature must have the same kind in every record")
    if needed and kind == BYTES:
        for value in values:
            try:
                value.decode("utf-8")
            except UnicodeDecodeError as error:
                around = value[max(0, error.start - 20):error.end + 20]
                raise InputDataError(f"{path}, record {record}: column '{column}' is not "
                                     f"UTF-8 text ({error.reason} at {around!r})") from None


def _sample(kind: str, values: list) -> str:
    if not values:
        return f"an empty {EXAMPLE_KINDS[kind]}"
    return f"{EXAMPLE_KINDS[kind]} value {values[0]!r}"
