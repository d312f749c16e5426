"""`mlpipe init`'s decisions on generated tables, in pure Python (no TensorFlow): milliseconds."""

import pytest

from mlpipe.errors import BadInputError, InputDataError
from mlpipe.init import budget, inference
from mlpipe.init.table import read_table
from tests.init.tables import penguin_rows, without, write_csv


@pytest.fixture
def penguins(tmp_path):
    return read_table(write_csv(tmp_path / "penguins.csv", penguin_rows()))


def _reasons(analysis):
    return {item.column: item.reason for item in analysis.excluded}


def test_penguins_decisions(penguins):
    analysis = inference.analyse(penguins, "species")
    assert analysis.rows == 400
    assert analysis.missing_values == ["NA"]
    assert set(analysis.token_counts) == {"bill_length_mm", "flipper_length_mm", "body_mass_g"}
    assert analysis.token_counts["bill_length_mm"] == {"NA": 13}
    reasons = _reasons(analysis)
    assert set(reasons) == {"rowid", "year", "comment"}
    assert reasons["rowid"].startswith("row id: unique per row")
    assert reasons["year"] == "constant: always '2008'"
    assert reasons["comment"].startswith("mostly empty: 89% of rows blank")
    assert analysis.kept == ["island", "bill_length_mm", "bill_depth_mm", "flipper_length_mm",
                             "body_mass_g", "sex", "tag"]


def test_binary_label_from_two_strings_minority_is_positive(penguins):
    label = inference.analyse(penguins, "species").label
    assert label.counts == {"Adelie": 227, "Gentoo": 173}
    assert (label.positive_class, label.negative_class) == ("Gentoo", "Adelie")
    assert label.why == "the minority class"
    assert label.name == "species_is_gentoo"


def test_positive_class_override(penguins):
    label = inference.analyse(penguins, "species", positive_class="Adelie").label
    assert (label.positive_class, label.why) == ("Adelie", "chosen with --positive-class")
    with pytest.raises(BadInputError, match=r"--positive-class 'Chinstrap': not a value of "
                                            r"column 'species'"):
        inference.analyse(penguins, "species", positive_class="Chinstrap")


@pytest.mark.parametrize("labels, positive", [
    (("0", "1"), "1"), (("1", "0"), "1"), (("False", "True"), "True"),
    (("no", "yes"), "yes"), (("yes", "no"), "yes"), (("N", "Y"), "Y"),
    (("0.0", "1.0"), "1.0"), (("good", "bad"), "bad"),
])
def test_positive_class_by_spelling(tmp_path, labels, positive):
    """1, true, yes... are positive whichever is rarer; other pairs: the minority class (the
    second label of the generator is the rarer one)."""
    table = read_table(write_csv(tmp_path / "t.csv", penguin_rows(labels=labels)))
    assert inference.analyse(table, "species").label.positive_class == positive


def test_a_leaking_column_is_left_out_and_named(tmp_path):
    table = read_table(write_csv(tmp_path / "t.csv", penguin_rows(leak=True)))
    analysis = inference.analyse(table, "species")
    reason = _reasons(analysis)["tag"]
    assert reason.startswith("likely label leak: alone it predicts 'species' with AUC 1.000")
    # The honest measurements stay: they overlap between the species.
    assert {"bill_length_mm", "body_mass_g", "island"} <= set(analysis.kept)


def test_a_numeric_leak_is_found_in_either_direction(tmp_path):
    rows = penguin_rows()
    for row in rows:
        row["tag"] = -3.5 if row["species"] == "Gentoo" else 7.25
    table = read_table(write_csv(tmp_path / "t.csv", rows))
    assert _reasons(inference.analyse(table, "species"))["tag"].startswith(
        "likely label leak")


def test_text_ids_and_near_unique_text(tmp_path):
    rows = penguin_rows(n=100)
    for i, row in enumerate(rows):
        row["tag"] = f"P-{i:04d}"                                # unique text: a row id
        row["comment"] = f"note {i // 1 if i % 20 else 0}"       # 96 values in 100 rows
    table = read_table(write_csv(tmp_path / "t.csv", rows))
    reasons = _reasons(inference.analyse(table, "species"))
    assert reasons["tag"].startswith("row id: unique per row (100 distinct values)")
    assert reasons["comment"].startswith("almost unique per row: 96 distinct values")


def test_unique_decimals_are_a_measurement_not_an_id(tmp_path):
    rows = penguin_rows(n=60)
    for i, row in enumerate(rows):
        row["bill_length_mm"] = f"{40 + i * 0.137:.3f}"
        row["steps"] = (i * 7919) % 1000 + 1000                # unique, unordered: a number
    table = read_table(write_csv(tmp_path / "t.csv", rows))
    reasons = _reasons(inference.analyse(table, "species"))
    assert "bill_length_mm" not in reasons and "steps" not in reasons
    assert reasons["rowid"].startswith("row id")               # counts up: an id


