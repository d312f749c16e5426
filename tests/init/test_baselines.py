"""mlpipe.init.baselines: the linear and boosted models init compares (and bench_problems holds
the pipeline to), and the network shape init writes from them."""

import math
import random
import re

import numpy as np
import pytest

from mlpipe.init import baselines


def _rows(n, seed, target):
    """Rows of text cells: two numbers, a category, one blank cell in 23 of each feature."""
    rng = random.Random(seed)
    rows, y = [], []
    for i in range(n):
        x1, x2 = rng.uniform(-2, 2), rng.uniform(-2, 2)
        colour = rng.choice(["red", "green", "blue"])
        y.append(target(x1, x2, colour, rng))
        rows.append({"x1": "" if i % 23 == 1 else f"{x1:.4f}",
                     "x2": "" if i % 23 == 2 else f"{x2:.4f}",
                     "colour": "" if i % 23 == 3 else colour})
    return rows, y


def _linear_and_noisy(x1, x2, colour, rng):
    return 3 * x1 - 2 * x2 + (1.0 if colour == "red" else 0.0) + rng.gauss(0, 3)


def _linear_and_clean(x1, x2, colour, rng):
    return 3 * x1 - 2 * x2 + (1.0 if colour == "red" else 0.0) + rng.gauss(0, 0.3)


def _interacting(x1, x2, colour, rng):
    return 4 * x1 * x2 + 3 * math.sin(3 * x1) * (colour == "blue") + rng.gauss(0, 0.1)


def test_frame_reads_text_cells_with_blanks():
    table = baselines.frame([{"x": "1.5", "c": "a"}, {"x": "", "c": ""}, {"x": None, "c": None}],
                            numeric=["x"], categorical=["c"])
    assert table["x"].dtype.kind == "f" and table["x"].iloc[0] == 1.5
    assert table["x"].isna().tolist() == [False, True, True]
    assert table["c"].tolist()[0] == "a" and table["c"].isna().tolist() == [False, True, True]


def test_a_noisy_linear_table_gets_no_hidden_layer():
    rows, y = _rows(300, 0, _linear_and_noisy)
    shape = baselines.choose_shape("regression", lambda: (rows, y), ["x1", "x2"], ["colour"])
    assert shape.hidden_units == []
    assert "as good as boosted trees" in shape.why and "300 training rows" in shape.why
    linear, boosted = (float(value)
                       for value in re.findall(r"(?:linear|trees) ([\d.]+)", shape.why))
    assert linear <= boosted * (1 + baselines.LINEAR_RMSE_MARGIN)


def test_interactions_keep_the_hidden_layers():
    rows, y = _rows(2000, 1, _interacting)
    shape = baselines.choose_shape("regression", lambda: (rows, y), ["x1", "x2"], ["colour"])
    assert shape.hidden_units == baselines.DEEP_UNITS
    assert "boosted trees beat a linear model" in shape.why


def test_classes_keep_the_default_without_fitting():
    # Nothing is built or fitted for classes: the examples are never asked for.
    def examples():
        raise AssertionError("examples built for a classification table")
    shape = baselines.choose_shape("binary", examples, ["x"], [])
    assert shape.hidden_units == baselines.DEEP_UNITS and "classes" in shape.why


def test_large_tables_are_sampled(monkeypatch):
    monkeypatch.setattr(baselines, "MAX_ROWS", 150)
    rows, y = _rows(400, 2, _linear_and_noisy)
    shape = baselines.choose_shape("regression", lambda: (rows, y), ["x1", "x2"], ["colour"])
    assert "on 150 training rows" in shape.why


def test_too_few_rows_keep_the_default():
    rows, y = _rows(6, 3, _linear_and_noisy)
    shape = baselines.choose_shape("regression", lambda: (rows, y), ["x1", "x2"], ["colour"])
    assert shape.hidden_units == baselines.DEEP_UNITS and "too few rows" in shape.why


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_both_models_fit_and_score_every_task(task):
    rows, values = _rows(240, 4, _linear_and_clean)
    y = {"regression": np.array(values),
         "binary": (np.array(values) > 0).astype(int),
         "multiclass": np.digitize(values, [-3, 3])}[task]
    table = baselines.frame(rows, ["x1", "x2"], ["colour"])
    for build in (baselines.linear_model, baselines.boosted_model):
        model = build(task, ["x1", "x2"], ["colour"]).fit(table.iloc[:160], y[:160])
        value = baselines.score(task, model, table.iloc[160:], y[160:])
        if task == "regression":
            assert 0.2 < value < 0.5 * np.std(y)   # well below the label's spread
        else:
            assert 0.7 < value <= 1.0              # well above chance (0.5; about 0.4)
