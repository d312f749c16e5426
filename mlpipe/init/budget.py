"""The yardsticks `mlpipe init` writes: the KPI bound from the best constant answer on held-out
rows, the label's plot range, and the training budget fitted to the number of rows.
"""

import dataclasses
import math
from typing import TYPE_CHECKING, List, Optional, Tuple

if TYPE_CHECKING:   # for annotations only: inference imports this module
    from mlpipe.init.inference import LabelDecision

AUC_MARGIN = 0.05             # the KPI floor: AUC of the class prior (0.5) plus this
# multiclass KPI: the majority class's accuracy plus this share of its errors. A flat margin
# (say +0.05) would be out of reach when one class holds 97% of the rows and trivial when it
# holds 30%; removing a tenth of the constant answer's errors asks the same of both.
ERROR_REDUCTION = 0.1
# regression KPI: the held-out mean's RMSE times (1 - this). 0.95 x RMSE is 0.9025 x its mean
# squared error: the model must explain about a tenth of the label's variance (R^2 ~ 0.1), the
# same demand as multiclass's tenth of the errors; more would refuse honest models of noisy
# targets, less would bless a model that barely moves off the mean.
RMSE_MARGIN = 0.05
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


def baseline(y: list, decision: "LabelDecision", train: List[int],
             held_out: List[int]) -> Baseline:
    """The best constant answer on the held-out rows, and the KPI bound it gives; `y`: the
    labels as the model learns them (inference.label_values).

    binary: a constant score (the class prior) ranks nothing: AUC 0.5. Its accuracy is that of
    always answering one class: the held-out part's majority class, the better of the two
    constant answers, so a model that clears the floor beats every constant.
    multiclass: the same majority class; the floor adds ERROR_REDUCTION of its errors.
    regression: the held-out rows' mean, the constant with the least squared error there (its
    RMSE is their standard deviation); the ceiling takes RMSE_MARGIN off that RMSE."""
    sizes = {"train_rows": len(train), "held_out_rows": len(held_out)}
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
