"""Checks the input data before any TFX component starts, so bad input fails in a second with a
message naming the file, the column and the row, instead of deep inside a Beam job.

It reads the CSV once, streaming (memory stays flat on large files), and hashes each file in the
same read, for the run's provenance record. The curated schema, checked by ExampleValidator and
the AnomalyGate inside the pipeline, remains the full data contract; this is the fast first line
for what would otherwise surface as a stack trace.
"""

import csv
import dataclasses
import glob
import hashlib
import io
import math
import os
from typing import Dict, List, Optional

from mlpipe.config import ProblemConfig
from mlpipe.core.run_record import DataFile
from mlpipe.errors import InputDataError


@dataclasses.dataclass
class DataSummary:
    files: List[str]
    rows: int
    underivable_labels: int
    contents: List[DataFile] = dataclasses.field(default_factory=list)  # per file: hash, rows


def check_input_data(config: ProblemConfig, numeric_columns: Dict[str, str]) -> DataSummary:
    """`numeric_columns`: column -> 'INT' or 'FLOAT', as the curated schema declares them."""
    files = _csv_files(config.data.path)
    rows = underivable = 0
    contents = []
    label = _LabelCheck(config)
    for path in files:
        file_rows, file_underivable, content = _check_file(path, config, numeric_columns, label)
        rows += file_rows
        underivable += file_underivable
        contents.append(content)
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


def _csv_files(data_path: str) -> List[str]:
    if "://" in data_path:
        raise InputDataError(f"{data_path}: the local preflight check reads local files only")
    if not os.path.exists(data_path):
        raise InputDataError(f"{data_path}: data path does not exist")
    if os.path.isdir(data_path):
        files = sorted(path for path in glob.glob(os.path.join(data_path, "*"))
                       if os.path.isfile(path))
        if not files:
            raise InputDataError(f"{data_path}: data folder holds no files")
        return files
    return [data_path]


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
        checked = {column: kind for column, kind in numeric_columns.items() if column in index}
        derive = config.label.derive
        tokens = frozenset(config.data.missing_values)
        label.start_file(path, index)
        rows = underivable = 0
        for line_number, row in enumerate(reader, start=2):
            if not row:
                continue
            rows += 1
            if len(row) != len(header):
                raise InputDataError(f"{path}, line {line_number}: {len(row)} fields, the header "
                                     f"has {len(header)}")
            for column, kind in checked.items():
                _check_number(row[index[column]], kind, path, column, line_number, tokens)
            label.check(row, line_number)
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
                  missing_values=frozenset()) -> None:
    if text == "" or text in missing_values:
        return
    try:
        value = float(text)
    except ValueError:
        hint = (f" (if {text!r} means 'no value', declare it in data.missing_values)"
                if text.strip() in _MISSING_LOOKING else "")
        raise InputDataError(f"{path}, line {line_number}: column '{column}' must be {kind}, "
                             f"found {text!r}{hint}") from None
    if kind == "INT" and not (math.isfinite(value) and value == int(value)):
        raise InputDataError(f"{path}, line {line_number}: column '{column}' must be INT, "
                             f"found {text!r}")


# Texts that usually stand for a missing value: named in the error when one is not declared.
_MISSING_LOOKING = frozenset({"NA", "N/A", "n/a", "na", "NaN", "nan", "NAN", "null", "NULL",
                              "Null", "None", "none", "NONE", "#N/A", "?", "-", ".", "missing"})


class _LabelCheck:
    """A label column: with `positive_class`, the class must occur; without, every value must
    be 0 or 1 (preprocessing_fn would otherwise read any other value as 0)."""

    def __init__(self, config: ProblemConfig):
        self._label = config.label
        self._column = config.label.column
        self._tokens = frozenset(config.data.missing_values)
        self._path, self._at = "", None
        self._seen_positive = False

    def start_file(self, path: str, index: Dict[str, int]) -> None:
        self._path = path
        self._at = index[self._column] if self._column is not None else None

    def check(self, row: List[str], line_number: int) -> None:
        if self._at is None:
            return
        text = row[self._at]
        if text == "" or text in self._tokens:
            return
        if self._label.positive_class is not None:
            self._seen_positive = self._seen_positive or self._label.is_positive(text)
        elif not _is_zero_or_one(text):
            raise InputDataError(
                f"{self._path}, line {line_number}: label column '{self._column}' holds "
                f"{text!r}; a label other than 0/1 needs label.positive_class (the value that "
                "means 1)")

    def finish(self, data_path: str) -> None:
        if self._column is not None and self._label.positive_class is not None \
                and not self._seen_positive:
            raise InputDataError(
                f"{data_path}: label.positive_class {self._label.positive_class!r} never occurs "
                f"in column '{self._column}' (spell it as the data does)")


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
