"""The label checks of check_input_data, the same in every format: multiclass (a class of
`label.classes` in every row, never blank, no class seen once), regression (a number in every
row) and binary (0/1 or a positive class that occurs), each error naming file, column and row."""

import mlpipe  # noqa: F401  (process settings before TensorFlow)
import pytest

from mlpipe.config import ProblemConfig
from mlpipe.errors import InputDataError
from mlpipe.local.preflight import check_input_data
from tests.support.cli import run_mlpipe
from tests.support.formats import write_parquet, write_tfrecord
from tests.support.taxi import write_csv

HEADER = ["x", "color", "y"]
NUMERIC = {"x": "FLOAT"}
FORMATS = ["csv", "parquet", "tfrecord"]
# How each format's messages call a row, and the number of the n-th data row (from 1).
UNIT = {"csv": ("line", 1), "parquet": ("row", 0), "tfrecord": ("record", 0)}
LABELS = {
    "multiclass": {"name": "y", "task": "multiclass", "column": "y", "classes": ["a", "b", "c"]},
    "regression": {"name": "y", "task": "regression", "column": "y"},
    "binary": {"name": "y", "column": "y"},
}
KPI = {"multiclass": {"accuracy": {"min": 0.5}}, "regression": {"rmse": {"max": 3.0}},
       "binary": {"auc": {"min": 0.6}}}


def _config(path, data_format, task, **label) -> ProblemConfig:
    return ProblemConfig.model_validate({
        "name": "labels", "data": {"path": str(path), "format": data_format},
        "label": {**LABELS[task], **label},
        "features": {"numeric": ["x"], "categorical": ["color"]},
        "schema": "schema.pbtxt", "evaluation": {"kpi": KPI[task]}})


def _write(tmp_path, data_format, labels, label_kind="BYTES"):
    """A file of len(labels) rows whose label column holds `labels` (None: blank)."""
    rows = [{"x": 1.5 + index, "color": "red", "y": label} for index, label in enumerate(labels)]
    kinds = {"x": "FLOAT", "color": "BYTES", "y": label_kind}
    if data_format == "csv":
        return write_csv(tmp_path / "rows.csv", rows, header=HEADER)
    if data_format == "parquet":
        return write_parquet(tmp_path / "rows.parquet", rows, header=HEADER, kinds=kinds)
    return write_tfrecord(tmp_path / "rows.tfrecord.gz", rows, header=HEADER, kinds=kinds)


def _at(path, data_format, row: int) -> str:
    """'<file>, line 3' for the `row`-th data row (from 1)."""
    unit, offset = UNIT[data_format]
    return f"{path}, {unit} {row + offset}"


def _error(config) -> str:
    with pytest.raises(InputDataError) as caught:
        check_input_data(config, NUMERIC)
    return str(caught.value)


# ---- multiclass ------------------------------------------------------------------------------

@pytest.mark.parametrize("data_format", FORMATS)
def test_multiclass_labels_of_the_classes_pass(tmp_path, data_format):
    path = _write(tmp_path, data_format, ["a", "b", "c", "a", "b", "c"])
    summary = check_input_data(_config(path, data_format, "multiclass"), NUMERIC)
    assert summary.rows == 6


@pytest.mark.parametrize("data_format", FORMATS)
def test_numeric_classes_match_as_numbers(tmp_path, data_format):
    path = _write(tmp_path, data_format, [1, 2, 1, 2], label_kind="INT")
    config = _config(path, data_format, "multiclass", classes=["1.0", "2"])
    assert check_input_data(config, NUMERIC).rows == 4


@pytest.mark.parametrize("data_format", FORMATS)
def test_a_label_that_is_not_a_class(tmp_path, data_format):
    path = _write(tmp_path, data_format, ["a", "b", "d", "a", "b"])
    message = _error(_config(path, data_format, "multiclass"))
    assert f"{_at(path, data_format, 3)}: label column 'y' holds 'd', which is not one of " \
           "label.classes ['a', 'b', 'c']" in message


@pytest.mark.parametrize("data_format", FORMATS)
def test_a_blank_multiclass_label(tmp_path, data_format):
    path = _write(tmp_path, data_format, ["a", "b", "a", None, "b"])
    message = _error(_config(path, data_format, "multiclass"))
    assert f"{_at(path, data_format, 4)}: label column 'y' is blank" in message


@pytest.mark.parametrize("data_format", FORMATS)
def test_a_class_seen_in_one_row_only(tmp_path, data_format):
    path = _write(tmp_path, data_format, ["a", "b", "a", "c", "b"])
    message = _error(_config(path, data_format, "multiclass"))
    assert f"'c' only at {_at(path, data_format, 4)}" in message
    assert "one to train on and one to evaluate" in message


def test_a_class_never_seen_is_allowed(tmp_path):
    path = _write(tmp_path, "csv", ["a", "b", "a", "b"])
    assert check_input_data(_config(path, "csv", "multiclass"), NUMERIC).rows == 4


