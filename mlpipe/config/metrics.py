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
# Metrics with a "better" direction, so "no worse than the baseline" means something.
HIGHER_IS_BETTER = frozenset({"auc", "auc_precision_recall", "binary_accuracy", "precision",
                              "recall"})


def metric_key(class_name: str) -> str:
    """The key TFMA reports a metric class under (its lowercased name when not listed)."""
    return {**METRICS, **RATE_METRICS, **PLOTS}.get(class_name, class_name.lower())
