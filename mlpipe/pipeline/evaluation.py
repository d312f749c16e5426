"""The TFMA EvalConfig built from the problem config: the metrics and plots of the label's task,
slices, KPI and regression bounds, and, with an `evaluation.fairness` section, the rate metrics on
every slice of each sensitive feature (judged by the FairnessGate, not by TFMA thresholds: see
mlpipe/components/fairness_gate)."""

import json

import apache_beam as beam
import tensorflow_model_analysis as tfma

from mlpipe.config import EvaluationConfig, LabelConfig
from mlpipe.config.metrics import (LOWER_IS_BETTER, METRICS_BY_TASK, PER_CLASS_METRICS,
                                   PLOTS_BY_TASK, RATE_METRIC_CLASSES)
from mlpipe.core.contract import PREDICTION_KEY, SERVING_SIGNATURE, TRANSFORM_SIGNATURE

# Buckets of the regression predicted-vs-actual plot.
PLOT_BUCKETS = 40
# The model is called through its signatures only. Named, TFMA loads it once per worker with
# tf.saved_model.load; unnamed, TFX's Evaluator and TFMA each first load it as a Keras model just
# to find its type (two loads more, ~3 s on the taxi run; benchmarks/bench_scale.py).
MODEL_TYPE = tfma.TF_GENERIC


def build_eval_config(evaluation: EvaluationConfig, label: LabelConfig) -> tfma.EvalConfig:
    """Metric names and directions were checked against the task when the config was loaded."""
    task = label.task
    metrics = [_metric_config(evaluation, class_name, name)
               for class_name, name in METRICS_BY_TASK[task].items()]
    metrics += [_plot_config(evaluation, class_name, name)
                for class_name, name in PLOTS_BY_TASK[task].items()]
    return tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(signature_name=SERVING_SIGNATURE, label_key=label.name,
                                    prediction_key=PREDICTION_KEY[task],
                                    preprocessing_function_names=[TRANSFORM_SIGNATURE],
                                    model_type=MODEL_TYPE)],
        slicing_specs=[tfma.SlicingSpec()] + [tfma.SlicingSpec(feature_keys=keys)
                                              for keys in _slices(evaluation)],
        metrics_specs=[tfma.MetricsSpec(metrics=metrics + _rate_metrics(evaluation))]
        + _per_class_metrics(label),
        options=_options(evaluation))


def _per_class_metrics(label: LabelConfig):
    """multiclass: precision and recall of each class (one-vs-rest, by class id; the report
    names the class)."""
    if label.task != "multiclass":
        return []
    return [tfma.MetricsSpec(
        metrics=[tfma.MetricConfig(class_name=class_name) for class_name in PER_CLASS_METRICS],
        binarize=tfma.BinarizationOptions(class_ids={"values": list(range(len(label.classes)))}))]


def _plot_config(evaluation: EvaluationConfig, class_name: str, name: str) -> tfma.MetricConfig:
    """The regression CalibrationPlot spans the label's range (`evaluation.plot_range`): TFMA's
    default [0, 1] suits probabilities only."""
    if class_name == "CalibrationPlot" and evaluation.plot_range is not None:
        low, high = evaluation.plot_range
        return tfma.MetricConfig(class_name=class_name, config=json.dumps(
            {"name": name, "left": low, "right": high, "num_buckets": PLOT_BUCKETS}))
    return tfma.MetricConfig(class_name=class_name)


def _options(evaluation: EvaluationConfig) -> tfma.Options:
    """With `evaluation.confidence_intervals`, 95% confidence intervals for every metric (TFMA's
    default method, the jackknife over 20 buckets), shown on the model card. The metric values
    themselves, and so the thresholds TFMA judges, are still those computed on all the examples.
    Off by default: on the 2,000-row test run they made the Evaluator 15 times slower (35 s ->
    536 s; benchmarks/bench_confidence_intervals.py)."""
    options = tfma.Options()
    options.compute_confidence_intervals.value = evaluation.confidence_intervals
    # By default TFMA also recomputes the metrics compiled into the Keras model beside the
    # configured ones (its keras_util path: one more combiner per slice, a model load per
    # combiner, autograph of the Keras metric code): the training `loss`, and Keras's own `auc`
    # and `binary_accuracy` under the same names as the configured ones (Keras's AUC uses 200
    # thresholds: 0.9455 against TFMA's 0.9461 on the taxi run). Off, the Evaluator is 1.9x
    # faster on the taxi eval split (80 s -> 42 s on 10,000 rows), each name has one value, and
    # every configured metric, plot and threshold is unchanged
    # (tests/pipeline/test_evaluation_speed.py).
    options.include_default_metrics.value = False
    return options


def _slices(evaluation: EvaluationConfig):
    """The configured slices, then each sensitive feature not already sliced on its own."""
    slices = [list(keys) for keys in evaluation.slices]
    if evaluation.fairness is not None:
        slices += [[name] for name in evaluation.fairness.features if [name] not in slices]
    return slices


def _rate_metrics(evaluation: EvaluationConfig):
    """The rate metrics the fairness section bounds, without TFMA thresholds (TFMA would judge
    every slice, however small; the FairnessGate judges them)."""
    if evaluation.fairness is None:
        return []
    return [tfma.MetricConfig(class_name=RATE_METRIC_CLASSES[name])
            for name in sorted(evaluation.fairness.metrics)]


def _metric_config(evaluation: EvaluationConfig, class_name: str, name: str) -> tfma.MetricConfig:
    """Thresholds bound the overall slice only: a small slice (say, 'No Charge' trips with no
    positive example) has no meaningful AUC and must not veto a model."""
    config = json.dumps({"name": name})
    threshold = _threshold(evaluation, name)
    if threshold is None:
        return tfma.MetricConfig(class_name=class_name, config=config)
    return tfma.MetricConfig(class_name=class_name, config=config, per_slice_thresholds=[
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
        # "At most `regression` worse than the baseline", worse being down or up by metric.
        if metric in LOWER_IS_BETTER:
            threshold.change_threshold.direction = tfma.MetricDirection.LOWER_IS_BETTER
            threshold.change_threshold.absolute.value = regression
        else:
            threshold.change_threshold.direction = tfma.MetricDirection.HIGHER_IS_BETTER
            threshold.change_threshold.absolute.value = -regression
    return threshold


def custom_extractors(eval_shared_model, eval_config, tensor_adapter_config):
    """TFMA's default extractors after a Reshuffle of the batches read (TFX's Evaluator calls
    this through its `module_path`).

    TFX's Evaluator reads the eval split, runs the model and TFMA's per-example metric combiners
    in one fused Beam stage. A gzipped file is not splittable, so that stage has one element to
    start from, and a runner cannot hand its work to more than one worker; after the Reshuffle
    the batches are the stage's input and are shared among the workers. Measured on 80,281
    taxi eval rows, two DirectRunner worker processes: 122 s in one process, 134 s with two
    workers without the Reshuffle, 70 s with it (same metrics). Dataflow shares them too."""
    reshuffle = tfma.extractors.Extractor(stage_name="ReshuffleBatches",
                                          ptransform=beam.Reshuffle())
    return [reshuffle, *tfma.default_extractors(eval_shared_model=eval_shared_model,
                                                eval_config=eval_config,
                                                tensor_adapter_config=tensor_adapter_config)]
