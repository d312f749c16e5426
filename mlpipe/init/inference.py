"""What `mlpipe init` decides from one read of a CSV file, each decision with its reason.

- missing-value tokens (NA, NaN, null, ...): texts that are the only non-numbers of an otherwise
  numeric column; declared in `data.missing_values` and read as blank everywhere;
- the task, from the label's distinct values: two -> binary, with the positive class named (1,
  true, yes; else the minority class; `--positive-class` overrides); anything else is refused:
  this version supports binary labels only;
- the columns left out: empty or mostly empty (more than half blank), constant, a row id (unique
  per row), almost unique text, and a likely label leak (a column that alone ranks the label with
  AUC above 0.99: on held-out rows for a category's positive rate, on every row for a number);
- the feature kinds, from the types TFDV reads (the types CsvExampleGen writes): a float is
  numeric, a string categorical, an integer with at most 10 distinct values categorical (codes),
  else numeric. No column is bucketized: numeric features are z-scored with missing values
  imputed, and nothing in one read of the data shows buckets to be clearly better;
- the KPI floor, from a trivial baseline on a fixed-seed held-out third of the rows (the eval
  weight of the default split): the class prior scores AUC 0.5, and always answering the
  majority class scores its share; a useful model must rank better than chance by a margin and
  be at least as accurate as any constant answer;
- a training budget fitted to the number of rows (enough gradient steps on a small table).

Pure Python on the cells as text: no TensorFlow, so these decisions are tested in milliseconds.
"""

import csv
import dataclasses
import io
import math
import pathlib
import random
import re
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

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
SPLIT = {"train": 2, "eval": 1}
SEED = 0
TARGET_STEPS = 300            # gradient steps the training budget aims at
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
    positive_class: str
    negative_class: str
    counts: Dict[str, int]     # class -> rows
    why: str                   # why this class is the positive one


@dataclasses.dataclass(frozen=True)
class Excluded:
    column: str
    reason: str


@dataclasses.dataclass(frozen=True)
class Baseline:
    """The class prior on a fixed-seed held-out part, and the KPI floor it gives."""

    train_rows: int
    held_out_rows: int
    majority_class: str
    accuracy: float        # always answering the held-out rows' majority class
    auc: float             # a constant score ranks nothing: 0.5
    auc_floor: float
    accuracy_floor: float


@dataclasses.dataclass(frozen=True)
class Budget:
    batch_size: int
    epochs: int
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
    """The whole CSV file, checked: InputDataError (exit 2) naming the file and line otherwise."""
    path = pathlib.Path(path)
    if path.is_dir():
        raise InputDataError(f"{path}: is a folder; --data takes one CSV file")
    if not path.is_file():
        raise InputDataError(f"{path}: no such file")
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
    y = [1 if value == decision.positive_class else 0 for value in blanked[label]]
    train, held_out = split_rows(table.rows)
    profiles = {name: _profile(cells) for name, cells in blanked.items()}
    excluded, kept = [], []
    for name in table.header:
        if name == label:
            continue
        reason = (_plain_exclusion(name, blanked[name], profiles[name], table.rows)
                  or _leak(blanked[name], profiles[name], y, train, held_out, label))
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
                    budget=training_budget(len(train)))


