"""`mlpipe init` on multiclass and regression labels, in pure Python (no TensorFlow): the task it
infers and the `--task` it refuses, the classes, the baseline and the KPI, the leaks, and the
config it writes (comments included), which loads with `load_config`."""

import collections
import math
import random
import re
import types

import pytest
import yaml

from mlpipe.config import load_config
from mlpipe.errors import BadInputError, InputDataError
from mlpipe.init import budget, inference, writer
from mlpipe.init.table import read_table
from tests.init.tables import multiclass_rows, penguin_rows, regression_rows, write_csv


def _table(tmp_path, rows, name="t.csv"):
    return read_table(write_csv(tmp_path / name, rows))


def _reasons(analysis):
    return {item.column: item.reason for item in analysis.excluded}


def _features(analysis):
    """Feature kinds from the profiles, standing in for TFDV's types."""
    kinds = {name: ("BYTES" if not profile.numeric else "INT" if profile.integer else "FLOAT")
             for name, profile in analysis.profiles.items()}
    return inference.choose_features(analysis, kinds)


def _written(tmp_path, analysis, name="problem"):
    """(the config text init writes, the raw YAML, the loaded config)."""
    output = tmp_path / "out"
    shape = inference.Shape([64, 32], "the default")
    text = writer.config_text(analysis, _features(analysis), shape, name,
                              data_ref=writer.data_reference(analysis.path, output),
                              config_ref=f"out/{name}.yaml", optional_columns=[])
    config_file, _ = writer.write_problem(output, name, text, "# a schema\n", force=False)
    return text, yaml.safe_load(text), load_config(config_file)


def _comments(text: str, keyword: str) -> list:
    return [match.group(1) for match in re.finditer(rf"^\s*# {keyword}: (.*)$", text, re.M)]


def _held_out_labels(table, column):
    _, held_out = inference.split_rows(table.rows)
    return [table.columns[column][row] for row in held_out]


# ---- multiclass ------------------------------------------------------------------------------

def test_three_text_classes(tmp_path):
    table = _table(tmp_path, multiclass_rows())
    analysis = inference.analyse(table, "species")
    label = analysis.label
    assert (label.task, label.name, label.positive_class) == ("multiclass", "species_class", None)
    assert label.classes == ["Adelie", "Chinstrap", "Gentoo"]
    assert label.counts == {"Adelie": 147, "Chinstrap": 155, "Gentoo": 148}
    assert label.task_why == "3 to 45 text values are classes, for 450 rows"
    assert set(_reasons(analysis)) == {"rowid", "year"}

    base = analysis.baseline
    held = _held_out_labels(table, "species")
    majority = max(label.classes, key=held.count)
    accuracy = held.count(majority) / len(held)
    assert (base.task, base.majority_class, base.held_out_rows) == ("multiclass", majority, 150)
    assert base.accuracy == pytest.approx(accuracy)
    # The floor: the majority's accuracy plus a tenth of its errors, rounded up.
    floor = accuracy + 0.1 * (1 - accuracy)
    assert floor <= base.accuracy_floor < floor + 0.001
    assert base.auc is None and base.rmse is None


def test_the_written_multiclass_config(tmp_path):
    analysis = inference.analyse(_table(tmp_path, multiclass_rows(), "penguins.csv"), "species")
    text, raw, config = _written(tmp_path, analysis, "penguins")
    assert raw["label"] == {"name": "species_class", "task": "multiclass", "column": "species",
                            "classes": ["Adelie", "Chinstrap", "Gentoo"]}
    assert _comments(text, "task") == [
        "multiclass: column 'species' has 3 values: 'Adelie' (147 rows), 'Chinstrap' (155 rows), "
        "'Gentoo' (148 rows); 3 to 45 text values are classes, for 450 rows"]
    assert "  classes: ['Adelie', 'Chinstrap', 'Gentoo']" in text.splitlines()
    assert "in order of value (numbers as numbers), not by frequency" in \
        " ".join(_comments(text, "classes"))
    base = analysis.baseline
    assert raw["evaluation"]["kpi"] == {"accuracy": {"min": base.accuracy_floor}}
    assert raw["evaluation"]["max_regression"] == {"accuracy": 0.02}
    assert raw["evaluation"]["main_metric"] == "accuracy"
    assert "plot_range" not in raw["evaluation"] and "fairness" not in raw["evaluation"]
    baseline = " ".join(_comments(text, "baseline"))
    assert f"always answering the majority class {base.majority_class!r} on 150 held-out rows" \
        in baseline and f"accuracy {base.accuracy:.3f}" in baseline
    floor = " ".join(_comments(text, "kpi floor"))
    assert f"accuracy at least {base.accuracy:.3f} + 0.1 x {1 - base.accuracy:.3f}" in floor
    assert "removes at least a tenth of the errors of any constant answer" in floor
    assert config.label.task == "multiclass" and config.label.classes == raw["label"]["classes"]
    assert config.evaluation.main_metric == "accuracy"
    assert "positive class" not in text and "positive_class" not in text


