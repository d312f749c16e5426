"""What a config written by `mlpipe init` relies on, without TensorFlow: `data.missing_values` and
`label.positive_class` in the config, the preflight check honouring them, and the blanked copy
the schema proposal reads (declared tokens blanked; the pipeline's CSV ExampleGen reads them so
itself: tests/components/test_csv_example_gen.py)."""

import pytest

from mlpipe.config import DataConfig, LabelConfig, ProblemConfig
from mlpipe.core.csv_blanks import blank_tokens
from mlpipe.errors import InputDataError
from mlpipe.local.preflight import check_input_data
from tests.init.tables import penguin_rows, write_csv

NUMERIC = {"bill_length_mm": "FLOAT", "bill_depth_mm": "FLOAT", "flipper_length_mm": "INT",
           "body_mass_g": "INT", "rowid": "INT", "year": "INT"}


def _config(data, **label):
    return ProblemConfig.model_validate({
        "name": "penguins",
        "data": {"path": str(data), "missing_values": ["NA"]},
        "label": {"name": "species_is_gentoo", "column": "species", "positive_class": "Gentoo",
                  **label},
        "features": {"numeric": ["bill_length_mm", "flipper_length_mm"],
                     "categorical": ["island"]},
        "schema": "schema.pbtxt",
        "evaluation": {"kpi": {"auc": {"min": 0.55}}},
    })


def _error(config, numeric=NUMERIC) -> str:
    with pytest.raises(InputDataError) as caught:
        check_input_data(config, numeric)
    return str(caught.value)


# ---- config ----------------------------------------------------------------------------------

def test_missing_values_default_to_none():
    assert DataConfig(path="x.csv").missing_values == []


@pytest.mark.parametrize("tokens, message", [
    ([""], "an empty or blank token is always missing"),
    (["NA", "NA"], "listed more than once"),
    (["a,b"], "cannot hold a comma"),
])
def test_bad_missing_values(tokens, message):
    with pytest.raises(ValueError, match=message):
        DataConfig(path="x.csv", missing_values=tokens)


def test_positive_class_is_text_as_spelled():
    assert LabelConfig(name="y1", column="y", positive_class=2).positive_class == "2"
    with pytest.raises(ValueError, match="quote it as the data spells it"):
        LabelConfig(name="y1", column="y", positive_class=True)   # YAML's `yes` / `true`
    with pytest.raises(ValueError, match="'positive_class' goes with 'column'"):
        LabelConfig(name="y1", derive={"numerator": "a", "denominator": "b", "threshold": 1},
                    positive_class="1")


def test_labels_of_every_task_init_writes():
    assert LabelConfig(name="y1", column="y").task == "binary"
    multiclass = LabelConfig(name="y_class", column="y", task="multiclass", classes=[1, "2", 3])
    assert multiclass.classes == ["1", "2", "3"] and multiclass.class_index("2.0") == 1
    assert LabelConfig(name="y_value", column="y", task="regression").positive_class is None
    with pytest.raises(ValueError, match="'positive_class' is for binary labels"):
        LabelConfig(name="y_value", column="y", task="regression", positive_class="1")


@pytest.mark.parametrize("positive, text, expected", [
    ("Gentoo", "Gentoo", True), ("Gentoo", "Adelie", False), ("Gentoo", "", False),
    ("1", "1.0", True), ("yes", "Yes", False), (None, "1", True), (None, "0", False),
])
def test_is_positive(positive, text, expected):
    assert LabelConfig(name="y1", column="y", positive_class=positive).is_positive(text) \
        is expected


# ---- preflight -------------------------------------------------------------------------------

def test_declared_tokens_pass_the_input_check(tmp_path):
    data = write_csv(tmp_path / "p.csv", penguin_rows(n=80))
    summary = check_input_data(_config(data), NUMERIC)
    assert summary.rows == 80


def test_an_undeclared_token_names_token_column_and_line(tmp_path):
    rows = penguin_rows(n=80)
    rows[9]["bill_depth_mm"] = "n/a"
    data = write_csv(tmp_path / "p.csv", rows)
    message = _error(_config(data))
    # (The preflight check may add what the lines before held: not this test's concern.)
    assert message.startswith(f"{data}, line 11: column 'bill_depth_mm' must be FLOAT, found "
                              "'n/a' (if 'n/a' means 'no value', declare it in "
                              "data.missing_values)")


def test_positive_class_must_occur(tmp_path):
    data = write_csv(tmp_path / "p.csv", penguin_rows(n=40))
    message = _error(_config(data, positive_class="gentoo"))
    assert "label.positive_class 'gentoo' never occurs in column 'species'" in message


def test_a_label_other_than_0_1_needs_a_positive_class(tmp_path):
    data = write_csv(tmp_path / "p.csv", penguin_rows(n=40))
    config = _config(data)
    config = config.model_copy(update={"label": LabelConfig(name="s", column="species")})
    message = _error(config)
    assert "line 2: label column 'species' holds 'Adelie'" in message
    assert "needs label.positive_class" in message


def test_a_0_1_label_needs_no_positive_class(tmp_path):
    rows = penguin_rows(n=40)
    for row in rows:
        row["species"] = int(row["species"] == "Gentoo")
    data = write_csv(tmp_path / "p.csv", rows)
    config = _config(data).model_copy(update={"label": LabelConfig(name="s", column="species")})
    assert check_input_data(config, NUMERIC).rows == 40


# ---- the blanked copy (schema proposal) ------------------------------------------------------

def test_blank_tokens_blanks_whole_cells_only(tmp_path):
    source = tmp_path / "in.csv"
    source.write_text('a,b,c\nNA,"NA, or not",1\n\n"two\nlines",NA,NAN\n')
    target = tmp_path / "out.csv"
    assert blank_tokens(source, target, ["NA"]) == 2
    assert target.read_text() == 'a,b,c\n,"NA, or not",1\n"two\nlines",,NAN\n'


# ---- batch scoring -----------------------------------------------------------------------------

def test_batch_scoring_reads_declared_tokens_as_blank():
    """`mlpipe predict` on a file spelled like the training data (NA for no value)."""
    import pyarrow as pa

    from mlpipe.core.schema_io import FeatureInfo
    from mlpipe.serving.examples import ExampleEncoder, RequestError
    features = {"x": FeatureInfo("x", "FLOAT", False, 1)}
    encoder = ExampleEncoder(features, ["NA"])
    batch = encoder.check_csv_columns({"x": pa.array(["1.5", "NA", ""])}, 3, 2)
    assert batch.column(0).to_pylist() == [[1.5], None, None]
    assert encoder.check_csv_row({"x": "NA"}, "line 2") == {}
    with pytest.raises(RequestError, match="line 3: column 'x' expects"):
        ExampleEncoder(features).check_csv_columns({"x": pa.array(["1.5", "NA"])}, 2, 2)

