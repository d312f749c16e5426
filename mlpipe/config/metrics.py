"""The metrics an evaluation computes for each task (TFMA class name -> metric key), and which
way is better.

Kept with the config, because the config's KPI, `max_regression` and `main_metric` may name only
the metrics of the problem's task: a misspelt metric, or one TFMA does not compute for the task,
is a ConfigError at load time, not a failure inside the Evaluator.
"""

from typing import Dict, FrozenSet

TASKS = ("binary", "multiclass", "regression")

# Task -> {TFMA metric class -> the key TFMA reports it under}. Every evaluation of a task
# computes all of its metrics. Classes that TFMA does not implement natively (the Keras ones:
# SparseCategoricalAccuracy, RootMeanSquaredError) are looked up in tf.keras.metrics by TFMA.
METRICS_BY_TASK: Dict[str, Dict[str, str]] = {
    "binary": {
        "ExampleCount": "example_count",
        "AUC": "auc",
        "AUCPrecisionRecall": "auc_precision_recall",
        "BinaryAccuracy": "binary_accuracy",
        "Precision": "precision",
        "Recall": "recall",
        "Calibration": "calibration",
        "MeanLabel": "mean_label",
        "MeanPrediction": "mean_prediction",
    },
    "multiclass": {
        "ExampleCount": "example_count",
        "SparseCategoricalAccuracy": "accuracy",
        "SparseCategoricalCrossentropy": "log_loss",
    },
    "regression": {
        "ExampleCount": "example_count",
        "RootMeanSquaredError": "rmse",
        "MeanSquaredError": "mean_squared_error",
        "MeanAbsoluteError": "mean_absolute_error",
        # The square of the Pearson correlation of prediction and label (TFMA's r^2).
        "SquaredPearsonCorrelation": "r_squared",
        "MeanLabel": "mean_label",
        "MeanPrediction": "mean_prediction",
    },
}
# Multiclass: these are computed once per class (TFMA's binarize by class id) and reported with
# the class's name; they cannot be bounded in the KPI (it bounds the overall metrics).
PER_CLASS_METRICS: Dict[str, str] = {"Precision": "precision", "Recall": "recall"}
# Plots are computed too, but have no value a threshold could bound. The regression
# CalibrationPlot is the predicted-vs-actual plot: mean label per bucket of predicted value.
PLOTS_BY_TASK: Dict[str, Dict[str, str]] = {
    "binary": {"ConfusionMatrixPlot": "confusion_matrix_plot",
               "CalibrationPlot": "calibration_plot"},
    "multiclass": {"MultiClassConfusionMatrixPlot": "multi_class_confusion_matrix_plot"},
    "regression": {"CalibrationPlot": "calibration_plot"},
}
DEFAULT_MAIN_METRIC = {"binary": "auc", "multiclass": "accuracy", "regression": "rmse"}

# Kept for binary problems, whose metric set has not changed.
METRICS: Dict[str, str] = METRICS_BY_TASK["binary"]
PLOTS: Dict[str, str] = PLOTS_BY_TASK["binary"]
METRIC_NAMES = frozenset(name for metrics in METRICS_BY_TASK.values() for name in metrics.values())

# Rates of the confusion matrix at threshold 0.5 (TFMA 0.47, metrics/confusion_matrix_metrics.py),
# computed on every slice of the sensitive features when `evaluation.fairness` names them; the
# keys are TFMA's own. Not KPI metrics: only `evaluation.fairness.metrics` may name them.
RATE_METRICS: Dict[str, str] = {
    "FPR": "fpr",                                     # false positive rate: FP / (FP + TN)
    "FNR": "fnr",                                     # false negative rate: FN / (FN + TP)
    "TPR": "tpr",                                     # true positive rate (recall): TP / (TP + FN)
    "TNR": "tnr",                                     # true negative rate: TN / (TN + FP)
    "PredictedPositiveRate": "predicted_positive_rate",  # (TP + FP) / all
    "FalseDiscoveryRate": "false_discovery_rate",     # FP / (FP + TP)
    "FalseOmissionRate": "false_omission_rate",       # FN / (FN + TN)
}
RATE_METRIC_NAMES = frozenset(RATE_METRICS.values())
RATE_METRIC_CLASSES = {name: class_name for class_name, name in RATE_METRICS.items()}
# Metrics with a "better" direction, so "no worse than the baseline" and a KPI floor or ceiling
# mean something.
HIGHER_IS_BETTER = frozenset({"auc", "auc_precision_recall", "binary_accuracy", "precision",
                              "recall", "accuracy", "r_squared"})
LOWER_IS_BETTER = frozenset({"log_loss", "rmse", "mean_squared_error", "mean_absolute_error"})


def metric_names(task: str) -> FrozenSet[str]:
    """The metric keys an evaluation of `task` computes."""
    return frozenset(METRICS_BY_TASK[task].values())


def metric_key(class_name: str) -> str:
    """The key TFMA reports a metric class under (its lowercased name when not listed)."""
    known = {**RATE_METRICS}
    for task in TASKS:
        known.update(METRICS_BY_TASK[task])
        known.update(PLOTS_BY_TASK[task])
    return known.get(class_name, class_name.lower())
