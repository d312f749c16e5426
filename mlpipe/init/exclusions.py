"""Which columns `mlpipe init` leaves out of the features, and why: empty or mostly empty,
constant, a row id, almost unique text, or a likely label leak (a column that alone predicts the
label almost perfectly; see `mlpipe.init.inference` for the rule of each task).
"""

import bisect
import math
import re
from typing import Dict, List, Optional, Sequence

from mlpipe.core.metrics import auc
from mlpipe.init.table import Profile

MOSTLY_EMPTY = 0.5            # more than this fraction of blank cells: left out
NEAR_UNIQUE = 0.9             # a text column with this many distinct values per present cell ...
NEAR_UNIQUE_MIN_VALUES = 20   # ... and at least this many: an identifier or free text
LEAK_AUC = 0.99               # a column that alone ranks the label better than this: a leak
LEAK_MIN_ROWS_PER_CLASS = 10  # fewer present rows of a class: too few to call a leak
LEAK_ACCURACY = 0.99          # multiclass: a column alone more accurate than this: a leak ...
LEAK_ERROR_REDUCTION = 0.9    # ... when it also removes this share of the majority's errors
LEAK_CORRELATION = 0.99       # regression: |correlation| above this (R^2 above its square)
LEAK_MIN_ROWS = 20            # regression: fewer rows (present, or held out): no leak check
CATEGORY_LEAK_VALUES = 50     # a number with at most this many values: judged as a category too
_ID_WORDS = {"id", "key", "index", "idx", "uuid", "guid", "rowid", "row"}


def plain_exclusion(name: str, cells: List[str], profile: Profile, rows: int) -> Optional[str]:
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


def task_leak(task: str, cells: List[str], profile: Profile, y: list, train: List[int],
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
