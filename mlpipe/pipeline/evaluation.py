"""The TFMA EvalConfig built from the problem config: metrics, slices, KPI and regression bounds."""

import tensorflow_model_analysis as tfma

from mlpipe.config import EvaluationConfig
from mlpipe.config.metrics import METRICS, PLOTS
from mlpipe.core.contract import SERVING_SIGNATURE, TRANSFORM_SIGNATURE


def build_eval_config(evaluation: EvaluationConfig, label_key: str) -> tfma.EvalConfig:
    """Metric names and directions were checked when the config was loaded."""
    return tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(signature_name=SERVING_SIGNATURE, label_key=label_key,
                                    preprocessing_function_names=[TRANSFORM_SIGNATURE])],
        slicing_specs=[tfma.SlicingSpec()] + [tfma.SlicingSpec(feature_keys=keys)
                                              for keys in evaluation.slices],
        metrics_specs=[tfma.MetricsSpec(metrics=[
            _metric_config(evaluation, class_name, name)
            for class_name, name in {**METRICS, **PLOTS}.items()])])


def _metric_config(evaluation: EvaluationConfig, class_name: str, name: str) -> tfma.MetricConfig:
    """Thresholds bound the overall slice only: a small slice (say, 'No Charge' trips with no
    positive example) has no meaningful AUC and must not veto a model."""
    threshold = _threshold(evaluation, name)
    if threshold is None:
        return tfma.MetricConfig(class_name=class_name)
    return tfma.MetricConfig(class_name=class_name, per_slice_thresholds=[
        tfma.PerSliceMetricThreshold(slicing_specs=[tfma.SlicingSpec()], threshold=threshold)])


def _threshold(evaluation: EvaluationConfig, metric: str):
    bound = evaluation.kpi.get(metric)
    regression = evaluation.max_regression.get(metric)
    if bound is None and regression is None:
        return None
    threshold = tfma.MetricThreshold()
    if bound is not None:
        if bound.min is not None:
            threshold.value_threshold.lower_bound.value = bound.min
        if bound.max is not None:
            threshold.value_threshold.upper_bound.value = bound.max
    if regression is not None:
        threshold.change_threshold.direction = tfma.MetricDirection.HIGHER_IS_BETTER
        threshold.change_threshold.absolute.value = -regression
    return threshold

