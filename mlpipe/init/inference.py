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
The jobs beside it: reading the table (`init.table`), the columns left out (`init.exclusions`),
the KPI bound and the training budget (`init.budget`); `analyse` composes them.
"""

import dataclasses
import pathlib
import random
import re
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from mlpipe.errors import BadInputError, InputDataError
from mlpipe.init.budget import Baseline, Budget, baseline, training_budget
from mlpipe.init.exclusions import plain_exclusion, task_leak
from mlpipe.init.table import Profile, Table, blanked, parse_number, profile_of

# Texts that stand for "no value" when they are the only non-numbers of a numeric column.
MISSING_TOKENS = ("NA", "N/A", "n/a", "na", "NaN", "nan", "NAN", "null", "NULL", "Null", "None",
                  "none", "NONE", "#N/A", "?", "-", ".", "missing")
CODE_MAX_VALUES = 10          # an integer column with at most this many values: categorical
TASKS = ("auto", "binary", "multiclass", "regression")
MULTICLASS_MAX_CLASSES = 50   # auto: text with at most this many values is classes ...
ROWS_PER_CLASS = 10           # ... and at most one class per this many rows (but 3 always)
MULTICLASS_MAX_FORCED = 1000  # --task multiclass: at most this many classes ...
FORCED_ROWS_PER_CLASS = 2     # ... and at least this many rows per class on average
SPLIT = {"train": 2, "eval": 1}
SEED = 0
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9-]{1,62}$")   # ProblemConfig.name
# Two-valued labels whose positive class is known by its spelling (compared in lower case).
KNOWN_PAIRS = (({"0", "1"}, "1"), ({"false", "true"}, "true"), ({"no", "yes"}, "yes"),
               ({"n", "y"}, "y"), ({"f", "t"}, "t"), ({"negative", "positive"}, "positive"))


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


def analyse(table: Table, label: str, task: str = "auto",
            positive_class: Optional[str] = None) -> Analysis:
    """Every decision that does not need TFDV's column types; BadInputError (exit 2) when the
    label cannot be used."""
    if label not in table.columns:
        raise InputDataError(f"{table.path}: no column '{label}' to use as the label (header: "
                             f"{', '.join(table.header)})")
    tokens, token_counts = missing_value_tokens(table)
    columns = {name: blanked(cells, tokens) for name, cells in table.columns.items()}
    decision = decide_label(table, columns[label], label, task, positive_class)
    y = label_values(columns[label], decision)
    train, held_out = split_rows(table.rows)
    profiles = {name: profile_of(cells) for name, cells in columns.items()}
    excluded, kept = [], []
    for name in table.header:
        if name == label:
            continue
        reason = (plain_exclusion(name, columns[name], profiles[name], table.rows)
                  or task_leak(decision.task, columns[name], profiles[name], y, train,
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
                    baseline=baseline(y, decision, train, held_out),
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
            if parse_number(cell) is not None:
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
    numbers = {value: parse_number(value) for value in counts}
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
    numbers = [parse_number(value) for value in counts]
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
        texts = {value: count for value, count in counts.items() if parse_number(value) is None}
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
    numbers = {value: parse_number(value) for value in counts}
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
    cells = {name: blanked(table.columns[name], analysis.missing_values)
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

def _same_number(a: str, b: str) -> bool:
    first, second = parse_number(a), parse_number(b)
    return first is not None and first == second


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
