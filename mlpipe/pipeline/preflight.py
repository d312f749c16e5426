"""Checks the input data before any TFX component starts, so bad input fails in a second with a
message naming the file, the column and the row, instead of deep inside a Beam job.

It reads the data once, streaming (memory stays flat on large files), in the format
`data.format` names (`mlpipe.core.data_files`: a file, a folder or a glob), and hashes each file
for the run's provenance record. The same checks hold for every format, each an
`InputDataError` (exit 2) raised before anything is written:

- the columns the config needs are there (a CSV header, a parquet schema, a feature of some
  tf.Example);
- a numeric column (INT or FLOAT in the curated schema; a numeric or bucketized feature of the
  config) holds numbers of that kind in every row: the first row where it does not is named
  with its value, and whether the column changed type there. A parquet column has one type per
  file: it must be of that kind, and of the same type in every file. A tf.Example feature
  carries its own kind: it must be the same in every record;
- the label: binary, 0/1 or a `positive_class` that occurs; multiclass, a value of
  `label.classes` in every row (`LabelConfig.class_index`), never blank, and no class seen in
  only one row (it could not be both trained on and evaluated); regression, a number in every
  row; a derived label computable in all but `max_underivable_fraction` of the rows;
- CSV only: UTF-8 text and the same number of fields as the header in every line.

Missing values. In a CSV every cell is text, and `data.missing_values` tokens (NA, null, ...)
mean "no value" in every column (the pipeline's CSV ExampleGen reads them as blank cells:
`mlpipe.components.csv_example_gen`). Parquet and TFRecord files are typed: a numeric column
cannot hold `NA` at all, and a missing value has its own spelling there (a null or a float NaN;
an absent feature or an empty value list), which TFX reads as missing. TFX would read a token in a
text column as a category like any other, and only the CSV ExampleGen blanks tokens, so with
`data.format` parquet or tfrecord a config that declares `data.missing_values` is refused here:
write missing values as nulls (or leave the feature out) and remove the tokens.

Data by span. When `data.path` carries a span spec (`{SPAN}`, `{YYYY}{MM}{DD}`), the check reads
the files of the span the run ingests (`mlpipe.pipeline.span_files.choose_span`: the newest, or
the one `--span` names), and names that span's path in its messages.

The curated schema, checked by ExampleValidator and the AnomalyGate inside the pipeline, remains
the full data contract; this is the fast first line for what would otherwise surface as a
stack trace.
"""

import csv
import dataclasses
import hashlib
import io
import math
import os
from typing import Dict, List, Optional, Set, Tuple

from mlpipe.config import ProblemConfig
from mlpipe.core import data_files
from mlpipe.core.data_files import BYTES, FLOAT, INT
from mlpipe.core.run_record import DataFile, file_sha256
from mlpipe.errors import InputDataError
from mlpipe.pipeline.span_files import SpanChoice, choose_span

_DATA_FILES = {"csv": "*.csv", "parquet": "*.parquet", "tfrecord": "*.tfrecord*"}
NUMBER = "a number"   # the kind asked of a numeric feature the schema does not call INT or FLOAT
_KIND_WORDS = {INT: "int64_list", FLOAT: "float_list", BYTES: "bytes_list"}


@dataclasses.dataclass
class DataSummary:
    files: List[str]
    rows: int
    underivable_labels: int
    contents: List[DataFile] = dataclasses.field(default_factory=list)  # per file: hash, rows
    span: Optional[SpanChoice] = None  # with data by span: the span checked


def check_input_data(config: ProblemConfig, numeric_columns: Dict[str, str],
                     span: Optional[SpanChoice] = None) -> DataSummary:
    """`numeric_columns`: column -> 'INT' or 'FLOAT', as the curated schema declares them.
    `span`: with data by span, the span the run ingests (default: the newest)."""
    if config.data.has_spans:
        span = span or choose_span(config.data.path)
        # Every check below reads, and names, the chosen span's files.
        config = config.model_copy(update={
            "data": config.data.model_copy(update={"path": span.path})})
    summary = _check(config, numeric_columns)
    summary.span = span
    return summary


