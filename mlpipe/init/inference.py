"""What `mlpipe init` decides from one read of a data file, each decision with its reason.

- missing-value tokens (NA, NaN, null, ...): texts that are the only non-numbers of an otherwise
  numeric column; declared in `data.missing_values` and read as blank everywhere;
- the task, from the label's distinct values (`--task` overrides, and is refused when the data
  does not fit it):
  two values of any kind -> binary, with the positive class named (1, true, yes; else the
  minority class; `--positive-class` overrides);
  text with 3 to min(50, rows / 10) values, or whole numbers with 3 to min(10, rows / 10)
  values (the rule that makes an integer feature categorical: codes) -> multiclass, every class
  listed in order of value;
  decimal numbers, or whole numbers with more values -> regression;
  text with more values is refused (an identifier or free text, not classes);
  every row needs a label: blank labels are refused with their count and first line;
- the columns left out: empty or mostly empty (more than half blank), constant, a row id (unique
  per row), almost unique text, and a likely label leak, a column that alone predicts the label
  almost perfectly: binary, AUC above 0.99 (on held-out rows for a category's positive rate, on
  every row for a number); multiclass, accuracy above 0.99 on held-out rows of the class each
  value (a category) or the nearest training value (a number) points to; regression, a number
  with |correlation| above 0.99, or a category whose values' mean label has R^2 above 0.98 on
  held-out rows;
- the feature kinds, from the types TFDV reads (the types CsvExampleGen writes): a float is
  numeric, a string categorical, an integer with at most 10 distinct values categorical (codes),
  else numeric. No column is bucketized: numeric features are z-scored with missing values
  imputed, and nothing in one read of the data shows buckets to be clearly better;
- the KPI, from the best constant answer on a fixed-seed held-out third of the rows (the eval
  weight of the default split): binary, the class prior scores AUC 0.5 and the majority class
  its share: a useful model ranks better than chance by a margin and is at least as accurate as
  any constant; multiclass, the majority class's accuracy plus a tenth of its errors; regression,
  the held-out mean's RMSE less 5% (about a tenth of the label's variance explained);
- a training budget fitted to the number of rows (enough gradient steps on a small table).

Pure Python on the cells as text: no TensorFlow, so these decisions are tested in milliseconds.
"""

import bisect
import csv
import dataclasses
import io
import math
import pathlib
import random
import re
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from mlpipe.core import data_files
from mlpipe.core.metrics import auc
from mlpipe.errors import BadInputError, InputDataError

# Texts that stand for "no value" when they are the only non-numbers of a numeric column.
MISSING_TOKENS = ("NA", "N/A", "n/a", "na", "NaN", "nan", "NAN", "null", "NULL", "Null", "None",
                  "none", "NONE", "#N/A", "?", "-", ".", "missing")
MOSTLY_EMPTY = 0.5            # more than this fraction of blank cells: left out
NEAR_UNIQUE = 0.9             # a text column with this many distinct values per present cell ...
NEAR_UNIQUE_MIN_VALUES = 20   # ... and at least this many: an identifier or free text
LEAK_AUC = 0.99               # a column that alone ranks the label better than this: a leak
LEAK_MIN_ROWS_PER_CLASS = 10  # fewer present rows of a class: too few to call a leak
CODE_MAX_VALUES = 10          # an integer column with at most this many values: categorical
AUC_MARGIN = 0.05             # the KPI floor: AUC of the class prior (0.5) plus this
TASKS = ("auto", "binary", "multiclass", "regression")
MULTICLASS_MAX_CLASSES = 50   # auto: text with at most this many values is classes ...
ROWS_PER_CLASS = 10           # ... and at most one class per this many rows (but 3 always)
MULTICLASS_MAX_FORCED = 1000  # --task multiclass: at most this many classes ...
FORCED_ROWS_PER_CLASS = 2     # ... and at least this many rows per class on average
# multiclass KPI: the majority class's accuracy plus this share of its errors. A flat margin
# (say +0.05) would be out of reach when one class holds 97% of the rows and trivial when it
# holds 30%; removing a tenth of the constant answer's errors asks the same of both.
ERROR_REDUCTION = 0.1
# regression KPI: the held-out mean's RMSE times (1 - this). 0.95 x RMSE is 0.9025 x its mean
# squared error: the model must explain about a tenth of the label's variance (R^2 ~ 0.1), the
# same demand as multiclass's tenth of the errors; more would refuse honest models of noisy
# targets, less would bless a model that barely moves off the mean.
RMSE_MARGIN = 0.05
LEAK_ACCURACY = 0.99          # multiclass: a column alone more accurate than this: a leak ...
LEAK_ERROR_REDUCTION = 0.9    # ... when it also removes this share of the majority's errors
LEAK_CORRELATION = 0.99       # regression: |correlation| above this (R^2 above its square)
LEAK_MIN_ROWS = 20            # regression: fewer rows (present, or held out): no leak check
CATEGORY_LEAK_VALUES = 50     # a number with at most this many values: judged as a category too
SPLIT = {"train": 2, "eval": 1}
SEED = 0
TARGET_STEPS = 600            # gradient steps the training budget aims at ...
LEARNING_RATE = 0.003         # ... at this rate (benchmarks/bench_problems.py: better than
                              # 300 steps at 0.01 on the taxi fare, penguins and the taxi tip)