def test_four_integer_classes_are_quoted_as_spelled(tmp_path):
    table = _table(tmp_path, multiclass_rows(n=400, labels=(1, 2, 3, 4)))
    analysis = inference.analyse(table, "species")
    assert analysis.label.task == "multiclass"
    assert analysis.label.classes == ["1", "2", "3", "4"]
    assert analysis.label.task_why == ("3 to 10 whole numbers are class codes, as in an integer "
                                       "feature")
    text, raw, config = _written(tmp_path, analysis)
    assert "  classes: ['1', '2', '3', '4']" in text.splitlines()
    assert config.label.classes == ["1", "2", "3", "4"]


def test_classes_in_order_of_value_not_of_frequency(tmp_path):
    numbers = _table(tmp_path, multiclass_rows(n=300, labels=(10, 2, 33), shares=(1, 1, 5)))
    assert inference.analyse(numbers, "species").label.classes == ["2", "10", "33"]
    text = _table(tmp_path, multiclass_rows(n=300, labels=("b", "c", "a"), shares=(5, 1, 1)),
                  "text.csv")
    label = inference.analyse(text, "species").label
    assert label.classes == ["a", "b", "c"] and label.counts["b"] > label.counts["a"]


def test_one_number_spelled_two_ways_is_one_class(tmp_path):
    rows = multiclass_rows(n=300, labels=(1, 2, 3))
    for i, row in enumerate(rows):
        if row["species"] == 2 and i % 3 == 0:
            row["species"] = "2.0"
    analysis = inference.analyse(_table(tmp_path, rows), "species")
    assert analysis.label.classes == ["1", "2", "3"]
    assert sum(analysis.label.counts.values()) == 300


def test_a_multiclass_leak_by_category_and_by_number(tmp_path):
    rows = multiclass_rows(leak=True)
    rng = random.Random(1)
    for row in rows:   # a number with many values, in a range of its own per class
        k = ["Adelie", "Chinstrap", "Gentoo"].index(row["species"])
        row["code"] = f"{k * 100 + rng.uniform(0, 50):.2f}"
    analysis = inference.analyse(_table(tmp_path, rows), "species")
    reasons = _reasons(analysis)
    for column in ("tag", "code"):
        assert reasons[column].startswith("likely label leak: alone it predicts 'species' with "
                                          "accuracy 1.000 on held-out rows (above 0.99; the "
                                          "majority class scores 0.3")
    # The honest measurements overlap between the classes: they stay.
    assert {"island", "bill_length_mm", "flipper_length_mm", "body_mass_g", "sex"} <= \
        set(analysis.kept)


def test_no_multiclass_leak_when_one_class_holds_nearly_every_row(tmp_path):
    """A column that says nothing of the class is right as often as the majority class: above
    0.99 here, yet it removes none of the majority's errors, so it is no leak."""
    rows = multiclass_rows(n=6000, shares=(0.992, 0.004, 0.004))
    for row in rows:
        row["tag"] = "same" if row["rowid"] % 50 else "other"
    table = _table(tmp_path, rows)
    held = _held_out_labels(table, "species")
    assert held.count("Adelie") / len(held) > 0.99 and len(held) - held.count("Adelie") >= 10
    analysis = inference.analyse(table, "species")
    assert "tag" in analysis.kept


# ---- regression ------------------------------------------------------------------------------