def test_unique_unordered_integers_named_like_an_id_are_an_id(tmp_path):
    rows = penguin_rows(n=60)
    for i, row in enumerate(rows):
        row["rowid"] = (i * 7919) % 1000 + 1000
    rows = [{"customer_id" if k == "rowid" else k: v for k, v in row.items()} for row in rows]
    table = read_table(write_csv(tmp_path / "t.csv", rows))
    assert _reasons(inference.analyse(table, "species"))["customer_id"].startswith("row id")


def test_tokens_are_only_declared_for_otherwise_numeric_columns(tmp_path):
    rows = penguin_rows(n=50)
    rows[3]["island"] = "NA"           # a string column: "NA" could be a value, not declared
    rows[4]["bill_depth_mm"] = "n/a"
    rows[5]["body_mass_g"] = "?"
    rows[6]["flipper_length_mm"] = "unknown"   # not a known token: the column is text
    table = read_table(write_csv(tmp_path / "t.csv", rows))
    tokens, where = inference.missing_value_tokens(table)
    assert tokens == ["?", "NA", "n/a"]
    assert set(where) == {"bill_length_mm", "bill_depth_mm", "body_mass_g"}
    assert "flipper_length_mm" not in where and "island" not in where


def test_nan_text_is_a_token_not_a_number(tmp_path):
    rows = penguin_rows(n=50)
    rows[0]["bill_depth_mm"] = "NaN"
    table = read_table(write_csv(tmp_path / "t.csv", rows))
    assert inference.missing_value_tokens(table)[0] == ["NA", "NaN"]


@pytest.mark.parametrize("labels, expected", [
    ([f"s{i}" for i in range(20)] * 3, "label column 'y' holds text with 20 distinct values "
                                       "('s0', 's1', 's10', 's11', 's12', 's13', 's14', 's15', "
                                       "... (20 in all)): too many to take for classes (at most "
                                       "6 for 60 rows: at most 50, and one per 10 rows), and not "
                                       "numbers to predict. If they are classes, say so with "
                                       "--task multiclass."),
    # One value per row: not even --task multiclass would take them for classes.
    ([f"id-{i}" for i in range(60)], "label column 'y' holds text with 60 distinct values "
                                     "('id-0', 'id-1', 'id-10', 'id-11', 'id-12', 'id-13', "
                                     "'id-14', 'id-15', ... (60 in all)): too many to take for "
                                     "classes (at most 6 for 60 rows: at most 50, and one per 10 "
                                     "rows), and not numbers to predict."),
    (["same"] * 60, "label column 'y' has 1 distinct value ('same'): a label needs two classes "
                    "to learn from"),
])
def test_labels_no_task_fits_are_refused(tmp_path, labels, expected):
    rows = [{"x": i % 7, "z": i % 3, "y": label} for i, label in enumerate(labels)]
    table = read_table(write_csv(tmp_path / "t.csv", rows))
    with pytest.raises(InputDataError) as caught:
        inference.analyse(table, "y")
    assert str(caught.value) == f"{table.path}: {expected}"


def test_a_label_with_blank_cells_is_refused_naming_the_line(tmp_path):
    rows = [{"x": i, "y": "" if i == 6 else ("a" if i % 2 else "b")} for i in range(30)]
    table = read_table(write_csv(tmp_path / "t.csv", rows))
    with pytest.raises(InputDataError, match=r"label column 'y' is blank in 1 row\(s\), first "
                                             r"on line 8"):
        inference.analyse(table, "y")


def test_an_unknown_task_is_refused(penguins):
    with pytest.raises(BadInputError, match="--task ordinal: unknown task; use one of auto, "
                                            "binary, multiclass, regression"):
        inference.analyse(penguins, "species", task="ordinal")


def test_missing_label_column_names_the_header(penguins):
    with pytest.raises(InputDataError, match=r"no column 'Species' to use as the label \(header: "
                                             r"rowid, species, island"):
        inference.analyse(penguins, "Species")


def test_nothing_left_to_learn_from(tmp_path):
    rows = [{"id": i, "k": 1, "y": "a" if i % 2 else "b"} for i in range(30)]
    table = read_table(write_csv(tmp_path / "t.csv", rows))
    with pytest.raises(InputDataError, match="no column is left to learn from"):
        inference.analyse(table, "y")