ENSEMBLE = 3                  # networks averaged: one network's eval RMSE on the taxi fare
                              # varies by 0.04 (sd) from seed to seed
# Regression averages more: over seeds 0-2, eval RMSE of the taxi fare 2.78 [2.77-2.80] with
# 3 networks, 2.75 [2.73-2.76] with 5; the generated table 0.642 -> 0.638 (bench_problems.py).
REGRESSION_ENSEMBLE = 5
NUMERIC_BINS = 16             # piecewise-linear bins of numeric features ...
NUMERIC_BINS_MIN_ROWS = 1000  # ... from this many training rows (they overfit tiny tables)
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9-]{1,62}$")   # ProblemConfig.name
# Two-valued labels whose positive class is known by its spelling (compared in lower case).
KNOWN_PAIRS = (({"0", "1"}, "1"), ({"false", "true"}, "true"), ({"no", "yes"}, "yes"),
               ({"n", "y"}, "y"), ({"f", "t"}, "t"), ({"negative", "positive"}, "positive"))
_ID_WORDS = {"id", "key", "index", "idx", "uuid", "guid", "rowid", "row"}


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


@dataclasses.dataclass(frozen=True)
class LabelDecision:
    column: str
    name: str                  # label.name: the transformed label's key
    positive_class: Optional[str]   # binary only, as the other two
    negative_class: Optional[str]
    counts: Dict[str, int]     # binary, multiclass: class -> rows (regression: empty)
    why: str                   # binary: why this class is the positive one
    task: str = "binary"
    task_why: str = ""         # why this task: the values found, or --task
    classes: Optional[List[str]] = None   # multiclass: every class as spelled, in order of value
    distinct: int = 0          # distinct values of the label
    low: Optional[float] = None     # regression: the label's range and mean in the data
    high: Optional[float] = None
    mean: Optional[float] = None


@dataclasses.dataclass(frozen=True)
class Excluded:
    column: str
    reason: str


@dataclasses.dataclass(frozen=True)
class Baseline:
    """The best constant answer on a fixed-seed held-out part, and the KPI bound it gives:
    binary, the class prior; multiclass, the majority class; regression, the mean."""

    train_rows: int
    held_out_rows: int
    majority_class: Optional[str] = None   # binary, multiclass
    accuracy: Optional[float] = None       # always answering the held-out rows' majority class
    auc: Optional[float] = None            # binary: a constant score ranks nothing: 0.5
    auc_floor: Optional[float] = None      # binary
    accuracy_floor: Optional[float] = None  # binary: accuracy; multiclass: plus ERROR_REDUCTION
    task: str = "binary"
    mean: Optional[float] = None           # regression: the held-out rows' mean label ...
    rmse: Optional[float] = None           # ... and its RMSE there (their standard deviation)
    rmse_ceiling: Optional[float] = None   # regression: rmse x (1 - RMSE_MARGIN)


@dataclasses.dataclass(frozen=True)
class Budget:
    batch_size: int
    epochs: int
    why: str
    learning_rate: float = LEARNING_RATE
    ensemble: int = ENSEMBLE
    numeric_bins: int = 0
    bins_why: str = ""


@dataclasses.dataclass(frozen=True)
class Shape:
    """train.hidden_units, and why (mlpipe.init.baselines.choose_shape)."""

    hidden_units: List[int]
    why: str


@dataclasses.dataclass(frozen=True)
class Analysis:
    path: pathlib.Path
    rows: int
    header: List[str]
    label: LabelDecision
    missing_values: List[str]
    token_counts: Dict[str, Dict[str, int]]   # column -> token -> cells
    profiles: Dict[str, Profile]
    excluded: List[Excluded]
    kept: List[str]                            # candidate features, in file order
    baseline: Baseline
    budget: Budget
    format: str = "csv"                        # the data file's format (data.format)

    @property
    def excluded_columns(self) -> List[str]:
        return [item.column for item in self.excluded]


@dataclasses.dataclass(frozen=True)
class Features:
    numeric: List[str]
    categorical: List[str]
    why: Dict[str, str]   # column -> why this kind


# ---- reading ---------------------------------------------------------------------------------

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


# ---- deciding --------------------------------------------------------------------------------

def analyse(table: Table, label: str, task: str = "auto",
            positive_class: Optional[str] = None) -> Analysis:
    """Every decision that does not need TFDV's column types; BadInputError (exit 2) when the
    label cannot be used."""
    if label not in table.columns:
        raise InputDataError(f"{table.path}: no column '{label}' to use as the label (header: "
                             f"{', '.join(table.header)})")
    tokens, token_counts = missing_value_tokens(table)
    blanked = {name: _blanked(cells, tokens) for name, cells in table.columns.items()}
    decision = decide_label(table, blanked[label], label, task, positive_class)
    y = label_values(blanked[label], decision)
    train, held_out = split_rows(table.rows)
    profiles = {name: _profile(cells) for name, cells in blanked.items()}
    excluded, kept = [], []
    for name in table.header:
        if name == label:
            continue
        reason = (_plain_exclusion(name, blanked[name], profiles[name], table.rows)
                  or _task_leak(decision.task, blanked[name], profiles[name], y, train,
                                held_out, label))
        if reason:
            excluded.append(Excluded(name, reason))
        else:
            kept.append(name)
    if not kept:
        raise InputDataError(
            f"{table.path}: no column is left to learn from; every one was left out:\n" +
            "\n".join(f"  {item.column}: {item.reason}" for item in excluded))
    return Analysis(path=table.path, rows=table.rows, header=list(table.header), label=decision,
                    missing_values=tokens, token_counts=token_counts, profiles=profiles,
                    excluded=excluded, kept=kept,
                    baseline=baseline(blanked[label], decision, train, held_out),
                    budget=training_budget(len(train), decision.task),
                    format=getattr(table, "format", "csv"))