def test_a_decimal_target_with_blank_features(tmp_path):
    table = _table(tmp_path, regression_rows())
    analysis = inference.analyse(table, "mass_kg")
    label = analysis.label
    assert (label.task, label.name, label.classes) == ("regression", "mass_kg_value", None)
    assert label.task_why == "numbers with decimals"
    values = [float(value) for value in table.columns["mass_kg"]]
    assert (label.low, label.high) == (min(values), max(values))
    # Blanks and NA tokens in the features are missing values, not reasons to leave them out.
    assert analysis.missing_values == ["NA"]
    assert set(_reasons(analysis)) == {"rowid", "year"}
    assert {"island", "bill_length_mm", "flipper_length_mm", "sex", "mass_lb"} == \
        set(analysis.kept)

    base = analysis.baseline
    held = [float(value) for value in _held_out_labels(table, "mass_kg")]
    mean = sum(held) / len(held)
    rmse = math.sqrt(sum((value - mean) ** 2 for value in held) / len(held))
    assert (base.task, base.held_out_rows) == ("regression", 133)
    assert base.mean == pytest.approx(mean) and base.rmse == pytest.approx(rmse)
    # The ceiling: 5% under the mean's RMSE, rounded down to 4 significant digits.
    assert 0.95 * rmse - 0.0001 < base.rmse_ceiling <= 0.95 * rmse
    assert base.accuracy is None and base.majority_class is None


def test_the_written_regression_config(tmp_path):
    analysis = inference.analyse(_table(tmp_path, regression_rows(), "mass.csv"), "mass_kg")
    text, raw, config = _written(tmp_path, analysis, "mass")
    label, base = analysis.label, analysis.baseline
    assert raw["label"] == {"name": "mass_kg_value", "task": "regression", "column": "mass_kg"}
    task = _comments(text, "task")[0]
    assert task.startswith(f"regression: column 'mass_kg' has {label.distinct} distinct numbers "
                           f"from {label.low} to {label.high} (mean ")
    assert task.endswith("); numbers with decimals")
    evaluation = raw["evaluation"]
    assert evaluation["kpi"] == {"rmse": {"max": base.rmse_ceiling}}
    assert evaluation["main_metric"] == "rmse"
    assert evaluation["max_regression"]["rmse"] == pytest.approx(0.02 * base.rmse, rel=0.05)
    low, high = evaluation["plot_range"]
    assert low <= label.low < label.high <= high
    assert high - low < 1.2 * (label.high - label.low)
    assert f"({label.low} to {label.high}), rounded outward" in _comments(text, "plot range")[0]
    ceiling = " ".join(_comments(text, "kpi ceiling"))
    assert f"RMSE at most (1 - 0.05) x {budget.significant(base.rmse, 4)}" in ceiling
    assert "explains about a tenth of the label's variance" in ceiling
    baseline = " ".join(_comments(text, "baseline"))
    assert "always predicting the held-out rows' mean" in baseline
    assert f"RMSE {budget.significant(base.rmse, 4)} (their standard deviation" in baseline
    assert "positive_class" not in text and "classes:" not in text
    assert config.label.task == "regression"
    assert config.evaluation.plot_range == [low, high]
    assert config.evaluation.main_metric == "rmse"
    assert set(config.features.numeric) == {"bill_length_mm", "flipper_length_mm"}
    assert set(config.features.categorical) == {"island", "sex", "mass_lb"}


def test_many_whole_numbers_are_a_quantity(tmp_path):
    rows = regression_rows(n=300)
    for row in rows:
        row["mass_kg"] = round(float(row["mass_kg"]) * 10)      # about 25 distinct integers
    analysis = inference.analyse(_table(tmp_path, rows), "mass_kg")
    assert analysis.label.task == "regression"
    assert analysis.label.task_why == "more than 10 whole numbers: a quantity, not class codes"


def test_a_regression_leak_by_number(tmp_path):
    analysis = inference.analyse(_table(tmp_path, regression_rows(leak=True)), "mass_kg")
    assert _reasons(analysis)["mass_lb"] == (
        "likely label leak: alone it predicts 'mass_kg' with correlation 1.000 (|r| above "
        "0.99); if it is known when predicting, add it to the features")
    # The honest features predict it only in part: they stay.
    assert set(analysis.kept) == {"island", "bill_length_mm", "flipper_length_mm", "sex"}