def test_a_missing_value_token_is_a_blank_label(tmp_path):
    path = _write(tmp_path, "csv", ["a", "b", "NA", "a", "b"])
    config = _config(path, "csv", "multiclass")
    config = config.model_copy(update={"data": config.data.model_copy(
        update={"missing_values": ["NA"]})})
    assert f"{path}, line 4: label column 'y' is blank" in _error(config)


# ---- regression ------------------------------------------------------------------------------

@pytest.mark.parametrize("data_format", FORMATS)
def test_numeric_regression_labels_pass(tmp_path, data_format):
    path = _write(tmp_path, data_format, [1.5, 2.0, -3.25], label_kind="FLOAT")
    assert check_input_data(_config(path, data_format, "regression"), NUMERIC).rows == 3


@pytest.mark.parametrize("data_format", FORMATS)
def test_a_blank_regression_label(tmp_path, data_format):
    path = _write(tmp_path, data_format, [1.5, None, 2.0], label_kind="FLOAT")
    message = _error(_config(path, data_format, "regression"))
    assert f"{_at(path, data_format, 2)}: label column 'y' is blank" in message


def test_a_text_regression_label_in_csv(tmp_path):
    path = _write(tmp_path, "csv", ["1.5", "2", "high", "inf"])
    message = _error(_config(path, "csv", "regression"))
    assert f"{path}, line 4: label column 'y' holds 'high'" in message
    assert "must be a (finite) number" in message


def test_an_infinite_regression_label(tmp_path):
    path = _write(tmp_path, "csv", ["1.5", "inf"])
    assert f"{path}, line 3: label column 'y' holds 'inf'" in _error(
        _config(path, "csv", "regression"))


@pytest.mark.parametrize("data_format", ["parquet", "tfrecord"])
def test_a_regression_label_stored_as_text(tmp_path, data_format):
    path = _write(tmp_path, data_format, ["1.5", "2.5"], label_kind="BYTES")
    message = _error(_config(path, data_format, "regression"))
    assert f"{_at(path, data_format, 1)}: label column 'y' holds the text" in message
    assert "must be stored as a number" in message


def test_a_label_with_several_values(tmp_path):
    path = write_tfrecord(tmp_path / "rows.tfrecord", [{"x": 1.0, "color": "red", "y": [1.0, 2.0]}],
                          header=HEADER, kinds={"x": "FLOAT", "color": "BYTES", "y": "FLOAT"})
    message = _error(_config(path, "tfrecord", "regression"))
    assert f"{path}, record 1: label column 'y' holds 2 values" in message


# ---- binary (as before) ----------------------------------------------------------------------

@pytest.mark.parametrize("data_format", FORMATS)
def test_binary_zero_one_labels_pass_and_blanks_are_allowed(tmp_path, data_format):
    path = _write(tmp_path, data_format, [0, 1, None, 1], label_kind="INT")
    assert check_input_data(_config(path, data_format, "binary"), NUMERIC).rows == 4


@pytest.mark.parametrize("data_format", FORMATS)
def test_binary_label_other_than_zero_one(tmp_path, data_format):
    path = _write(tmp_path, data_format, [0, 1, 2], label_kind="INT")
    message = _error(_config(path, data_format, "binary"))
    assert f"{_at(path, data_format, 3)}: label column 'y' holds '2'" in message
    assert "label.positive_class" in message


@pytest.mark.parametrize("data_format", FORMATS)
def test_binary_positive_class_must_occur(tmp_path, data_format):
    path = _write(tmp_path, data_format, ["no", "yes", "no"])
    assert check_input_data(_config(path, data_format, "binary", positive_class="yes"),
                            NUMERIC).rows == 3
    message = _error(_config(path, data_format, "binary", positive_class="Yes"))
    assert "label.positive_class 'Yes' never occurs in column 'y'" in message


# ---- through the command ---------------------------------------------------------------------

def test_mlpipe_run_on_a_bad_multiclass_label_exits_2_and_writes_nothing(tmp_path):
    import yaml
    path = _write(tmp_path, "parquet", ["a", "b", "a", "b", "z"])
    schema = tmp_path / "schema.pbtxt"
    schema.write_text('feature { name: "x" type: FLOAT }\n'
                      'feature { name: "color" type: BYTES }\n'
                      'feature { name: "y" type: BYTES }\n')
    config_file = tmp_path / "problem.yaml"
    config_file.write_text(yaml.safe_dump({
        "name": "labels", "data": {"path": str(path), "format": "parquet"},
        "label": LABELS["multiclass"], "features": {"numeric": ["x"], "categorical": ["color"]},
        "schema": str(schema), "evaluation": {"kpi": KPI["multiclass"]}}))
    home = tmp_path / "home"
    result = run_mlpipe("run", "--config", config_file, "--home", home, cwd=tmp_path,
                        timeout=120)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr
    assert f"{path}, row 5: label column 'y' holds 'z'" in result.stderr
    assert not (home / "labels").exists()