def missing_value_tokens(table: Table) -> Tuple[List[str], Dict[str, Dict[str, int]]]:
    """(tokens, column -> token -> cells): the known missing-value texts that are the only
    non-numbers of a column holding at least one number. None for Parquet or TFRecord data:
    their columns are typed and say "no value" with nulls (data.missing_values is CSV only)."""
    found: Dict[str, Dict[str, int]] = {}
    if getattr(table, "format", "csv") != "csv":
        return [], found
    for name, cells in table.columns.items():
        counts: Dict[str, int] = {}
        numbers = 0
        for cell in cells:
            if cell == "":
                continue
            if _number(cell) is not None:
                numbers += 1
            elif cell in MISSING_TOKENS:
                counts[cell] = counts.get(cell, 0) + 1
            else:
                counts = {}
                numbers = 0
                break
        if numbers and counts:
            found[name] = counts
    tokens = sorted({token for counts in found.values() for token in counts})
    return tokens, found


def decide_label(table: Table, values: List[str], column: str, task: str,
                 positive_class: Optional[str]) -> LabelDecision:
    """The label's task, and its classes or range, from its distinct values (missing-value
    tokens already blank). `task` 'auto' infers the task; any other must fit the values
    (BadInputError otherwise). Blank labels are refused, with their count and first line: every
    row needs a label (`mlpipe run`'s preflight check refuses a multiclass or regression label's
    blank rows too, and a binary one would read them as the negative class)."""
    if task not in TASKS:
        raise BadInputError(f"--task {task}: unknown task; use one of {', '.join(TASKS)}")
    counts = _label_counts(values)
    kind = _value_kind(counts)
    if task == "auto":
        task, task_why = _infer_task(table, column, counts, kind)
    else:
        _check_task(table, column, counts, kind, task)
        task_why = f"chosen with --task {task}"
    if positive_class is not None and task != "binary":
        raise BadInputError(f"--positive-class {positive_class!r}: names the class that is 1 of "
                            f"a binary label; column '{column}' is a {task} label "
                            f"({task_why})")
    _refuse_blank_labels(table, values, column, task)
    if task == "multiclass":
        _refuse_single_row_classes(table, values, column, counts)
        # In order of value (numbers as numbers, text by code point), not by frequency: the
        # model's scores come in this order, and a refreshed file whose class shares shift
        # keeps it.
        classes = (sorted(counts, key=float) if kind != "text" else sorted(counts))
        return LabelDecision(column=column, name=task_label_name(column, task, table.header),
                             positive_class=None, negative_class=None,
                             counts={value: counts[value] for value in classes}, why="",
                             task=task, task_why=task_why, classes=classes,
                             distinct=len(counts))
    if task == "regression":
        numbers = [float(value) for value in values]
        return LabelDecision(column=column, name=task_label_name(column, task, table.header),
                             positive_class=None, negative_class=None, counts={}, why="",
                             task=task, task_why=task_why, distinct=len(counts),
                             low=min(numbers), high=max(numbers),
                             mean=sum(numbers) / len(numbers))
    classes = sorted(counts)
    if positive_class is not None:
        if positive_class not in counts:
            raise BadInputError(f"--positive-class {positive_class!r}: not a value of column "
                                f"'{column}' (its values: {classes[0]!r}, {classes[1]!r})")
        positive, why = positive_class, "chosen with --positive-class"
    else:
        positive, why = _default_positive(counts)
    negative = classes[0] if classes[1] == positive else classes[1]
    return LabelDecision(column=column, name=label_name(column, positive, table.header),
                         positive_class=positive, negative_class=negative, counts=counts, why=why,
                         task="binary", task_why=task_why, distinct=2)


def _label_counts(values: List[str]) -> Dict[str, int]:
    """Label value -> rows, blanks left out. Numbers are one value whatever their spelling (1 and
    1.0: preprocessing_fn and the preflight check compare numbers), under the spelling most rows
    use."""
    counts: Dict[str, int] = {}
    for value in values:
        if value != "":
            counts[value] = counts.get(value, 0) + 1
    numbers = {value: _number(value) for value in counts}
    if any(number is None for number in numbers.values()) or \
            len(set(numbers.values())) == len(counts):
        return counts
    spellings: Dict[float, Dict[str, int]] = {}
    for value, count in counts.items():
        spellings.setdefault(numbers[value], {})[value] = count
    merged = {}
    for by_spelling in spellings.values():
        spelled = max(sorted(by_spelling), key=lambda value: by_spelling[value])
        merged[spelled] = sum(by_spelling.values())
    return merged


