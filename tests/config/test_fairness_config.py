"""evaluation.fairness: sensitive features, rate metrics and bounds are checked at load time."""

import mlpipe  # noqa: F401  (process settings before TensorFlow)
import pytest

from mlpipe.config import ConfigError, EvaluationConfig, FairnessConfig, load_config
from mlpipe.config.metrics import RATE_METRIC_NAMES, RATE_METRICS, metric_key
from tests.support import configs

FAIRNESS = {"features": ["payment_type"],
            "metrics": {"fpr": {"max": 0.3, "max_gap": 0.1}, "fnr": {"max_gap": 0.15}}}


def _write(tmp_path, fairness=None, **evaluation_changes):
    def edit(raw):
        if fairness is not None:
            raw["evaluation"]["fairness"] = fairness
        raw["evaluation"].update(evaluation_changes)
    return configs.write_config(tmp_path / "problem.yaml", edit=edit)


def _config_error(path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return str(caught.value)


def test_shipped_config_has_no_fairness_section(taxi_config):
    assert taxi_config.evaluation.fairness is None
    assert taxi_config.evaluation.fairness_min_slice_size == taxi_config.evaluation.min_slice_size


def test_a_fairness_section_loads(tmp_path):
    config = load_config(_write(tmp_path, FAIRNESS))
    fairness = config.evaluation.fairness
    assert isinstance(fairness, FairnessConfig)
    assert fairness.features == ["payment_type"]
    assert fairness.metrics["fpr"].max == pytest.approx(0.3)
    assert fairness.metrics["fpr"].max_gap == pytest.approx(0.1)
    assert fairness.metrics["fpr"].min is None
    assert fairness.metrics["fnr"].max_gap == pytest.approx(0.15)


def test_min_slice_size_defaults_to_the_evaluation_one(tmp_path):
    config = load_config(_write(tmp_path, FAIRNESS, min_slice_size=250))
    assert config.evaluation.fairness.min_slice_size is None
    assert config.evaluation.fairness_min_slice_size == 250
    config = load_config(_write(tmp_path, {**FAIRNESS, "min_slice_size": 40}))
    assert config.evaluation.fairness_min_slice_size == 40


def test_rate_metrics_are_tfma_keys():
    """Each class is one TFMA resolves a MetricConfig's class_name to (its registry), and TFMA
    reports it under the key the config uses."""
    from tensorflow_model_analysis.metrics import metric_types
    registered = metric_types.registered_metrics()
    for class_name, key in RATE_METRICS.items():
        metric = registered[class_name]()
        assert metric.name == key, class_name
        assert metric_key(class_name) == key
    assert {"fpr", "fnr"} <= RATE_METRIC_NAMES


def test_an_unknown_metric_is_named(tmp_path):
    message = _config_error(_write(tmp_path, {**FAIRNESS,
                                              "metrics": {"false_positive_rat": {"max": 0.3}}}))
    assert "evaluation.fairness.metrics" in message
    assert "false_positive_rat" in message and "fpr" in message


def test_a_kpi_metric_is_not_a_rate_metric(tmp_path):
    message = _config_error(_write(tmp_path, {**FAIRNESS, "metrics": {"auc": {"min": 0.8}}}))
    assert "unknown rate metric" in message and "'auc'" in message


def test_a_rate_metric_is_not_a_kpi(tmp_path):
    message = _config_error(_write(tmp_path, kpi={"fpr": {"max": 0.2}}))
    assert "evaluation.kpi" in message and "fpr" in message


def test_a_feature_that_is_not_a_feature_is_named(tmp_path):
    message = _config_error(_write(tmp_path, {**FAIRNESS, "features": ["payment_type", "tips"]}))
    assert "evaluation.fairness.features" in message and "'tips'" in message
    assert "not features" in message


@pytest.mark.parametrize("bound, words", [
    ({}, "give 'max', 'min', 'max_gap'"),
    ({"max": 0.2, "min": 0.5}, "above 'max'"),
    ({"max": 1.5}, "less than or equal to 1"),
    ({"max_gap": -0.1}, "greater than or equal to 0"),
    ({"maximum": 0.3}, "Extra inputs are not permitted"),
])
def test_bad_bounds_are_errors(tmp_path, bound, words):
    message = _config_error(_write(tmp_path, {**FAIRNESS, "metrics": {"fpr": bound}}))
    assert "evaluation.fairness.metrics.fpr" in message and words in message


@pytest.mark.parametrize("fairness, words", [
    ({**FAIRNESS, "features": []}, "at least 1 item"),
    ({**FAIRNESS, "metrics": {}}, "at least 1 item"),
    ({**FAIRNESS, "features": ["company", "company"]}, "more than once"),
    ({**FAIRNESS, "min_slice_size": 0}, "greater than or equal to 1"),
    ({**FAIRNESS, "slices": ["company"]}, "Extra inputs are not permitted"),
])
def test_bad_sections_are_errors(tmp_path, fairness, words):
    message = _config_error(_write(tmp_path, fairness))
    assert "evaluation.fairness" in message and words in message


def test_section_in_code():
    evaluation = EvaluationConfig(kpi={}, min_slice_size=30, fairness={
        "features": ["group"], "metrics": {"fpr": {"max": 0.3}}})
    assert evaluation.fairness_min_slice_size == 30
    with pytest.raises(ValueError, match="unknown rate metric"):
        EvaluationConfig(kpi={}, fairness={"features": ["g"], "metrics": {"recall": {"min": 1}}})