@pytest.mark.parametrize("content, expected", [
    (b"", "file is empty"),
    (b"a,b,y\n", "header but no data rows"),
    (b"a,b,y\n1,2,x\n1,2\n", "line 3: 2 fields, the header has 3"),
    (b"a,a,y\n1,2,x\n", r"column\(s\) \['a'\] appear more than once"),
    (b",a,y\n1,2,x\n", "column 1 of the header has no name"),
    (b"a,b,y\n1,2,x\n3,4,caf\xe9\n", r"line 3: not UTF-8 text"),
    (b"\xef\xbb\xbfa,b,y\n1,2,x\n", "byte-order mark"),
])
def test_unreadable_files(tmp_path, content, expected):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(InputDataError, match=expected):
        read_table(path)


def test_lines_count_quoted_values_spanning_lines(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text('a,y\n"two\nlines",x\n\n3,y\n')
    table = read_table(path)
    assert table.lines == [2, 5]
    assert table.columns["a"] == ["two\nlines", "3"]


def test_baseline_and_kpi_floor(penguins):
    base = inference.analyse(penguins, "species").baseline
    assert (base.train_rows, base.held_out_rows) == (267, 133)
    assert base.auc == 0.5 and base.auc_floor == 0.55
    assert base.majority_class == "Adelie"
    held_out = inference.split_rows(400)[1]
    species = penguins.columns["species"]
    share = sum(1 for row in held_out if species[row] == "Adelie") / 133
    assert base.accuracy == pytest.approx(share)
    assert base.accuracy_floor >= base.accuracy and base.accuracy_floor - base.accuracy < 0.001


def test_split_is_fixed_and_a_third():
    train, held_out = inference.split_rows(300)
    assert (len(train), len(held_out)) == (200, 100)
    assert inference.split_rows(300) == (train, held_out)
    assert sorted(train + held_out) == list(range(300))


@pytest.mark.parametrize("rows, batch, epochs, bins", [
    (267, 16, 36, 0), (999, 64, 38, 0), (1000, 64, 38, 16), (10_000, 512, 30, 16),
    (200_000, 512, 4, 16), (30, 16, 100, 0)])
def test_training_budget(rows, batch, epochs, bins):
    chosen = budget.training_budget(rows)
    assert (chosen.batch_size, chosen.epochs, chosen.numeric_bins) == (batch, epochs, bins)
    assert chosen.learning_rate == budget.LEARNING_RATE
    assert str(rows) in chosen.bins_why
    assert chosen.ensemble == budget.ENSEMBLE
    assert budget.training_budget(rows, "regression").ensemble == budget.REGRESSION_ENSEMBLE


def test_feature_kinds_follow_the_types_tfdv_reads(penguins):
    analysis = inference.analyse(penguins, "species")
    types = {"bill_length_mm": "FLOAT", "bill_depth_mm": "FLOAT", "flipper_length_mm": "INT",
             "body_mass_g": "INT", "island": "BYTES", "sex": "BYTES", "tag": "BYTES"}
    features = inference.choose_features(analysis, types)
    assert features.numeric == ["bill_length_mm", "bill_depth_mm", "flipper_length_mm",
                                "body_mass_g"]
    assert features.categorical == ["island", "sex", "tag"]
    assert features.why["island"] == "text, 3 distinct values"


def test_few_integer_values_are_codes(tmp_path):
    rows = penguin_rows(n=120)
    for i, row in enumerate(rows):
        row["year"] = 2007 + i % 3
    table = read_table(write_csv(tmp_path / "t.csv", rows))
    analysis = inference.analyse(table, "species")
    features = inference.choose_features(analysis, {"year": "INT"})
    assert "year" in features.categorical
    assert features.why["year"].startswith("integer codes: 3 distinct values")


@pytest.mark.parametrize("given, data, expected", [
    (None, "penguins.csv", "penguins"), (None, "My Data_2.csv", "my-data-2"),
    (None, "2024.csv", "problem-2024"), (None, "x.csv", "problem"), ("my-problem", "a.csv",
                                                                      "my-problem"),
])
def test_problem_name(given, data, expected):
    assert inference.problem_name(given, data) == expected


def test_a_bad_name_is_refused():
    with pytest.raises(BadInputError, match="--name 'My_Problem'"):
        inference.problem_name("My_Problem", "a.csv")


def test_label_name_never_shadows_a_column():
    assert inference.label_name("Species", "Gentoo", ["Species"]) == "species_is_gentoo"
    assert inference.label_name("y", "1", ["y", "y_is_1"]) == "y_is_1_label"


def test_columns_without_a_leak_check_when_a_class_is_too_rare(tmp_path):
    """Five positives: too few to call any column a leak, however well it ranks them."""
    rows = [{"x": i, "copy": "p" if i < 5 else "n", "y": "p" if i < 5 else "n", "z": i % 4}
            for i in range(60)]
    table = read_table(write_csv(tmp_path / "t.csv", without(rows, "x")))
    analysis = inference.analyse(table, "y")
    assert "copy" in analysis.kept
