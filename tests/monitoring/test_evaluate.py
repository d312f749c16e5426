"""The rank-based AUC of `monitor --evaluate`."""

import numpy as np
import pytest

from mlpipe.monitoring.evaluate import auc


def test_rank_auc_matches_the_pairwise_definition():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 300)
    scores = np.round(rng.random(300) + labels * 0.3, 1)  # many ties
    pairs = [(s_pos > s_neg) + 0.5 * (s_pos == s_neg)
             for s_pos in scores[labels == 1] for s_neg in scores[labels == 0]]
    assert auc(labels, scores) == pytest.approx(np.mean(pairs))
    assert np.isnan(auc(np.ones(3), np.array([0.1, 0.2, 0.3])))