def test_a_negative_correlation_is_a_leak_too(tmp_path):
    rows = regression_rows()
    for row in rows:
        row["room"] = f"{100 - 3 * float(row['mass_kg']):.4f}"
    reasons = _reasons(inference.analyse(_table(tmp_path, rows), "mass_kg"))
    assert reasons["room"].startswith("likely label leak: alone it predicts 'mass_kg' with "
                                      "correlation -1.000")


def test_a_category_that_spells_the_target_is_a_leak(tmp_path):
    rows = regression_rows()
    for i, row in enumerate(rows):
        row["mass_kg"] = 20 + i % 15                         # 15 whole numbers: regression
        row["spelled"] = f"v{row['mass_kg']}"
    analysis = inference.analyse(_table(tmp_path, rows), "mass_kg")
    assert analysis.label.task == "regression"
    assert _reasons(analysis)["spelled"].startswith(
        "likely label leak: alone it predicts 'mass_kg' with R^2 1.000 on held-out rows (its "
        "values' mean label; above 0.9801, a correlation of 0.99)")


def test_plot_range_rounds_outward():
    assert budget.plot_range(2713, 6287) == (2700, 6300)
    assert budget.plot_range(0.013, 0.987) == (0.01, 0.99)
    assert budget.plot_range(-3.27, 12.448) == (-4, 13)
    assert budget.plot_range(0.3, 0.7) == (0.3, 0.7)


def test_significant_digits():
    assert budget.significant(771.86, 4, math.floor) == 771.8
    assert budget.significant(123456.0, 4, math.floor) == 123400.0
    assert budget.significant(0.0123456, 2) == 0.012
    assert budget.significant(0.4289999999, 4, math.floor) == 0.4289
    assert budget.significant(0.1 * 3, 4, math.ceil) == 0.3       # 0.30000000000000004


# ---- --task and what it refuses --------------------------------------------------------------

@pytest.fixture
def penguins(tmp_path):
    return _table(tmp_path, penguin_rows(), "penguins.csv")


@pytest.mark.parametrize("rows, label, task, message", [
    (penguin_rows(n=60), "species", "multiclass",
     "--task multiclass: label column 'species' has 2 distinct values ('Adelie', 'Gentoo'); a "
     "multiclass label has at least three (two values: --task binary)"),
    (multiclass_rows(n=90), "species", "binary",
     "--task binary: label column 'species' has 3 distinct values ('Adelie', 'Gentoo', "
     "'Chinstrap'); a binary label has exactly two"),
    (multiclass_rows(n=90), "species", "regression",
     "--task regression: label column 'species' holds text, not numbers (90 rows, e.g. "
     "'Adelie', 'Gentoo', 'Chinstrap'); a regression label is a number"),
    (regression_rows(n=90), "mass_kg", "multiclass",
     "--task multiclass: label column 'mass_kg' has 87 distinct values ('4.188', "),
])
def test_a_task_the_label_does_not_fit_is_refused(tmp_path, rows, label, task, message):
    table = _table(tmp_path, rows)
    with pytest.raises(BadInputError) as caught:
        inference.analyse(table, label, task=task)
    assert str(caught.value).startswith(message)


def test_too_many_classes_for_the_rows_is_refused_with_the_rule(tmp_path):
    with pytest.raises(BadInputError, match=r"in 90 rows: too many to be classes \(at most 1000, "
                                            r"and 2 rows per class on average\)"):
        inference.analyse(_table(tmp_path, regression_rows(n=90)), "mass_kg", task="multiclass")


def test_task_overrides_that_fit(tmp_path):
    four = _table(tmp_path, multiclass_rows(n=400, labels=(1, 2, 3, 4)))
    label = inference.analyse(four, "species", task="regression").label
    assert (label.task, label.task_why, label.low, label.high) == (
        "regression", "chosen with --task regression", 1.0, 4.0)

    rows = regression_rows(n=300)
    for row in rows:
        row["mass_kg"] = round(float(row["mass_kg"]) * 10)
    # A class in one row only is refused (test_a_class_in_one_row_only_is_refused...).
    counts = collections.Counter(row["mass_kg"] for row in rows)
    rows = [row for row in rows if counts[row["mass_kg"]] > 1]
    quantity = _table(tmp_path, rows, "quantity.csv")
    label = inference.analyse(quantity, "mass_kg", task="multiclass").label
    assert label.task == "multiclass" and len(label.classes) > 10
    assert label.classes == sorted(label.classes, key=int)

    analysis = inference.analyse(_table(tmp_path, penguin_rows(), "p.csv"), "species",
                                 task="binary")
    assert analysis.label.positive_class == "Gentoo"
    text, _, _ = _written(tmp_path, analysis)
    assert _comments(text, "task")[0].endswith("; chosen with --task binary")


