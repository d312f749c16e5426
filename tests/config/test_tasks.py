"""The label's task in the config: what each task needs, and the metrics, bounds and sections
that fit it, checked at load time (exit 2 naming the field), never inside a component."""


import mlpipe  # noqa: F401  (process settings before TensorFlow)
import pytest

from mlpipe.config import ConfigError, load_config
from mlpipe.config.metrics import DEFAULT_MAIN_METRIC, metric_names
from tests.support import configs
from tests.support.cli import run_mlpipe

FEATURES = {"numeric": ["trip_miles", "trip_seconds"], "categorical": ["payment_type"]}


def _problem(tmp_path, label, evaluation, name="problem.yaml"):
    def edit(raw):
        raw["label"] = label
        raw["features"] = dict(FEATURES)
        raw["evaluation"] = evaluation
    return configs.write_config(tmp_path / name, edit=edit)


MULTICLASS = {"name": "payment", "task": "multiclass", "column": "company",
              "classes": ["Flash Cab", "Taxi Affiliation Services", "Dispatch Taxi Affiliation"]}
REGRESSION = {"name": "fare_value", "task": "regression", "column": "fare"}


def _error(path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return str(caught.value)


def test_a_multiclass_problem_loads_with_its_default_main_metric(tmp_path):
    config = load_config(_problem(tmp_path, MULTICLASS, {"kpi": {"accuracy": {"min": 0.5}}}))
    assert config.label.task == "multiclass"
    assert config.evaluation.main_metric == DEFAULT_MAIN_METRIC["multiclass"] == "accuracy"
    assert config.label.class_index("Flash Cab") == 0
    assert config.label.class_index("Dispatch Taxi Affiliation") == 2
    assert config.label.class_index("Yellow Cab") is None


def test_integer_classes_match_as_numbers():
    from mlpipe.config import LabelConfig
    label = LabelConfig(name="y", task="multiclass", column="c", classes=[1, 2, 3])
    assert label.classes == ["1", "2", "3"]
    assert label.class_index("2.0") == 1 and label.class_index("4") is None


def test_a_regression_problem_loads_with_rmse_as_main_metric(tmp_path):
    config = load_config(_problem(tmp_path, REGRESSION, {
        "kpi": {"rmse": {"max": 5.0}}, "max_regression": {"rmse": 0.5},
        "plot_range": [0, 60]}))
    assert config.evaluation.main_metric == "rmse"
    assert config.evaluation.plot_range == [0.0, 60.0]


@pytest.mark.parametrize("label, evaluation, expected", [
    (REGRESSION, {"kpi": {"auc": {"min": 0.7}}},
     "evaluation.kpi: ['auc'] not computed for a regression problem; allowed: "),
    (MULTICLASS, {"kpi": {"binary_accuracy": {"min": 0.7}}},
     "evaluation.kpi: ['binary_accuracy'] not computed for a multiclass problem"),
    ({"name": "y", "column": "tips"}, {"kpi": {"rmse": {"max": 2}}},
     "['rmse'] not computed for a binary problem"),
    (REGRESSION, {"kpi": {}, "main_metric": "accuracy"},
     "evaluation.main_metric: ['accuracy'] not computed for a regression problem"),
    (REGRESSION, {"kpi": {"rmse": {"min": 1.0}}},
     "evaluation.kpi.rmse: lower is better, so the KPI is a ceiling: give 'max'"),
    (MULTICLASS, {"kpi": {"accuracy": {"max": 0.9}}},
     "evaluation.kpi.accuracy: higher is better, so the KPI is a floor: give 'min'"),
    (REGRESSION, {"kpi": {}, "max_regression": {"mean_label": 0.1}},
     "evaluation.max_regression: ['mean_label'] have no 'better' direction"),
    (MULTICLASS, {"kpi": {}, "plot_range": [0, 1]},
     "evaluation.plot_range is for regression, not multiclass"),
    (REGRESSION, {"kpi": {}, "fairness": {"features": ["payment_type"],
                                          "metrics": {"fpr": {"max_gap": 0.1}}}},
     "evaluation.fairness bounds rates of a binary classifier; this problem is regression"),
])
def test_metrics_that_do_not_fit_the_task_are_config_errors(tmp_path, label, evaluation,
                                                            expected):
    message = _error(_problem(tmp_path, label, evaluation))
    assert expected in message
    if "allowed" in expected:
        assert str(sorted(metric_names("regression"))) in message


@pytest.mark.parametrize("label, expected", [
    ({**MULTICLASS, "classes": None}, "a multiclass label needs 'classes'"),
    ({**MULTICLASS, "classes": ["a"]}, "a multiclass label needs 'classes': at least two"),
    ({**MULTICLASS, "classes": ["a", "b", "a"]}, "class(s) ['a'] listed more than once"),
    ({**MULTICLASS, "positive_class": "a"}, "'positive_class' is for binary labels"),
    ({**REGRESSION, "classes": ["a", "b"]}, "'classes' is for multiclass labels, not regression"),
    ({"name": "y", "task": "regression",
      "derive": {"numerator": "tips", "denominator": "fare", "threshold": 0.2}},
     "a regression label needs 'column'"),
    ({**REGRESSION, "task": "ranking"}, "label.task: Input should be 'binary', 'multiclass' or "
                                        "'regression'"),
])
def test_labels_that_do_not_fit_the_task_are_config_errors(tmp_path, label, expected):
    message = _error(_problem(tmp_path, label, {"kpi": {}}))
    assert expected in message


def test_the_cli_exits_2_naming_the_field_and_writes_no_run_home(tmp_path):
    path = _problem(tmp_path, REGRESSION, {"kpi": {"auc": {"min": 0.7}}})
    completed = run_mlpipe("run", "--config", str(path), "--home", str(tmp_path / "runs"))
    assert completed.returncode == 2, completed.stderr
    assert "evaluation.kpi: ['auc'] not computed for a regression problem" in completed.stderr
    assert not (tmp_path / "runs").exists()
