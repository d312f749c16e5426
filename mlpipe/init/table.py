"""Reading the data file `mlpipe init` decides from: every cell as text, per column, checked.

A CSV file, or Parquet or TFRecord (tf.Example) data read as the pipeline's ExampleGen reads it;
blank cells, missing-value tokens read as blank (`blanked`), and each column's profile.
"""

import csv
import dataclasses
import io
import math
import pathlib
import re
from typing import Dict, List, Optional, Sequence

from mlpipe.core import data_files
from mlpipe.errors import InputDataError

@dataclasses.dataclass(frozen=True)
class Table:
    """A CSV file's cells as text, per column, data rows only (blank lines skipped)."""

    path: pathlib.Path
    header: List[str]
    columns: Dict[str, List[str]]
    lines: List[int]   # the file line each data row starts on (the header is line 1)
    # csv, parquet or tfrecord (the config's data.format); in a parquet or TFRecord table,
    # `lines` are row (record) numbers from 1.
    format: str = "csv"

    @property
    def rows(self) -> int:
        return len(self.lines)


@dataclasses.dataclass(frozen=True)
class Profile:
    """One column after missing-value tokens are blanked."""

    blanks: int
    distinct: int
    numeric: bool        # every present cell is a finite number
    integer: bool        # every present cell is an integer
    first_value: str     # the first present value ("" if none)


def read_table(path) -> Table:
    """The whole data, checked: InputDataError (exit 2) naming the file and line otherwise.

    A CSV file; or parquet or TFRecord (tf.Example) data, told by the names' extensions
    (.parquet, .pq; .tfrecord, .tfrecords, .tfrecord.gz, .gz): a file, a folder or a glob of
    them. Typed values are read as the pipeline's ExampleGen reads them
    (`mlpipe.core.data_files`) and written as a CSV cell would spell them; a missing value (a
    null, an absent feature, an empty value list) is a blank cell. `Table.format` says which
    format it was (the config's `data.format`); a typed table's `lines` are row (record)
    numbers, counted on across the files of a folder."""
    path = pathlib.Path(path)
    if path.is_dir() or data_files.is_glob(str(path)):
        files = data_files.data_files(str(path))
        data_format = data_files.format_of_files(str(path), files)
        if data_format == "csv":
            raise InputDataError(f"{path}: is a folder; --data takes one CSV file (or a folder "
                                 "of parquet or TFRecord files)")
        return _read_typed(path, files, data_format)
    if not path.is_file():
        raise InputDataError(f"{path}: no such file")
    data_format = data_files.format_of(str(path)) or "csv"
    if data_format != "csv":
        return _read_typed(path, [str(path)], data_format)
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[:error.start].count(b"\n") + 1
        around = raw[max(0, error.start - 20):error.end + 20]
        raise InputDataError(f"{path}, line {line}: not UTF-8 text ({error.reason} at "
                             f"{around!r}); save the file as UTF-8") from None
    if text.startswith("\ufeff"):
        raise InputDataError(f"{path}: starts with a byte-order mark, which TFX would read as "
                             "part of the first column's name; save it as UTF-8 without BOM")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if not header or all(name == "" for name in header):
            raise InputDataError(f"{path}: file is empty (expected a CSV header and rows)")
        _check_header(path, header)
        cells: List[List[str]] = [[] for _ in header]
        lines: List[int] = []
        start = reader.line_num + 1
        for row in reader:
            if row:
                if len(row) != len(header):
                    raise InputDataError(f"{path}, line {start}: {len(row)} fields, the header "
                                         f"has {len(header)}")
                for column, cell in zip(cells, row):
                    column.append(cell)
                lines.append(start)
            start = reader.line_num + 1
    except csv.Error as error:
        raise InputDataError(f"{path}, line {reader.line_num}: not readable as CSV: "
                             f"{error}") from None
    if not lines:
        raise InputDataError(f"{path}: file has a header but no data rows")
    return Table(path=path, header=list(header), columns=dict(zip(header, cells)), lines=lines)


