"""Checks the input data before any TFX component starts, so bad input fails in a second with a
message naming the file, the column and the row, instead of deep inside a Beam job.

It reads the CSV once, streaming (memory stays flat on large files). The curated schema, checked
by ExampleValidator and the AnomalyGate inside the pipeline, remains the full data contract; this
is the fast first line for what would otherwise surface as a stack trace.
"""

import csv
import dataclasses
import glob
import math
import os
from typing import Dict, List, Optional

from mlpipe.config import ProblemConfig
from mlpipe.errors import InputDataError


@dataclasses.dataclass
class DataSummary:
    files: List[str]
    rows: int
    underivable_labels: int


def check_input_data(config: ProblemConfig, numeric_columns: Dict[str, str]) -> DataSummary:
    """`numeric_columns`: column -> 'INT' or 'FLOAT', as the curated schema declares them."""
    files = _csv_files(config.data.path)
    rows = underivable = 0
    for path in files:
        file_rows, file_underivable = _check_file(path, config, numeric_columns)
        rows += file_rows
        underivable += file_underivable
    if config.label.derive and rows:
        fraction = underivable / rows
        if fraction > config.label.max_underivable_fraction:
            rule = config.label.derive
            raise InputDataError(
                f"{config.data.path}: label '{config.label.name}' cannot be derived for "
                f"{underivable} of {rows} rows ({fraction:.1%}): column '{rule.denominator}' "
                f"must be > 0 to compute {rule.numerator} / {rule.denominator}; at most "
                f"{config.label.max_underivable_fraction:.1%} of rows may be underivable")
    return DataSummary(files=files, rows=rows, underivable_labels=underivable)


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


def _check_file(path: str, config: ProblemConfig, numeric_columns: Dict[str, str]):
    try:
        return _check_rows(path, config, numeric_columns)
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


def _check_rows(path: str, config: ProblemConfig, numeric_columns: Dict[str, str]):
    with open(path, newline="", encoding="utf-8") as source:
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
        rows = underivable = 0
        for line_number, row in enumerate(reader, start=2):
            if not row:
                continue
            rows += 1
            if len(row) != len(header):
                raise InputDataError(f"{path}, line {line_number}: {len(row)} fields, the header "
                                     f"has {len(header)}")
            for column, kind in checked.items():
                _check_number(row[index[column]], kind, path, column, line_number)
            if derive and not _positive(row[index[derive.denominator]]):
                underivable += 1
        if rows == 0:
            raise InputDataError(f"{path}: file has a header but no data rows")
        return rows, underivable


def _check_number(text: str, kind: str, path: str, column: str, line_number: int) -> None:
    if text == "":
        return
    try:
        value = float(text)
    except ValueError:
        raise InputDataError(f"{path}, line {line_number}: column '{column}' must be {kind}, "
                             f"found {text!r}") from None
    if kind == "INT" and not (math.isfinite(value) and value == int(value)):
        raise InputDataError(f"{path}, line {line_number}: column '{column}' must be INT, "
                             f"found {text!r}")


def _positive(text: str) -> Optional[bool]:
    try:
        return float(text) > 0
    except ValueError:
        return False
