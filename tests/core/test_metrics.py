"""core.metrics: the one AUC, accuracy and RMSE of the parts that score outside TFMA."""

import math

import numpy as np
import pytest

from mlpipe.core.metrics import accuracy, auc, binary_accuracy, rmse


def test_auc_is_the_rank_statistic_with_ties_averaged():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 300)
    scores = np.round(rng.random(300) + labels * 0.3, 1)  # many ties
    pairs = [(p > q) + 0.5 * (p == q) for p in scores[labels == 1] for q in scores[labels == 0]]
    assert auc(labels, scores) == pytest.approx(np.mean(pairs), abs=1e-12)
    assert auc([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4]) == 1.0
    assert auc([0, 0, 1, 1], [0.4, 0.3, 0.2, 0.1]) == 0.0
    assert auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75
    assert auc([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5]) == 0.5


def test_one_rule_for_a_label_of_one_class_auc_is_undefined():
    assert math.isnan(auc([1, 1, 1], [0.1, 0.2, 0.3]))
    assert math.isnan(auc(np.zeros(4), np.array([0.1, 0.2, 0.3, 0.4])))


def test_accuracy_binary_accuracy_and_rmse():
    assert binary_accuracy([0, 1, 1], [0.2, 0.7, 0.4]) == pytest.approx(2 / 3)
    assert accuracy([2, 0], [[0.1, 0.2, 0.7], [0.5, 0.5, 0.0]]) == 1.0  # first on ties
    assert rmse([1.0, 3.0], [2.0, 1.0]) == pytest.approx(math.sqrt(2.5))
    assert all(math.isnan(f([], [])) for f in (binary_accuracy, accuracy, rmse))
