"""The thresholds TFMA applied, read back with each value and margin (report and model card)."""

import mlpipe  # noqa: F401  (process environment before TensorFlow)
import pytest

from mlpipe.config import load_config
from mlpipe.core.thresholds import threshold_checks
from mlpipe.pipeline.evaluation import build_eval_config


def test_threshold_margins():
    config = build_eval_config(load_config().evaluation, load_config().label)
    checks = threshold_checks(config, {"auc": 0.93, "binary_accuracy": 0.84}, None)
    by_metric = {(c.metric, c.kind): c for c in checks}
    assert by_metric[("auc", "kpi")].margin == pytest.approx(0.93 - 0.92)
    assert by_metric[("auc", "kpi")].passed is True
    assert by_metric[("binary_accuracy", "kpi")].passed is False
    assert by_metric[("binary_accuracy", "kpi")].margin == pytest.approx(0.84 - 0.85)
    assert by_metric[("auc", "regression")].passed is None  # no baseline
    regression = threshold_checks(config, {"auc": 0.93}, {"auc": 0.935})
    change = next(c for c in regression if c.kind == "regression")
    assert change.value == pytest.approx(-0.005) and change.passed is True
    assert change.margin == pytest.approx(-0.005 + 0.01)


def test_a_missing_value_fails_its_bound():
    config = build_eval_config(load_config().evaluation, load_config().label)
    auc = next(c for c in threshold_checks(config, {}, None) if c.kind == "kpi")
    assert auc.passed is False and auc.margin is None