def _check(config: ProblemConfig, numeric_columns: Dict[str, str]) -> DataSummary:
    data_format = config.data.format
    files = data_files.data_files(config.data.path)
    if data_format != "csv" and config.data.missing_values:
        raise InputDataError(
            f"{config.data.path}: data.missing_values {config.data.missing_values} applies to "
            f"CSV files only; {data_format} files are typed and spell a missing value their own "
            "way (a null; an absent feature or an empty value list), which TFX reads as "
            "missing, while it would read a token as text: write missing values that way and "
            "remove data.missing_values")
    for path in files:
        named = data_files.format_of(path)
        if named is not None and named != data_format:
            raise InputDataError(f"{path}: a {named} file by its name, but data.format is "
                                 f"{data_format}: set data.format: {named} (or point data.path "
                                 f"at the {data_format} files)")
    kinds = _numeric_kinds(config, numeric_columns)
    label = _LabelCheck(config)
    rows = underivable = 0
    contents = []
    typed = _TypedColumns(config, kinds)
    check = {"csv": lambda path: _check_file(path, config, kinds, label),
             "parquet": lambda path: _check_parquet(path, config, typed, label),
             "tfrecord": lambda path: _check_tfrecord(path, config, typed, label)}[data_format]
    for path in files:
        try:
            file_rows, file_underivable, content = check(path)
        except InputDataError as error:
            if os.path.isdir(config.data.path) and data_files.format_of(path) is None:
                pattern = os.path.join(config.data.path, _DATA_FILES[data_format])
                raise InputDataError(
                    f"{error} (data.path is a folder: TFX reads every file in it, hidden ones "
                    f"too; a glob such as {pattern} reads only the data files)") from None
            raise
        rows += file_rows
        underivable += file_underivable
        contents.append(content)
    if data_format == "tfrecord":
        typed.finish_tfrecord(config.data.path)
    label.finish(config.data.path)
    if config.label.derive and rows:
        fraction = underivable / rows
        if fraction > config.label.max_underivable_fraction:
            rule = config.label.derive
            raise InputDataError(
                f"{config.data.path}: label '{config.label.name}' cannot be derived for "
                f"{underivable} of {rows} rows ({fraction:.1%}): column '{rule.denominator}' "
                f"must be > 0 to compute {rule.numerator} / {rule.denominator}; at most "
                f"{config.label.max_underivable_fraction:.1%} of rows may be underivable")
    return DataSummary(files=files, rows=rows, underivable_labels=underivable, contents=contents)


def _numeric_kinds(config: ProblemConfig, numeric_columns: Dict[str, str]) -> Dict[str, str]:
    """Column -> INT, FLOAT (the schema's word) or NUMBER (a numeric or bucketized feature of the
    config that the schema does not type)."""
    kinds = dict(numeric_columns)
    for column in [*config.features.numeric, *config.features.bucketized]:
        kinds.setdefault(column, NUMBER)
    return kinds


# ---- CSV -------------------------------------------------------------------------------------

def _check_file(path: str, config: ProblemConfig, numeric_columns: Dict[str, str],
                label: "_LabelCheck"):
    try:
        return _check_rows(path, config, numeric_columns, label)
    except UnicodeDecodeError:
        line_number, error = _first_undecodable_line(path)
        around = error.object[max(0, error.start - 20):error.end + 20]
        raise InputDataError(f"{path}, line {line_number}: not UTF-8 text ({error.reason} at "
                             f"{around!r}); save the file as UTF-8") from None