def test_text_with_many_values_may_be_classes_with_task(tmp_path):
    rows = multiclass_rows(n=300)
    for i, row in enumerate(rows):
        row["species"] = f"s{i % 40}"
    table = _table(tmp_path, rows)
    with pytest.raises(InputDataError, match=r"too many to take for classes \(at most 30 for 300 "
                                             r"rows.*say so with --task multiclass"):
        inference.analyse(table, "species")
    label = inference.analyse(table, "species", task="multiclass").label
    assert len(label.classes) == 40 and label.task_why == "chosen with --task multiclass"


def test_positive_class_is_for_binary_labels(tmp_path):
    table = _table(tmp_path, multiclass_rows(n=90))
    with pytest.raises(BadInputError, match=r"--positive-class 'Gentoo': names the class that is "
                                            r"1 of a binary label; column 'species' is a "
                                            r"multiclass label \(3 to"):
        inference.analyse(table, "species", positive_class="Gentoo")


@pytest.mark.parametrize("rows, column, task", [
    (multiclass_rows(n=120), "species", "multiclass"),
    (regression_rows(n=120), "mass_kg", "regression"),
])
def test_blank_labels_are_refused_with_their_count(tmp_path, rows, column, task):
    rows[4][column] = ""
    rows[9][column] = ""
    table = _table(tmp_path, rows)
    with pytest.raises(InputDataError) as caught:
        inference.analyse(table, column)
    assert str(caught.value) == (
        f"{table.path}: label column '{column}' is blank in 2 row(s), first on line 6: every row "
        f"needs a label (`mlpipe run` refuses a {task} label's blank rows too); remove those "
        "rows or pick another column")


def test_a_missing_value_token_in_a_numeric_label_is_a_blank_label(tmp_path):
    rows = regression_rows(n=120)
    rows[7]["mass_kg"] = "NA"
    table = _table(tmp_path, rows)
    with pytest.raises(InputDataError, match=r"label column 'mass_kg' is blank in 1 row\(s\) "
                                             r"\(including 'NA', a missing-value token\), first "
                                             r"on line 9"):
        inference.analyse(table, "mass_kg")


# ---- the data format -------------------------------------------------------------------------

def test_a_data_format_other_than_csv_is_written(tmp_path, penguins):
    assert inference.analyse(penguins, "species").format == "csv"
    fields = {name: getattr(penguins, name) for name in ("path", "header", "columns", "lines")}
    parquet = types.SimpleNamespace(**fields, rows=penguins.rows, format="parquet")
    analysis = inference.analyse(parquet, "species")
    text, raw, config = _written(tmp_path, analysis)
    assert raw["data"]["format"] == "parquet" and config.data.format == "parquet"


def test_classes_load_back_as_the_data_spells_them(tmp_path):
    """`yes` and `no` would load as booleans unquoted, and a quote needs doubling: every class is
    written quoted."""
    rows = multiclass_rows(n=300, labels=("yes", "no", "Café d'été"))
    analysis = inference.analyse(_table(tmp_path, rows), "species", task="multiclass")
    text, raw, config = _written(tmp_path, analysis)
    assert "  classes: ['Café d''été', 'no', 'yes']" in text.splitlines()
    assert config.label.classes == ["Café d'été", "no", "yes"]


def test_a_class_in_one_row_only_is_refused_before_anything_is_written(tmp_path):
    from tests.init.tables import write_csv
    from tests.support.cli import run_mlpipe
    rows = [{"x": str(i), "kind": ["a", "b", "c"][i % 3]} for i in range(60)]
    rows[17]["kind"] = "rare"
    data = write_csv(tmp_path / "kinds.csv", rows)
    completed = run_mlpipe("init", "--data", data, "--label", "kind", cwd=tmp_path)
    assert completed.returncode == 2, completed.stdout + completed.stderr
    assert "label column 'kind': class(es) 'rare' occur in one row only (first on line 19)" \
        in completed.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["kinds.csv"]
