"""tune: the search space, budget and objective are checked at load time (objective per task)."""

import mlpipe  # noqa: F401  (process settings before TensorFlow)
import pytest

from mlpipe.config import ConfigError, load_config
from mlpipe.config.problem import TrainConfig
from mlpipe.config.tune import (DEFAULT_OBJECTIVE, KERAS_METRICS, LogRange, TuneConfig,
                                parse_units, spell_units, tuned_train)
from tests.support import configs

TUNE = {"hidden_units": [[64, 32], [128, 64, 32]], "learning_rate": [0.003, 0.01],
        "epochs": [4, 8], "max_trials": 6}


def _write(tmp_path, tune, task="binary"):
    def edit(raw):
        raw["tune"] = tune
        if task == "regression":
            raw["label"] = {"name": "tips_value", "task": "regression", "column": "tips"}
            raw["evaluation"].update(kpi={"rmse": {"max": 5}}, max_regression={},
                                     main_metric="rmse")
    return configs.write_config(tmp_path / "problem.yaml", edit=edit)


def _config_error(path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return str(caught.value)


def test_no_tune_section_by_default(taxi_config):
    assert taxi_config.tune is None


def test_a_tune_section_loads(tmp_path):
    tune = load_config(_write(tmp_path, {**TUNE, "objective": "binary_accuracy", "seed": 3})).tune
    assert tune.hidden_units == [[64, 32], [128, 64, 32]]
    assert tune.learning_rate == [0.003, 0.01]
    assert tune.epochs == [4, 8] and tune.max_trials == 6 and tune.seed == 3
    assert tune.objective_of("binary") == ("binary_accuracy", "max")


def test_learning_rate_may_be_a_log_range(tmp_path):
    tune = load_config(_write(tmp_path, {"learning_rate": {"min": 0.0001, "max": 0.1}})).tune
    assert tune.learning_rate == LogRange(min=0.0001, max=0.1)
    assert tune.hidden_units is None and tune.epochs is None
    assert tune.max_trials == 10


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_default_objective_is_the_tasks_main_keras_metric(task):
    name, direction = TuneConfig(epochs=[2, 4]).objective_of(task)
    assert name == DEFAULT_OBJECTIVE[task] and name in KERAS_METRICS[task]
    assert direction == ("min" if task == "regression" else "max")
    assert TuneConfig(epochs=[2], objective="loss").objective_of(task) == ("loss", "min")


def test_an_objective_the_task_does_not_report_is_refused_with_the_allowed_ones(tmp_path):
    message = _config_error(_write(tmp_path, {**TUNE, "objective": "rmse"}))
    assert "tune.objective: 'rmse' is not reported by a binary model" in message
    assert "['auc', 'binary_accuracy', 'loss']" in message
    message = _config_error(_write(tmp_path, {**TUNE, "objective": "auc"}, task="regression"))
    assert "not reported by a regression model" in message and "['loss', 'rmse']" in message
    # The eval split is implied: Keras's "val_" spelling is not a metric name here.
    assert "allowed" in _config_error(_write(tmp_path, {**TUNE, "objective": "val_auc"}))


def test_regression_accepts_rmse(tmp_path):
    config = load_config(_write(tmp_path, {**TUNE, "objective": "rmse"}, task="regression"))
    assert config.tune.objective_of("regression") == ("rmse", "min")


@pytest.mark.parametrize("tune, expected", [
    ({}, "nothing to search"),
    ({"max_trials": 4}, "nothing to search"),
    ({**TUNE, "max_trials": 1}, "max_trials"),
    ({**TUNE, "hidden_units": []}, "hidden_units"),
    ({**TUNE, "hidden_units": [[64, 0]]}, "a list of positive widths ([] for no hidden layer)"),
    ({**TUNE, "hidden_units": [[32], [32]]}, "listed more than once"),
    ({**TUNE, "learning_rate": [0.01, 0.0]}, "positive learning rates"),
    ({**TUNE, "learning_rate": {"min": 0.1, "max": 0.01}}, "must be below"),
    ({**TUNE, "learning_rate": {"min": 0.0, "max": 0.01}}, "greater than 0"),
    ({**TUNE, "epochs": [0, 4]}, "epochs must be positive"),
    ({**TUNE, "epochs": [4, 4]}, "listed more than once"),
    ({**TUNE, "ensemble": [0, 3]}, "1 to 10 networks"),
    ({**TUNE, "ensemble": [3, 11]}, "1 to 10 networks"),
    ({**TUNE, "batch_size": [32]}, "batch_size"),
])
def test_bad_sections_are_config_errors(tmp_path, tune, expected):
    message = _config_error(_write(tmp_path, tune))
    assert "tune" in message and expected in message, message


def test_hidden_units_travel_as_one_spelled_value():
    assert spell_units([128, 64, 32]) == "128-64-32"
    assert parse_units("128-64-32") == [128, 64, 32] and parse_units("16") == [16]
    # No hidden layer (init writes [] for a table a linear model fits as well as trees).
    assert spell_units([]) == "none" and parse_units(spell_units([])) == []


def test_tuned_train_takes_the_tuners_values(taxi_config):
    train = taxi_config.train
    assert tuned_train(train, None) is train
    assert tuned_train(train, {}) is train
    best = {"space": [], "values": {"hidden_units": "16-8", "learning_rate": 0.003,
                                    "epochs": 7, "ensemble": 5}}
    tuned = tuned_train(train, best)
    assert (tuned.hidden_units, tuned.learning_rate, tuned.epochs, tuned.ensemble) == (
        [16, 8], 0.003, 7, 5)
    assert (tuned.batch_size, tuned.seed, tuned.distribution) == (
        train.batch_size, train.seed, train.distribution)
    # A field the search left out keeps train:'s value.
    assert tuned_train(train, {"values": {"epochs": 2}}).hidden_units == train.hidden_units


def test_piecewise_travels_as_keras_tuner_s_number():
    train = TrainConfig()
    assert train.piecewise is True
    # keras-tuner holds a boolean choice as 1 or 0.
    assert tuned_train(train, {"values": {"piecewise": 0}}).piecewise is False
    assert tuned_train(train, {"values": {"piecewise": 1}}).piecewise is True
    assert TuneConfig(piecewise=[True, False]).piecewise == [True, False]
    with pytest.raises(ValueError, match="more than once"):
        TuneConfig(piecewise=[True, True])
