"""The preflight check of a CSV file (`mlpipe.local.preflight`): UTF-8 text, the header has the
columns the config needs, every line the header's number of fields, numeric columns hold numbers
of their kind (blank or a `data.missing_values` token allowed), the label checked row by row;
the file is hashed in the same read."""

import csv
import hashlib
import io
import math
from typing import Dict, Optional, Set

from mlpipe.config import ProblemConfig
from mlpipe.core.data_files import INT
from mlpipe.core.run_record import DataFile
from mlpipe.errors import InputDataError
from mlpipe.local.preflight_label import LabelCheck, positive

def check_csv_file(path: str, config: ProblemConfig, numeric_columns: Dict[str, str],
                label: LabelCheck):
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
                label: LabelCheck):
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
            if derive and not positive(row[index[derive.denominator]]):
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