def missing_value_tokens(table: Table) -> Tuple[List[str], Dict[str, Dict[str, int]]]:
    """(tokens, column -> token -> cells): the known missing-value texts that are the only
    non-numbers of a column holding at least one number."""
    found: Dict[str, Dict[str, int]] = {}
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
    if task not in ("auto", "binary"):
        raise BadInputError(f"--task {task}: not supported by this version of mlpipe, which "
                            "supports binary labels only (a column with two values)")
    blank_rows = [line for line, value in zip(table.lines, values) if value == ""]
    counts: Dict[str, int] = {}
    for value in values:
        if value != "":
            counts[value] = counts.get(value, 0) + 1
    if len(counts) != 2:
        shown = ", ".join(repr(value) for value in sorted(counts, key=lambda v: -counts[v])[:8])
        more = f", ... ({len(counts)} in all)" if len(counts) > 8 else ""
        kind = ("multiclass or regression labels are not supported yet by this version of "
                "mlpipe (binary only)" if len(counts) > 2 else
                "a label needs two classes to learn from")
        raise InputDataError(f"{table.path}: label column '{column}' has {len(counts)} distinct "
                             f"value{'s' if len(counts) != 1 else ''} ({shown}{more}): {kind}")
    if blank_rows:
        raise InputDataError(f"{table.path}: label column '{column}' is blank in "
                             f"{len(blank_rows)} row(s), first on line {blank_rows[0]}: every "
                             "row needs a label; remove those rows or pick another column")
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
                         positive_class=positive, negative_class=negative, counts=counts, why=why)


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
    name = f"{_slug(column) or 'label'}_is_{_slug(positive) or 'positive'}"
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


def split_rows(rows: int) -> Tuple[List[int], List[int]]:
    """(training rows, held-out rows): a fixed-seed shuffle, held out in the eval weight of the
    default split (one third)."""
    order = list(range(rows))
    random.Random(SEED).shuffle(order)
    held = round(rows * SPLIT["eval"] / (SPLIT["train"] + SPLIT["eval"]))
    return sorted(order[held:]), sorted(order[:held])


def baseline(values: List[str], decision: LabelDecision, train: List[int],
             held_out: List[int]) -> Baseline:
    """A constant score (the class prior) ranks nothing: AUC 0.5. Its accuracy is that of
    always answering one class: the held-out part's majority class, the better of the two
    constant answers, so a model that clears the floor beats every constant."""
    counts = {decision.positive_class: 0, decision.negative_class: 0}
    for row in held_out:
        counts[values[row]] += 1
    majority = max(sorted(counts), key=lambda value: counts[value])
    accuracy = counts[majority] / max(1, len(held_out))
    return Baseline(train_rows=len(train), held_out_rows=len(held_out), majority_class=majority,
                    accuracy=accuracy, auc=0.5, auc_floor=round(0.5 + AUC_MARGIN, 3),
                    accuracy_floor=math.ceil(accuracy * 1000 - 1e-9) / 1000)


def training_budget(train_rows: int) -> Budget:
    """A batch near 1/20 of the training rows (a power of two in [16, 512]) and enough epochs
    for about TARGET_STEPS gradient steps (4 to 100)."""
    batch = 2 ** round(math.log2(max(1.0, train_rows / 20)))
    batch = min(512, max(16, batch))
    steps = max(1, math.ceil(train_rows / batch))
    epochs = min(100, max(4, math.ceil(TARGET_STEPS / steps)))
    return Budget(batch_size=batch, epochs=epochs,
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


def _leak(cells: List[str], profile: Profile, y: List[int], train: List[int],
          held_out: List[int], label: str) -> Optional[str]:
    """A column that alone ranks the label almost perfectly: for a category (any column with
    few values, or text), its positive rate on the training rows scored on the held-out rows;
    for a number, its value on every row where it is present (either direction)."""
    scores = []
    if not profile.numeric or profile.distinct <= 50:
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


def auc(labels: Sequence[int], scores: Sequence[float]) -> float:
    """ROC AUC by ranks (ties get their average rank); 0.5 when only one class is present."""
    positives = sum(labels)
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        return 0.5
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    ranks = [0.0] * len(scores)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and scores[order[end + 1]] == scores[order[start]]:
            end += 1
        for position in range(start, end + 1):
            ranks[order[position]] = (start + end) / 2.0 + 1.0
        start = end + 1
    positive_ranks = sum(rank for rank, label in zip(ranks, labels) if label)
    return (positive_ranks - positives * (positives + 1) / 2.0) / (positives * negatives)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
