"""load_config: the shipped taxi config resolves; bad configs fail naming the file and the field."""

import os
import pathlib

import mlpipe  # noqa: F401  (process settings before TensorFlow)
import pytest

from mlpipe.config import DEFAULT_CONFIG, ConfigError, ProblemConfig, load_config
from tests.support import configs


@pytest.fixture
def write_config(tmp_path):
    """write_config(edit) -> path of a copy of the taxi config with `edit(raw)` applied."""
    def write(edit=None, name="problem.yaml"):
        return configs.write_config(tmp_path / name, edit=edit)
    return write


def _config_error(path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return str(caught.value)


# --- the shipped config -----------------------------------------------------------------------

def test_default_config_loads_and_resolves_paths():
    config = load_config()
    assert isinstance(config, ProblemConfig)
    assert config.name == "taxi-big-tipper"
    assert config.source == str(DEFAULT_CONFIG.resolve())
    # pkg://tfx/... resolves to the CSV shipped inside the installed tfx package.
    data = pathlib.Path(config.data.path)
    assert "pkg://" not in config.data.path
    assert data.is_absolute() and data.is_file()
    assert data.name == "data.csv" and "tfx" in data.parts
    assert data.read_text().splitlines()[0].split(",")[-1] == "tips"
    # The schema path, relative in the YAML, resolves against the config's folder.
    schema = pathlib.Path(config.schema_path)
    assert schema.is_absolute() and schema.is_file()
    assert schema == (DEFAULT_CONFIG.parent.parent / "schema" / "taxi" / "schema.pbtxt").resolve()


def test_default_config_sections(taxi_config):
    assert taxi_config.label.name == "big_tipper"
    assert taxi_config.label.source_columns == ["tips", "fare"]
    assert "tips" not in taxi_config.features.raw_columns
    assert set(taxi_config.required_columns) == set(taxi_config.features.raw_columns) | {"tips"}
    assert taxi_config.data.split == {"train": 2, "eval": 1}


def test_copy_of_default_config_in_another_folder_loads(write_config):
    path = write_config()
    config = load_config(path)
    assert config.source == str(path.resolve())
    assert os.path.isfile(config.data.path) and os.path.isfile(config.schema_path)


def test_relative_paths_resolve_against_the_config_file(write_config, tmp_path):
    def edit(raw):
        raw["data"]["path"] = "data/trips.csv"
        raw["schema"] = "schemas/s.pbtxt"
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "s.pbtxt").write_text("")
    config = load_config(write_config(edit))
    assert config.data.path == str((tmp_path / "data" / "trips.csv").resolve())
    assert config.schema_path == str((tmp_path / "schemas" / "s.pbtxt").resolve())


def test_missing_schema_file_names_the_field(write_config):
    def edit(raw):
        raw["schema"] = "no/such/schema.pbtxt"
    message = _config_error(write_config(edit))
    assert "schema" in message and "no/such/schema.pbtxt" in message and "not found" in message


def test_package_path_of_a_missing_package(write_config):
    def edit(raw):
        raw["data"]["path"] = "pkg://no_such_package_xyz/data.csv"
    message = _config_error(write_config(edit))
    assert "no_such_package_xyz" in message and "not installed" in message


# --- bad configs: the message names the file and the field ------------------------------------

def test_unknown_field(write_config):
    def edit(raw):
        raw["data"]["colour"] = "blue"
    path = write_config(edit)
    message = _config_error(path)
    assert str(path) in message
    assert "data.colour" in message
    assert "Extra inputs are not permitted" in message


def test_unknown_top_level_section(write_config):
    def edit(raw):
        raw["trainer"] = {"epochs": 3}
    path = write_config(edit)
    message = _config_error(path)
    assert str(path) in message and "trainer" in message


def test_missing_label(write_config):
    def edit(raw):
        del raw["label"]
    path = write_config(edit)
    message = _config_error(path)
    assert str(path) in message
    assert "  label: Field required" in message


def test_both_column_and_derive(write_config):
    def edit(raw):
        raw["label"]["column"] = "is_big_tipper"
    path = write_config(edit)
    message = _config_error(path)
    assert str(path) in message
    assert "label:" in message
    assert "exactly one of 'column' or 'derive'" in message