def _read_typed(path: pathlib.Path, files: List[str], data_format: str) -> Table:
    """Parquet or TFRecord files -> a Table of text cells (see read_table). Parquet: every file
    has the first file's columns, in its order; TFRecord: the features of any record, in the
    order first seen, blank in a record without them."""
    header: List[str] = []
    columns: Dict[str, List[str]] = {}
    rows = 0
    for file in files:
        unit = "row" if data_format == "parquet" else "record"
        for number, features in _typed_records(file, data_format, header if rows else None):
            for name in features:
                if name not in columns:
                    header.append(name)
                    columns[name] = [""] * rows
            for name, column in columns.items():
                kind, values = features.get(name, (None, []))
                column.append(_typed_cell(file, unit, number, name, kind, values,
                                          single=data_format == "tfrecord"))
            rows += 1
    if rows == 0:
        raise InputDataError(f"{path}: no rows (the {data_format} data holds no "
                             f"{'rows' if data_format == 'parquet' else 'records'})")
    if data_format == "tfrecord":   # a tf.Example's features have no order: by name
        header = sorted(header)
        columns = {name: columns[name] for name in header}
    _check_header(path, header)
    return Table(path=path, header=header, columns=columns, lines=list(range(1, rows + 1)),
                 format=data_format)


def _typed_records(file: str, data_format: str, header: Optional[List[str]]):
    """(number, column -> (kind, values)) of each row of a parquet file or record of a TFRecord
    file. `header`: the columns of the files read before (a parquet file must have the same)."""
    if data_format == "tfrecord":
        data_files.check_tfrecord_name(file)
        yield from data_files.tfrecord_examples(file)
        return
    types = data_files.parquet_schema(file)
    names = list(types)
    _check_header(pathlib.Path(file), names)
    if header is not None and names != header:
        raise InputDataError(f"{file}: columns {names} differ from those of the files before "
                             f"({header}): every parquet file needs the same columns")
    kinds = {name: data_files.arrow_kind(arrow_type) for name, arrow_type in types.items()}
    for name, kind in kinds.items():
        if kind == "unsupported":
            raise InputDataError(f"{file}: column '{name}' has type {types[name]}, which a "
                                 "tf.Example cannot hold; drop it or store numbers or text")
    for number, values in data_files.parquet_rows(file):
        yield number, {name: (kinds[name], values[name]) for name in names}


def _typed_cell(file: str, unit: str, number: int, name: str, kind: Optional[str],
                values: list, single: bool) -> str:
    if not values:
        return ""
    if len(values) > 1:
        raise InputDataError(f"{file}, {unit} {number}: column '{name}' holds {len(values)} "
                             "values; mlpipe init reads one value per column (a table)")
    try:
        return data_files.value_text(values[0], kind, single)
    except UnicodeDecodeError:
        raise InputDataError(f"{file}, {unit} {number}: column '{name}' is not UTF-8 text "
                             f"({values[0][:40]!r})") from None


def _check_header(path: pathlib.Path, header: List[str]) -> None:
    for position, name in enumerate(header, start=1):
        if name.strip() == "":
            raise InputDataError(f"{path}: column {position} of the header has no name (a "
                                 "saved index column?): name it or remove it")
        if name != name.strip():
            raise InputDataError(f"{path}: column name {name!r} starts or ends with a space")
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise InputDataError(f"{path}: column(s) {repeated} appear more than once in the header")


def blanked(cells: List[str], tokens: Sequence[str]) -> List[str]:
    if not tokens:
        return cells
    tokens = set(tokens)
    return ["" if cell in tokens else cell for cell in cells]


def parse_number(text: str) -> Optional[float]:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def profile_of(cells: List[str]) -> Profile:
    present = [cell for cell in cells if cell != ""]
    numbers = [parse_number(cell) for cell in present]
    numeric = bool(present) and all(number is not None for number in numbers)
    integer = numeric and all(re.fullmatch(r"\s*[+-]?\d+\s*", cell) for cell in present)
    return Profile(blanks=len(cells) - len(present), distinct=len(set(present)),
                   numeric=numeric, integer=bool(integer),
                   first_value=present[0] if present else "")
