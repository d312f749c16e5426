"""The preflight check of the label column (`mlpipe.local.preflight`), the same for every
format: by task (binary, multiclass, regression), row by row and once all files are read, and a
derived label computable in enough rows."""

import math
from typing import Dict, List, Optional, Tuple

from mlpipe.config import ProblemConfig
from mlpipe.core import data_files
from mlpipe.core.data_files import BYTES
from mlpipe.errors import InputDataError


class LabelCheck:
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


def positive(text: str) -> Optional[bool]:
    try:
        return float(text) > 0
    except ValueError:
        return False


def positive_values(values: list) -> bool:
    if not values:
        return False
    value = values[0]
    try:
        return float(value.decode("utf-8") if isinstance(value, bytes) else value) > 0
    except (TypeError, ValueError, UnicodeDecodeError):
        return False


def check_derivable(config: ProblemConfig, rows: int, underivable: int) -> None:
    """A derived label: computable in all but `label.max_underivable_fraction` of the rows."""
    if config.label.derive and rows:
        fraction = underivable / rows
        if fraction > config.label.max_underivable_fraction:
            rule = config.label.derive
            raise InputDataError(
                f"{config.data.path}: label '{config.label.name}' cannot be derived for "
                f"{underivable} of {rows} rows ({fraction:.1%}): column '{rule.denominator}' "
                f"must be > 0 to compute {rule.numerator} / {rule.denominator}; at most "
                f"{config.label.max_underivable_fraction:.1%} of rows may be underivable")
