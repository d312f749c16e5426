"""The metrics an evaluation computes (TFMA class name -> metric key) and which way is better.

Kept with the config, because the config's KPI, `max_regression` and `main_metric` may name only
these: a misspelt metric is a ConfigError at load time, not a failure inside the Evaluator.
"""

from typing import Dict

# TFMA metric class -> the key TFMA reports it under. Every evaluation computes all of them.
METRICS: Dict[str, str] = {
    "ExampleCount": "example_count",
    "AUC": "auc",
    "AUCPrecisionRecall": "auc_precision_recall",
    "BinaryAccuracy": "binary_accuracy",
    "Precision": "precision",
    "Recall": "recall",
    "Calibration": "calibration",
    "MeanLabel": "mean_label",
    "MeanPrediction": "mean_prediction",
}
# Plots are computed too, but have no value a threshold could bound.
PLOTS: Dict[str, str] = {
    "ConfusionMatrixPlot": "confusion_matrix_plot",
    "CalibrationPlot": "calibration_plot",
}
METRIC_NAMES = frozenset(METRICS.values())
# Metrics with a "better" direction, so "no worse than the baseline" means something.
HIGHER_IS_BETTER = frozenset({"auc", "auc_precision_recall", "binary_accuracy", "precision",
                              "recall"})


def metric_key(class_name: str) -> str:
    """The key TFMA reports a metric class under (its lowercased name when not listed)."""
    return {**METRICS, **PLOTS}.get(class_name, class_name.lower())