def _first_undecodable_line(path: str):
    """(line number, the decode error) of the first line that is not UTF-8."""
    with open(path, "rb") as source:
        for line_number, line in enumerate(source, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as error:
                return line_number, error
    raise AssertionError(f"{path}: no undecodable line found on a second read")


def _check_rows(path: str, config: ProblemConfig, numeric_columns: Dict[str, str],
                label: "_LabelCheck"):
    with open(path, "rb") as raw:
        hashing = _HashingReader(raw)
        source = io.TextIOWrapper(io.BufferedReader(hashing, 1 << 16), encoding="utf-8",
                                  newline="")
        reader = csv.reader(source)
        header = next(reader, None)
        if not header:
            raise InputDataError(f"{path}: file is empty (expected a CSV header and rows)")
        missing = [column for column in config.required_columns if column not in header]
        if missing:
            raise InputDataError(f"{path}: missing column(s) {missing} that the config needs "
                                 f"(header has {header})")
        index = {column: header.index(column) for column in header}
        # (position, column, kind, the texts of the column already read as numbers): a column
        # repeats its values, and a set lookup is ~30x cheaper than parsing the text again.
        checked = [(index[column], column, kind, set())
                   for column, kind in numeric_columns.items() if column in index]
        derive = config.label.derive
        tokens = frozenset(config.data.missing_values)
        label.start_file(path, "line")
        label_at = index[label.column] if label.column is not None else None
        numbers_seen: Set[str] = set()
        rows = underivable = 0
        for line_number, row in enumerate(reader, start=2):
            if not row:
                continue
            rows += 1
            if len(row) != len(header):
                raise InputDataError(f"{path}, line {line_number}: {len(row)} fields, the header "
                                     f"has {len(header)}")
            if label_at is not None:
                label.check(row[label_at], line_number)
            for position, column, kind, numbers in checked:
                text = row[position]
                if text in numbers:
                    continue
                _check_number(text, kind, path, column, line_number, tokens, numbers_seen)
                if text and text not in tokens and len(numbers) < _REMEMBERED_NUMBERS:
                    numbers.add(text)  # _check_number raised unless it is a number of `kind`
            if derive and not _positive(row[index[derive.denominator]]):
                underivable += 1
        if rows == 0:
            raise InputDataError(f"{path}: file has a header but no data rows")
        hashing.read_to_end()
        return rows, underivable, DataFile(path=path, sha256=hashing.digest.hexdigest(),
                                           rows=rows, bytes=hashing.size)


class _HashingReader(io.RawIOBase):
    """A binary file that hashes what is read from it, so the check's one read also yields the
    file's content hash."""

    def __init__(self, raw):
        super().__init__()
        self._raw = raw
        self.digest = hashlib.sha256()
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        count = self._raw.readinto(buffer)
        if count:
            self.digest.update(memoryview(buffer)[:count])
            self.size += count
        return count

    def read_to_end(self) -> None:
        """Hashes whatever the CSV reader left unread (nothing once it reached the end)."""
        for chunk in iter(lambda: self._raw.read(1 << 20), b""):
            self.digest.update(chunk)
            self.size += len(chunk)


def _check_number(text: str, kind: str, path: str, column: str, line_number: int,
                  missing_values=frozenset(), numbers_seen: Optional[Set[str]] = None) -> None:
    """A CSV cell of a numeric column: blank, a declared token, or a number of `kind`.
    `numbers_seen`: the columns that held a number on an earlier line (the message then says
    the column changes type here)."""
    if text == "" or text in missing_values:
        return
    try:
        value = float(text)
    except ValueError:
        hint = (f" (if {text!r} means 'no value', declare it in data.missing_values)"
                if text.strip() in _MISSING_LOOKING else "")
        changed = ("; the column changes type here: the lines before hold numbers"
                   if numbers_seen is not None and column in numbers_seen else "")
        raise InputDataError(f"{path}, line {line_number}: column '{column}' must be "
                             f"{kind}, found {text!r}{hint}{changed}") from None
    if kind == INT and not (math.isfinite(value) and value == int(value)):
        raise InputDataError(f"{path}, line {line_number}: column '{column}' must be INT, "
                             f"found {text!r}")
    if numbers_seen is not None:
        numbers_seen.add(column)


# Distinct number texts remembered per column (bounded memory on a column of unique values).
_REMEMBERED_NUMBERS = 100_000

# Texts that usually stand for a missing value: named in the error when one is not declared.
_MISSING_LOOKING = frozenset({"NA", "N/A", "n/a", "na", "NaN", "nan", "NAN", "null", "NULL",
                              "Null", "None", "none", "NONE", "#N/A", "?", "-", ".", "missing"})


# ---- parquet and TFRecord --------------------------------------------------------------------

class _TypedColumns:
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


def _check_parquet(path: str, config: ProblemConfig, typed: _TypedColumns,
                   label: "_LabelCheck"):
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
        if derive and not _positive_values(values[derive.denominator]):
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


def _check_tfrecord(path: str, config: ProblemConfig, typed: _TypedColumns,
                    label: "_LabelCheck"):
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
        if derive and not _positive_values(features.get(derive.denominator, (None, []))[1]):
            underivable += 1
    if rows == 0:
        raise InputDataError(f"{path}: file holds no records")
    return rows, underivable, DataFile(path=path, sha256=file_sha256(path), rows=rows,
                                       bytes=os.path.getsize(path))


def _check_feature(path: str, record: int, column: str, kind: Optional[str], values: list,
                   typed: _TypedColumns, needed: bool) -> None:
    if kind is None:
        typed.first.setdefault(column, (None, f"record {record}"))
        return
    first_kind, first_where = typed.first.get(column, (None, ""))
    wanted = typed.expect(column, kind)
    if wanted is not None:
        changed = (f"; the feature changes type here: {_KIND_WORDS[first_kind]} in "
                   f"{first_where}" if first_kind is not None and first_kind != kind else "")
        raise InputDataError(f"{path}, record {record}: column '{column}' must be {wanted}, "
                             f"found {_sample(kind, values)}{changed}")
    if first_kind is None:
        typed.first[column] = (kind, f"record {record}")
    elif first_kind != kind:
        raise InputDataError(
            f"{path}, record {record}: column '{column}' changes type: "
            f"{_sample(kind, values)} here, {_KIND_WORDS[first_kind]} in {first_where}; "
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
        return f"an empty {_KIND_WORDS[kind]}"
    return f"{_KIND_WORDS[kind]} value {values[0]!r}"


# ---- the label -------------------------------------------------------------------------------

class _LabelCheck:
    """A label column, by task. binary: with `positive_class`, the class must occur; without,
    every value must be 0 or 1 (preprocessing_fn would otherwise read any other value as 0);
    a blank label is allowed (never positive). multiclass: every row holds one of
    `label.classes`, and every class that occurs does in two rows at least. regression: every
    row holds a number."""

    def __init__(self, config: ProblemConfig):
        self._label = config.label
        self.column = config.label.column
        self._tokens = frozenset(config.data.missing_values)
        self._path, self._unit, self._single = "", "line", False
        self._seen_positive = False
        self._classes: Dict[int, Tuple[int, str]] = {}  # class index -> (rows, where first)

    def start_file(self, path: str, unit: str) -> None:
        """`unit`: what a row is called in this file's messages (line, row, record)."""
        self._path, self._unit = path, unit
        self._single = unit == "record"   # a tf.Example's floats are float32

    def _where(self, number: int) -> str:
        return f"{self._path}, {self._unit} {number}"

    def check_values(self, values: list, kind: Optional[str], number: int) -> None:
        """A typed format's label: its value list (empty: blank) and kind."""
        if len(values) > 1:
            raise InputDataError(f"{self._where(number)}: label column '{self.column}' holds "
                                 f"{len(values)} values; a label is one value per row")
        if not values:
            return self.check("", number)
        if self._label.task == "regression" and kind == BYTES:
            raise InputDataError(
                f"{self._where(number)}: label column '{self.column}' holds the text "
                f"{values[0]!r}; a regression label must be stored as a number")
        try:
            text = data_files.value_text(values[0], kind, self._single)
        except UnicodeDecodeError:
            raise InputDataError(f"{self._where(number)}: label column '{self.column}' is not "
                                 f"UTF-8 text ({values[0]!r})") from None
        return self.check(text, number)

    def check(self, text: str, number: int) -> None:
        blank = text == "" or text in self._tokens
        task = self._label.task
        if task == "multiclass":
            self._check_class(text, blank, number)
        elif task == "regression":
            self._check_number(text, blank, number)
        elif not blank:
            self._check_binary(text, number)

    def _check_binary(self, text: str, number: int) -> None:
        if self._label.positive_class is not None:
            self._seen_positive = self._seen_positive or self._label.is_positive(text)
        elif not _is_zero_or_one(text):
            raise InputDataError(
                f"{self._where(number)}: label column '{self.column}' holds {text!r}; a label "
                "other than 0/1 needs label.positive_class (the value that means 1)")

    def _check_class(self, text: str, blank: bool, number: int) -> None:
        if blank:
            raise InputDataError(
                f"{self._where(number)}: label column '{self.column}' is blank: every row needs "
                "one of label.classes; remove the row or fill in its class")
        index = self._label.class_index(text)
        if index is None:
            raise InputDataError(
                f"{self._where(number)}: label column '{self.column}' holds {text!r}, which is "
                f"not one of label.classes {_shown(self._label.classes)}")
        rows, where = self._classes.get(index, (0, ""))
        self._classes[index] = (rows + 1, where or self._where(number))

    def _check_number(self, text: str, blank: bool, number: int) -> None:
        if blank:
            raise InputDataError(
                f"{self._where(number)}: label column '{self.column}' is blank: a regression "
                "label needs a number in every row; remove the row or fill it in")
        try:
            value = float(text)
        except ValueError:
            value = None
        if value is None or not math.isfinite(value):
            raise InputDataError(
                f"{self._where(number)}: label column '{self.column}' holds {text!r}; a "
                "regression label must be a (finite) number")

    def finish(self, data_path: str) -> None:
        if self.column is None:
            return
        if self._label.task == "binary" and self._label.positive_class is not None \
                and not self._seen_positive:
            raise InputDataError(
                f"{data_path}: label.positive_class {self._label.positive_class!r} never occurs "
                f"in column '{self.column}' (spell it as the data does)")
        if self._label.task == "multiclass":
            once = [(self._label.classes[index], where)
                    for index, (rows, where) in sorted(self._classes.items()) if rows == 1]
            if once:
                shown = "; ".join(f"{name!r} only at {where}" for name, where in once[:5])
                more = f" (and {len(once) - 5} more)" if len(once) > 5 else ""
                raise InputDataError(
                    f"{data_path}: label column '{self.column}': class(es) seen in one row "
                    f"only: {shown}{more}; a class needs two rows at least, one to train on "
                    "and one to evaluate: add rows of it, or remove it and its row")


def _shown(values: Optional[List[str]], limit: int = 10) -> str:
    values = values or []
    text = ", ".join(repr(value) for value in values[:limit])
    return f"[{text}{', ...' if len(values) > limit else ''}]"


def _is_zero_or_one(text: str) -> bool:
    try:
        return float(text) in (0.0, 1.0)
    except ValueError:
        return False


def _positive(text: str) -> Optional[bool]:
    try:
        return float(text) > 0
    except ValueError:
        return False


def _positive_values(values: list) -> bool:
    if not values:
        return False
    value = values[0]
    try:
        return float(value.decode("utf-8") if isinstance(value, bytes) else value) > 0
    except (TypeError, ValueError, UnicodeDecodeError):
        return False
