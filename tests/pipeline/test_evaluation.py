"""build_eval_config: metrics, slices, KPI on the overall slice only, regression bounds."""

import mlpipe  # noqa: F401  (process settings before TensorFlow)
import pytest
import tensorflow_model_analysis as tfma

from mlpipe.config import EvaluationConfig, LabelConfig
from mlpipe.config.metrics import METRICS, PLOTS
from mlpipe.core.contract import TRANSFORM_SIGNATURE
from mlpipe.pipeline.evaluation import build_eval_config

Y = LabelConfig(name="y", column="y")


@pytest.fixture(scope="module")
def eval_config(taxi_config):
    return build_eval_config(taxi_config.evaluation, taxi_config.label)


def _metrics(eval_config):
    [spec] = eval_config.metrics_specs
    return {metric.class_name: metric for metric in spec.metrics}


def test_is_a_tfma_eval_config(eval_config):
    assert isinstance(eval_config, tfma.EvalConfig)


def test_model_spec_reads_label_and_transform_signature(eval_config):
    [model_spec] = eval_config.model_specs
    assert model_spec.label_key == "big_tipper"
    assert model_spec.signature_name == "serving_default"
    assert list(model_spec.preprocessing_function_names) == [TRANSFORM_SIGNATURE]
    assert TRANSFORM_SIGNATURE == "transform_features"


def test_slices_are_overall_then_configured(eval_config, taxi_config):
    specs = list(eval_config.slicing_specs)
    assert specs[0] == tfma.SlicingSpec()
    assert [list(spec.feature_keys) for spec in specs[1:]] == taxi_config.evaluation.slices
    assert [list(spec.feature_keys) for spec in specs[1:]] == [["payment_type"],
                                                                ["trip_start_hour"]]


def test_every_metric_is_reported(eval_config):
    metrics = _metrics(eval_config)
    assert {"AUC", "BinaryAccuracy", "ExampleCount", "Calibration"} <= set(metrics)
    assert set(metrics) == set(METRICS) | set(PLOTS)


def test_kpi_thresholds_apply_to_the_overall_slice_only(eval_config):
    metrics = _metrics(eval_config)
    for class_name, lower in (("AUC", 0.92), ("BinaryAccuracy", 0.85)):
        metric = metrics[class_name]
        # No global threshold (it would apply to every slice) ...
        assert not metric.HasField("threshold")
        # ... one per-slice threshold whose only slice is the overall one (empty SlicingSpec).
        [per_slice] = metric.per_slice_thresholds
        assert list(per_slice.slicing_specs) == [tfma.SlicingSpec()]
        bound = per_slice.threshold.value_threshold
        assert bound.lower_bound.value == pytest.approx(lower)
        assert not bound.HasField("upper_bound")
    # Metrics with no KPI or regression bound carry no threshold at all.
    for class_name in ("Precision", "ExampleCount", "Calibration"):
        assert not metrics[class_name].per_slice_thresholds
        assert not metrics[class_name].HasField("threshold")


def test_max_regression_is_a_change_threshold(eval_config):
    metrics = _metrics(eval_config)
    change = metrics["AUC"].per_slice_thresholds[0].threshold.change_threshold
    assert change.direction == tfma.MetricDirection.HIGHER_IS_BETTER
    assert change.absolute.value == pytest.approx(-0.01)
    # binary_accuracy has a KPI but no regression bound.
    assert not metrics["BinaryAccuracy"].per_slice_thresholds[0].threshold.HasField(
        "change_threshold")


def test_regression_bound_without_kpi():
    evaluation = EvaluationConfig(kpi={}, max_regression={"recall": 0.05})
    metrics = _metrics(build_eval_config(evaluation, Y))
    [per_slice] = metrics["Recall"].per_slice_thresholds
    assert list(per_slice.slicing_specs) == [tfma.SlicingSpec()]
    assert not per_slice.threshold.HasField("value_threshold")
    assert per_slice.threshold.change_threshold.absolute.value == pytest.approx(-0.05)


def test_upper_bound_kpi():
    evaluation = EvaluationConfig(kpi={"mean_prediction": {"max": 0.4}})
    metrics = _metrics(build_eval_config(evaluation, Y))
    bound = metrics["MeanPrediction"].per_slice_thresholds[0].threshold.value_threshold
    assert bound.upper_bound.value == pytest.approx(0.4)
    assert not bound.HasField("lower_bound")


# Metric names and directions are checked when the config is loaded (tests/config), so the
# Evaluator never sees a metric it cannot compute.
@pytest.mark.parametrize("section", [
    {"kpi": {"accuracy": {"min": 0.9}}},
    {"kpi": {"auc": {"min": 0.5}}, "max_regression": {"f1": 0.01}},
    {"kpi": {}, "max_regression": {"mean_label": 0.01}},
    {"kpi": {}, "main_metric": "aucc"},
])
def test_a_metric_tfma_does_not_compute_never_reaches_the_eval_config(section):
    with pytest.raises(ValueError, match="accuracy|f1|mean_label|aucc"):
        EvaluationConfig(**section).check_task("binary")


def test_the_local_evaluator_gets_worker_processes_only_for_a_large_eval_split():
    from mlpipe.config import BeamConfig
    from mlpipe.pipeline.runner_settings import evaluator_runner_args
    beam = BeamConfig()
    assert evaluator_runner_args(beam, eval_rows=5_000, cores=2) == []  # the taxi table
    assert evaluator_runner_args(beam, eval_rows=80_000, cores=1) == []  # one core
    assert evaluator_runner_args(beam, eval_rows=80_000, cores=2) == [
        "--direct_running_mode=multi_processing", "--direct_num_workers=2"]
    assert evaluator_runner_args(beam, eval_rows=10**7, cores=64)[-1] == "--direct_num_workers=4"
    assert evaluator_runner_args(BeamConfig(evaluator_workers=1), 10**7, cores=8) == []
    assert evaluator_runner_args(BeamConfig(evaluator_workers=3), 10, cores=8)[-1] == \
        "--direct_num_workers=3"


def test_the_evaluator_reshuffles_the_batches_before_tfma_s_default_extractors():
    from mlpipe.pipeline.evaluation import custom_extractors
    # Without a model (TFMA needs one only for a spec without its prediction key).
    eval_config = tfma.EvalConfig(model_specs=[tfma.ModelSpec(label_key="y", prediction_key="p")])
    extractors = custom_extractors(eval_shared_model=None, eval_config=eval_config,
                                   tensor_adapter_config=None)
    defaults = tfma.default_extractors(eval_config=eval_config)
    assert extractors[0].stage_name == "ReshuffleBatches"
    assert [e.stage_name for e in extractors[1:]] == [e.stage_name for e in defaults]