def _value_kind(counts: Dict[str, int]) -> str:
    """'text' (any value not a number), 'whole' (every value a whole number) or 'decimal'."""
    numbers = [_number(value) for value in counts]
    if not numbers or any(number is None for number in numbers):
        return "text"
    return "whole" if all(number.is_integer() for number in numbers) else "decimal"


def _class_cap(rows: int) -> int:
    """The most classes `auto` takes a label's values for: MULTICLASS_MAX_CLASSES, and one per
    ROWS_PER_CLASS rows (three on any table)."""
    return min(MULTICLASS_MAX_CLASSES, max(3, rows // ROWS_PER_CLASS))


def _infer_task(table: Table, column: str, counts: Dict[str, int], kind: str) -> Tuple[str, str]:
    """(task, why) from the label's distinct values; InputDataError when no task fits."""
    n = len(counts)
    if n < 2:
        raise InputDataError(f"{table.path}: label column '{column}' has {n} distinct "
                             f"value{'s' if n != 1 else ''}{_shown(counts)}: a label needs two "
                             "classes to learn from")
    if n == 2:
        return "binary", "two values"
    cap = _class_cap(table.rows)
    if kind == "decimal":
        return "regression", "numbers with decimals"
    if kind == "whole":
        codes = min(CODE_MAX_VALUES, cap)
        if n <= codes:
            return "multiclass", (f"3 to {codes} whole numbers are class codes, as in an "
                                  "integer feature")
        return "regression", f"more than {codes} whole numbers: a quantity, not class codes"
    if n <= cap:
        return "multiclass", f"3 to {cap} text values are classes, for {table.rows} rows"
    hint = (" If they are classes, say so with --task multiclass."
            if _fits_multiclass(n, table.rows) else "")
    raise InputDataError(f"{table.path}: label column '{column}' holds text with {n} distinct "
                         f"values{_shown(counts)}: too many to take for classes (at most {cap} "
                         f"for {table.rows} rows: at most {MULTICLASS_MAX_CLASSES}, and one per "
                         f"{ROWS_PER_CLASS} rows), and not numbers to predict.{hint}")


def _fits_multiclass(n: int, rows: int) -> bool:
    return 3 <= n <= MULTICLASS_MAX_FORCED and n * FORCED_ROWS_PER_CLASS <= rows


def _check_task(table: Table, column: str, counts: Dict[str, int], kind: str,
                task: str) -> None:
    """--task TASK must fit the label's values: BadInputError naming the column and what it
    holds otherwise."""
    n = len(counts)
    found = (f"label column '{column}' has {n} distinct value{'s' if n != 1 else ''}"
             f"{_shown(counts)}")
    if task == "binary" and n != 2:
        raise BadInputError(f"--task binary: {found}; a binary label has exactly two")
    if task == "multiclass" and n < 3:
        raise BadInputError(f"--task multiclass: {found}; a multiclass label has at least "
                            "three" + (" (two values: --task binary)" if n == 2 else ""))
    if task == "multiclass" and not _fits_multiclass(n, table.rows):
        raise BadInputError(f"--task multiclass: {found} in {table.rows} rows: too many to be "
                            f"classes (at most {MULTICLASS_MAX_FORCED}, and "
                            f"{FORCED_ROWS_PER_CLASS} rows per class on average)")
    if task == "regression" and kind == "text":
        texts = {value: count for value, count in counts.items() if _number(value) is None}
        raise BadInputError(f"--task regression: label column '{column}' holds text, not "
                            f"numbers ({sum(texts.values())} rows, e.g. "
                            f"{_shown(texts, 5)[2:-1]}); a regression label is a number")
    if task == "regression" and n < 2:
        raise BadInputError(f"--task regression: {found}; nothing to learn")


def _refuse_blank_labels(table: Table, values: List[str], column: str, task: str) -> None:
    blank_rows = [row for row, value in enumerate(values) if value == ""]
    if not blank_rows:
        return
    raw = table.columns[column]
    tokens = sorted({raw[row] for row in blank_rows if raw[row] != ""})
    read_as = (f" (including {', '.join(map(repr, tokens))}, a missing-value token)"
               if tokens else "")
    refused = ("" if task == "binary" else
               f" (`mlpipe run` refuses a {task} label's blank rows too)")
    # A parquet or TFRecord table's `lines` are row numbers.
    where = "line" if getattr(table, "format", "csv") == "csv" else "row"
    raise InputDataError(f"{table.path}: label column '{column}' is blank in "
                         f"{len(blank_rows)} row(s){read_as}, first on {where} "
                         f"{table.lines[blank_rows[0]]}: every row needs a label{refused}; "
                         "remove those rows or pick another column")


def _refuse_single_row_classes(table: Table, values: List[str], column: str,
                               counts: Dict[str, int]) -> None:
    """A class in one row only can be trained on or evaluated on, never both (`mlpipe run`'s
    preflight check refuses it too): refused here, before a config that cannot run is written."""
    single = sorted(value for value, count in counts.items() if count == 1)
    if not single:
        return
    row = next((row for row, value in enumerate(values) if value in single), None)
    where = "line" if getattr(table, "format", "csv") == "csv" else "row"
    at = f" (first on {where} {table.lines[row]})" if row is not None else ""
    raise InputDataError(f"{table.path}: label column '{column}': class(es) "
                         f"{', '.join(map(repr, single))} occur in one row only{at}: a class "
                         "needs rows to train on and to evaluate "
                         "on; remove those rows, merge the class into another, or pick another "
                         "column")


def _shown(counts: Dict[str, int], most: int = 8) -> str:
    """' (a, b, ... (60 in all))': the most frequent values first; '' when none."""
    if not counts:
        return ""
    values = sorted(counts, key=lambda value: (-counts[value], value))
    shown = ", ".join(repr(value) for value in values[:most])
    more = f", ... ({len(counts)} in all)" if len(counts) > most else ""
    return f" ({shown}{more})"


def label_values(values: List[str], decision: LabelDecision) -> list:
    """The label of each row as the model learns it: binary 1/0 (the rule of
    LabelConfig.is_positive), multiclass the class's index in `classes` (text as spelled, else
    the same number: LabelConfig.class_index), regression the number. Blank labels were
    refused."""
    if decision.task == "regression":
        return [float(value) for value in values]
    if decision.task == "binary":
        positive = decision.positive_class
        return [1 if value == positive or _same_number(value, positive) else 0
                for value in values]
    index: Dict[str, int] = {}
    for value in set(values):
        if value in decision.classes:
            index[value] = decision.classes.index(value)
        else:
            index[value] = next((i for i, name in enumerate(decision.classes)
                                 if _same_number(value, name)), -1)
    return [index[value] for value in values]


def _default_positive(counts: Dict[str, int]) -> Tuple[str, str]:
    lowered = {value.lower(): value for value in counts}
    for pair, positive in KNOWN_PAIRS:
        if set(lowered) == pair:
            return lowered[positive], f"{lowered[positive]!r} reads as the positive one"
    numbers = {value: _number(value) for value in counts}
    if all(number is not None for number in numbers.values()) and \
            sorted(numbers.values()) == [0.0, 1.0]:
        positive = next(value for value, number in numbers.items() if number == 1.0)
        return positive, f"{positive!r} reads as the positive one"
    first, second = sorted(counts)
    if counts[first] == counts[second]:
        return second, "both classes are equally frequent: the second in sorted order"
    minority = first if counts[first] < counts[second] else second
    return minority, "the minority class"


def label_name(column: str, positive: str, header: Sequence[str]) -> str:
    """`<column>_is_<positive>`, in lower case with `_` for anything else; never a column's
    name (the transformed label must not shadow a raw column)."""
    return _unshadowed(f"{_slug(column) or 'label'}_is_{_slug(positive) or 'positive'}", header)


def task_label_name(column: str, task: str, header: Sequence[str]) -> str:
    """multiclass `<column>_class` (the class's index), regression `<column>_value`; never a
    column's name."""
    suffix = "class" if task == "multiclass" else "value"
    return _unshadowed(f"{_slug(column) or 'label'}_{suffix}", header)


def _unshadowed(name: str, header: Sequence[str]) -> str:
    while name in header:
        name += "_label"
    return name


def problem_name(name: Optional[str], data_path) -> str:
    """--name as given (checked), else from the file name: `My Data.csv` -> `my-data`."""
    if name is not None:
        if not NAME_PATTERN.match(name):
            raise BadInputError(f"--name {name!r}: use 2-63 characters: lower-case letters, "
                                "digits and '-', starting with a letter")
        return name
    stem = re.sub(r"[^a-z0-9]+", "-", pathlib.Path(data_path).stem.lower()).strip("-")
    if not stem or not stem[0].isalpha():
        stem = f"problem-{stem}" if stem else "problem"
    stem = stem[:63].rstrip("-")
    return stem if NAME_PATTERN.match(stem) else "problem"


def training_examples(table: Table, analysis: Analysis) -> Tuple[List[Dict[str, str]], list]:
    """The training rows of `split_rows` as {kept column: cell} (missing-value tokens blanked),
    and their labels as the model learns them (`label_values`)."""
    train, _ = split_rows(table.rows)
    cells = {name: _blanked(table.columns[name], analysis.missing_values)
             for name in [*analysis.kept, analysis.label.column]}
    y = label_values(cells[analysis.label.column], analysis.label)
    rows = [{name: cells[name][row] for name in analysis.kept} for row in train]
    return rows, [y[row] for row in train]


def split_rows(rows: int) -> Tuple[List[int], List[int]]:
    """(training rows, held-out rows): a fixed-seed shuffle, held out in the eval weight of the
    default split (one third)."""
    order = list(range(rows))
    random.Random(SEED).shuffle(order)
    held = round(rows * SPLIT["eval"] / (SPLIT["train"] + SPLIT["eval"]))
    return sorted(order[held:]), sorted(order[:held])


def baseline(values: List[str], decision: LabelDecision, train: List[int],
             held_out: List[int]) -> Baseline:
    """The best constant answer on the held-out rows, and the KPI bound it gives.

    binary: a constant score (the class prior) ranks nothing: AUC 0.5. Its accuracy is that of
    always answering one class: the held-out part's majority class, the better of the two
    constant answers, so a model that clears the floor beats every constant.
    multiclass: the same majority class; the floor adds ERROR_REDUCTION of its errors.
    regression: the held-out rows' mean, the constant with the least squared error there (its
    RMSE is their standard deviation); the ceiling takes RMSE_MARGIN off that RMSE."""
    sizes = {"train_rows": len(train), "held_out_rows": len(held_out)}
    y = label_values(values, decision)
    if decision.task == "regression":
        held = [y[row] for row in held_out] or [0.0]
        mean = sum(held) / len(held)
        rmse = math.sqrt(sum((value - mean) ** 2 for value in held) / len(held))
        return Baseline(**sizes, task="regression", mean=mean, rmse=rmse,
                        rmse_ceiling=significant(rmse * (1 - RMSE_MARGIN), 4, math.floor))
    if decision.task == "multiclass":
        names = decision.classes
    else:   # binary: ties go to the first class in sorted order
        names = sorted([decision.negative_class, decision.positive_class])
        y = [names.index(decision.positive_class if value else decision.negative_class)
             for value in y]
    counts = [0] * len(names)
    for row in held_out:
        counts[y[row]] += 1
    majority = max(range(len(names)), key=lambda index: (counts[index], -index))
    accuracy = counts[majority] / max(1, len(held_out))
    if decision.task == "multiclass":
        return Baseline(**sizes, task="multiclass", majority_class=names[majority],
                        accuracy=accuracy, accuracy_floor=_ceil_3(
                            accuracy + ERROR_REDUCTION * (1.0 - accuracy)))
    return Baseline(**sizes, majority_class=names[majority], accuracy=accuracy, auc=0.5,
                    auc_floor=round(0.5 + AUC_MARGIN, 3), accuracy_floor=_ceil_3(accuracy))


def plot_range(low: float, high: float) -> Tuple[float, float]:
    """The label's range rounded outward to a tenth of its order of magnitude: 2713..6287 ->
    (2700, 6300); 0.013..0.987 -> (0.01, 0.99)."""
    if high <= low:
        high = low + 1.0
    exponent = math.floor(math.log10(high - low)) - 1
    step = 10.0 ** exponent
    places = max(0, -exponent)
    return (round(math.floor(low / step + 1e-9) * step, places),
            round(math.ceil(high / step - 1e-9) * step, places))


def significant(value: float, digits: int, direction=round) -> float:
    """`value` to `digits` significant digits, rounded by `direction` (math.floor, math.ceil or
    round)."""
    if value == 0 or not math.isfinite(value):
        return value
    places = digits - 1 - math.floor(math.log10(abs(value)))
    nudge = {math.floor: 1e-9, math.ceil: -1e-9}.get(direction, 0.0)
    scaled = direction(value * 10.0 ** places + nudge)
    return round(scaled / 10.0 ** places, max(0, places)) if places >= 0 else \
        float(scaled * 10 ** -places)


def _ceil_3(value: float) -> float:
    return math.ceil(value * 1000 - 1e-9) / 1000


def training_budget(train_rows: int, task: str = "binary") -> Budget:
    """A batch near 1/20 of the training rows (a power of two in [16, 512]), enough epochs for
    about TARGET_STEPS gradient steps (4 to 100), piecewise-linear bins for numeric features
    when the table is large enough, and the networks averaged (more for regression)."""
    batch = 2 ** round(math.log2(max(1.0, train_rows / 20)))
    batch = min(512, max(16, batch))
    steps = max(1, math.ceil(train_rows / batch))
    epochs = min(100, max(4, math.ceil(TARGET_STEPS / steps)))
    bins = NUMERIC_BINS if train_rows >= NUMERIC_BINS_MIN_ROWS else 0
    bins_why = (f"{train_rows} training rows: {bins} quantile bins per numeric feature" if bins
                else f"only {train_rows} training rows (fewer than {NUMERIC_BINS_MIN_ROWS}): "
                     "no bins, they would overfit")
    ensemble = REGRESSION_ENSEMBLE if task == "regression" else ENSEMBLE
    return Budget(batch_size=batch, epochs=epochs, numeric_bins=bins, bins_why=bins_why,
                  ensemble=ensemble,
                  why=f"about {train_rows} training rows: batches of {batch}, {epochs} epochs "
                      f"of {steps} steps ({epochs * steps} gradient steps)")


def choose_features(analysis: Analysis, column_types: Mapping[str, str]) -> Features:
    """Feature kinds of the kept columns from their types as TFDV reads them ('INT', 'FLOAT',
    'BYTES': the types CsvExampleGen writes)."""
    numeric, categorical, why = [], [], {}
    for name in analysis.kept:
        kind = column_types.get(name, "BYTES")
        profile = analysis.profiles[name]
        if kind == "FLOAT":
            numeric.append(name)
            why[name] = "numbers"
        elif kind == "INT" and profile.distinct > CODE_MAX_VALUES:
            numeric.append(name)
            why[name] = f"integers, {profile.distinct} distinct values"
        elif kind == "INT":
            categorical.append(name)
            why[name] = (f"integer codes: {profile.distinct} distinct values "
                         f"(at most {CODE_MAX_VALUES})")
        else:
            categorical.append(name)
            why[name] = f"text, {profile.distinct} distinct values"
    return Features(numeric=numeric, categorical=categorical, why=why)


# ---- helpers ---------------------------------------------------------------------------------

def _blanked(cells: List[str], tokens: Sequence[str]) -> List[str]:
    if not tokens:
        return cells
    tokens = set(tokens)
    return ["" if cell in tokens else cell for cell in cells]


def _number(text: str) -> Optional[float]:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _profile(cells: List[str]) -> Profile:
    present = [cell for cell in cells if cell != ""]
    numbers = [_number(cell) for cell in present]
    numeric = bool(present) and all(number is not None for number in numbers)
    integer = numeric and all(re.fullmatch(r"\s*[+-]?\d+\s*", cell) for cell in present)
    return Profile(blanks=len(cells) - len(present), distinct=len(set(present)),
                   numeric=numeric, integer=bool(integer),
                   first_value=present[0] if present else "")


def _plain_exclusion(name: str, cells: List[str], profile: Profile, rows: int) -> Optional[str]:
    present = rows - profile.blanks
    if present == 0:
        return "empty: no value in any row"
    if profile.blanks / rows > MOSTLY_EMPTY:
        return (f"mostly empty: {profile.blanks / rows:.0%} of rows blank "
                f"(more than {MOSTLY_EMPTY:.0%})")
    if profile.distinct == 1:
        also = f", blank in {profile.blanks} rows" if profile.blanks else ""
        return f"constant: always {profile.first_value!r}{also}"
    if profile.blanks == 0 and profile.distinct == rows and _looks_like_id(name, cells, profile):
        return f"row id: unique per row ({rows} distinct values)"
    if not profile.numeric and profile.distinct >= NEAR_UNIQUE * present and \
            profile.distinct >= NEAR_UNIQUE_MIN_VALUES:
        return (f"almost unique per row: {profile.distinct} distinct values in {present} rows "
                "(an identifier or free text)")
    return None


def _looks_like_id(name: str, cells: List[str], profile: Profile) -> bool:
    """A column unique per row is an id when it is text, or integers that count up (or down) or
    sit under an id-like name; unique decimals are measurements."""
    if not profile.numeric:
        return True
    if not profile.integer:
        return False
    words = set(re.split(r"[^a-z0-9]+", name.lower())) | {name.lower()}
    if words & _ID_WORDS or name.endswith(("Id", "ID")):
        return True
    values = [int(cell) for cell in cells]
    return values == sorted(values) or values == sorted(values, reverse=True)


def _task_leak(task: str, cells: List[str], profile: Profile, y: list, train: List[int],
               held_out: List[int], label: str) -> Optional[str]:
    """Why this column is a likely label leak, or None; `y`: label_values()."""
    leak = {"binary": _leak, "multiclass": _multiclass_leak,
            "regression": _regression_leak}[task]
    return leak(cells, profile, y, train, held_out, label)


def _leak(cells: List[str], profile: Profile, y: List[int], train: List[int],
          held_out: List[int], label: str) -> Optional[str]:
    """A column that alone ranks the label almost perfectly: for a category (any column with
    few values, or text), its positive rate on the training rows scored on the held-out rows;
    for a number, its value on every row where it is present (either direction)."""
    scores = []
    if not profile.numeric or profile.distinct <= CATEGORY_LEAK_VALUES:
        scores.append(_category_auc(cells, y, train, held_out))
    if profile.numeric:
        present = [row for row, cell in enumerate(cells) if cell != ""]
        values = [float(cells[row]) for row in present]
        labels = [y[row] for row in present]
        if min(sum(labels), len(labels) - sum(labels)) >= LEAK_MIN_ROWS_PER_CLASS:
            value = auc(labels, values)
            scores.append(max(value, 1.0 - value))
    best = max((score for score in scores if score is not None), default=None)
    if best is None or best <= LEAK_AUC:
        return None
    return (f"likely label leak: alone it predicts '{label}' with AUC {best:.3f} "
            f"(above {LEAK_AUC}); if it is known when predicting, add it to the features")


def _category_auc(cells: List[str], y: List[int], train: List[int],
                  held_out: List[int]) -> Optional[float]:
    held_labels = [y[row] for row in held_out]
    if min(sum(held_labels), len(held_labels) - sum(held_labels)) < LEAK_MIN_ROWS_PER_CLASS:
        return None
    totals: Dict[str, List[int]] = {}
    for row in train:
        counts = totals.setdefault(cells[row], [0, 0])
        counts[0] += y[row]
        counts[1] += 1
    prior = sum(y[row] for row in train) / max(1, len(train))
    rates = {value: positives / count for value, (positives, count) in totals.items()}
    return auc(held_labels, [rates.get(cells[row], prior) for row in held_out])


def _multiclass_leak(cells: List[str], profile: Profile, y: List[int], train: List[int],
                     held_out: List[int], label: str) -> Optional[str]:
    """A column whose value alone gives the class on held-out rows: the class most training
    rows with that value have (a category: text, or a number with few values), or the class of
    the nearest training value (a number), beats LEAK_ACCURACY and removes LEAK_ERROR_REDUCTION
    of the majority class's errors. Not judged with fewer than LEAK_MIN_ROWS_PER_CLASS held-out
    rows outside the majority class."""
    held = [y[row] for row in held_out]
    if not held:
        return None
    majority_rows = max(held.count(index) for index in set(held))
    if len(held) - majority_rows < LEAK_MIN_ROWS_PER_CLASS:
        return None
    predict = _class_predictor(cells, profile, y, train)
    accuracy = sum(1 for row in held_out if predict(cells[row]) == y[row]) / len(held)
    constant = majority_rows / len(held)
    if accuracy <= LEAK_ACCURACY or \
            accuracy - constant < LEAK_ERROR_REDUCTION * (1.0 - constant):
        return None
    return (f"likely label leak: alone it predicts '{label}' with accuracy {accuracy:.3f} on "
            f"held-out rows (above {LEAK_ACCURACY}; the majority class scores {constant:.3f}); "
            "if it is known when predicting, add it to the features")


def _class_predictor(cells: List[str], profile: Profile, y: List[int], train: List[int]):
    """cell -> class index, learnt from the training rows."""
    by_value: Dict[str, Dict[int, int]] = {}
    overall: Dict[int, int] = {}
    for row in train:
        counts = by_value.setdefault(cells[row], {})
        counts[y[row]] = counts.get(y[row], 0) + 1
        overall[y[row]] = overall.get(y[row], 0) + 1
    fallback = _most_rows(overall)
    lookup = {value: _most_rows(counts) for value, counts in by_value.items()}
    if not profile.numeric or profile.distinct <= CATEGORY_LEAK_VALUES:
        return lambda cell: lookup.get(cell, fallback)
    points = sorted((float(value), index) for value, index in lookup.items() if value != "")
    keys = [key for key, _ in points]

    def nearest(cell: str) -> int:
        if cell == "" or not keys:
            return lookup.get(cell, fallback)
        value = float(cell)
        at = bisect.bisect_left(keys, value)
        near = min((j for j in (at - 1, at) if 0 <= j < len(keys)),
                   key=lambda j: abs(keys[j] - value))
        return points[near][1]
    return nearest


def _most_rows(counts: Dict[int, int]) -> int:
    """The class with the most rows (ties: the first class)."""
    return max(sorted(counts), key=lambda index: counts[index]) if counts else 0


def _regression_leak(cells: List[str], profile: Profile, y: List[float], train: List[int],
                     held_out: List[int], label: str) -> Optional[str]:
    """A number whose correlation with the label is above LEAK_CORRELATION in either direction
    (on every row where it is present), or a category (text, or a number with few values) whose
    values' mean training label has R^2 above LEAK_CORRELATION^2 on the held-out rows."""
    if profile.numeric:
        present = [row for row, cell in enumerate(cells) if cell != ""]
        if len(present) >= LEAK_MIN_ROWS:
            r = correlation([float(cells[row]) for row in present], [y[row] for row in present])
            if r is not None and abs(r) > LEAK_CORRELATION:
                return (f"likely label leak: alone it predicts '{label}' with correlation "
                        f"{r:.3f} (|r| above {LEAK_CORRELATION}); if it is known when "
                        "predicting, add it to the features")
    if not profile.numeric or profile.distinct <= CATEGORY_LEAK_VALUES:
        r2 = _category_r2(cells, y, train, held_out)
        if r2 is not None and r2 > LEAK_CORRELATION ** 2:
            return (f"likely label leak: alone it predicts '{label}' with R^2 {r2:.3f} on "
                    f"held-out rows (its values' mean label; above {LEAK_CORRELATION ** 2:.4f}, "
                    f"a correlation of {LEAK_CORRELATION}); if it is known when predicting, "
                    "add it to the features")
    return None


def _category_r2(cells: List[str], y: List[float], train: List[int],
                 held_out: List[int]) -> Optional[float]:
    if len(held_out) < LEAK_MIN_ROWS or not train:
        return None
    sums: Dict[str, List[float]] = {}
    for row in train:
        total = sums.setdefault(cells[row], [0.0, 0])
        total[0] += y[row]
        total[1] += 1
    prior = sum(y[row] for row in train) / len(train)
    means = {value: total / count for value, (total, count) in sums.items()}
    held = [y[row] for row in held_out]
    held_mean = sum(held) / len(held)
    spread = sum((value - held_mean) ** 2 for value in held)
    if spread == 0:
        return None
    error = sum((y[row] - means.get(cells[row], prior)) ** 2 for row in held_out)
    return 1.0 - error / spread


def correlation(xs: Sequence[float], ys: Sequence[float]) -> Optional[float]:
    """Pearson's correlation; None when either side is constant."""
    n = len(xs)
    if n < 2:
        return None
    mean_x, mean_y = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mean_x) ** 2 for x in xs)
    syy = sum((y - mean_y) ** 2 for y in ys)
    if sxx == 0 or syy == 0:
        return None
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys))
    return max(-1.0, min(1.0, sxy / math.sqrt(sxx * syy)))


def _same_number(a: str, b: str) -> bool:
    first, second = _number(a), _number(b)
    return first is not None and first == second


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