def test_neither_column_nor_derive(write_config):
    def edit(raw):
        del raw["label"]["derive"]
    message = _config_error(write_config(edit))
    assert "label:" in message and "exactly one of 'column' or 'derive'" in message


def test_label_numerator_listed_as_a_feature(write_config):
    def edit(raw):
        raw["features"]["numeric"].append("tips")
    path = write_config(edit)
    message = _config_error(path)
    assert str(path) in message
    assert "numerator 'tips'" in message and "also a feature" in message


def test_label_column_listed_as_a_feature(write_config):
    def edit(raw):
        raw["label"] = {"name": "big_tipper", "column": "company"}
    message = _config_error(write_config(edit))
    assert "label column ['company'] is also listed as a feature" in message


@pytest.mark.parametrize("split", [
    {"train": 2, "test": 1},
    {"train": 2},
    {"train": 2, "eval": 1, "test": 1},
])
def test_bad_split_names(write_config, split):
    def edit(raw):
        raw["data"]["split"] = split
    path = write_config(edit)
    message = _config_error(path)
    assert str(path) in message
    assert "data.split" in message
    assert "'train' and 'eval'" in message


def test_non_positive_split_weight(write_config):
    def edit(raw):
        raw["data"]["split"] = {"train": 2, "eval": 0}
    message = _config_error(write_config(edit))
    assert "data.split" in message and "positive" in message


def test_wrong_value_type_names_the_nested_field(write_config):
    def edit(raw):
        raw["train"]["epochs"] = "many"
    message = _config_error(write_config(edit))
    assert "train.epochs" in message


def test_bad_pipeline_name(write_config):
    def edit(raw):
        raw["name"] = "Taxi Big Tipper"
    message = _config_error(write_config(edit))
    assert "  name:" in message


def test_invalid_yaml(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: taxi\ndata: {path: [unclosed\n")
    message = _config_error(path)
    assert str(path) in message and "not valid YAML" in message


def test_yaml_that_is_not_a_mapping(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- name\n- data\n")
    message = _config_error(path)
    assert str(path) in message and "expected a mapping" in message and "list" in message


def test_missing_file(tmp_path):
    path = tmp_path / "nowhere.yaml"
    message = _config_error(path)
    assert str(path) in message and "not found" in message


def test_config_error_is_a_value_error():
    assert issubclass(ConfigError, ValueError)


def test_score_path_resolves_like_the_data_path(write_config, tmp_path):
    def edit(raw):
        raw["data"]["score_path"] = "incoming/unlabelled.csv"
    config = load_config(write_config(edit))
    assert config.data.score_path == str((tmp_path / "incoming" / "unlabelled.csv").resolve())
    assert load_config().data.score_path is None


@pytest.mark.parametrize("field, edit", [
    ("evaluation.kpi", lambda raw: raw["evaluation"]["kpi"].update({"acuracy": {"min": 0.8}})),
    ("evaluation.max_regression",
     lambda raw: raw["evaluation"].update({"max_regression": {"mean_label": 0.01}})),
    ("evaluation.main_metric", lambda raw: raw["evaluation"].update({"main_metric": "AUC"})),
    ("evaluation.kpi.auc", lambda raw: raw["evaluation"]["kpi"].update({"auc": {}})),
])
def test_a_metric_the_evaluator_cannot_check_fails_at_load_time(write_config, field, edit):
    message = _config_error(write_config(edit))
    assert field in message
    assert "known:" in message or "direction" in message or "min" in message


def test_the_old_strategy_key_says_its_new_name(write_config):
    path = write_config(lambda raw: raw["train"].update(strategy="mirrored"))
    with pytest.raises(ConfigError, match="'strategy' is now 'distribution'"):
        load_config(path)


@pytest.mark.parametrize("distribution, ok", [("mirrored", True), ("auto", False),
                                              ("one_device", False)])
def test_devices_apply_to_a_mirrored_distribution_only(write_config, distribution, ok):
    path = write_config(lambda raw: raw["train"].update(distribution=distribution, devices=2))
    if ok:
        assert load_config(path).train.devices == 2
    else:
        with pytest.raises(ConfigError, match="devices applies only with distribution: mirrored"):
            load_config(path)
