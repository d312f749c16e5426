"""Metric math shared by every part that scores a model outside TFMA (the FeatureAttributions
component, `mlpipe monitor --evaluate`, `mlpipe init`'s leak check): one definition each, with
one rule for a label of a single class (AUC undefined: NaN)."""

import numpy as np


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve by ranks (Mann-Whitney U); tied scores share their mean rank.
    NaN when the labels hold only one class."""
    labels = np.asarray(labels, dtype=float).ravel() > 0.5
    scores = np.asarray(scores, dtype=float).ravel()
    positives = int(labels.sum())
    negatives = labels.size - positives
    if positives == 0 or negatives == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    ordered = scores[order]
    # Runs of equal scores: each member gets the mean of the run's 1-based ranks.
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], ordered.size]
    ranks = np.empty(scores.size)
    ranks[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)
    return float((ranks[labels].sum() - positives * (positives + 1) / 2.0)
                 / (positives * negatives))


def binary_accuracy(labels: np.ndarray, scores: np.ndarray) -> float:
    """Share of rows where `score > 0.5` agrees with the 0/1 label (Keras' / TFMA's rule)."""
    labels = np.asarray(labels, dtype=float).ravel() > 0.5
    scores = np.asarray(scores, dtype=float).ravel()
    return float(np.mean((scores > 0.5) == labels)) if labels.size else float("nan")


def accuracy(labels: np.ndarray, scores: np.ndarray) -> float:
    """multiclass: share of rows whose highest score (first on ties, as argmax) is at the label's
    class index (Keras' SparseCategoricalAccuracy). `scores` is rows x classes."""
    labels = np.asarray(labels, dtype=float).ravel()
    scores = np.asarray(scores, dtype=float)
    if not labels.size:
        return float("nan")
    return float(np.mean(np.argmax(scores.reshape(labels.size, -1), axis=1) == labels))


def rmse(labels: np.ndarray, values: np.ndarray) -> float:
    """regression: root mean squared error of the predicted values."""
    labels = np.asarray(labels, dtype=float).ravel()
    values = np.asarray(values, dtype=float).ravel()
    return float(np.sqrt(np.mean((values - labels) ** 2))) if labels.size else float("nan")
