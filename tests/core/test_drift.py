"""mlpipe.core.drift on real TFDV statistics of small generated tables: an outlier moves
nothing, a real shift is seen and described, chance is accounted for, blanks count the same
whichever way a reader wrote them."""

import numpy as np
import pandas as pd
import pytest
import tensorflow_data_validation as tfdv
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import statistics_pb2

import mlpipe  # noqa: F401  (process settings before TensorFlow)
from mlpipe.core import drift

NUMERIC, CATEGORICAL = 0.1, 0.08


def _statistics(frame: pd.DataFrame):
    return tfdv.generate_statistics_from_dataframe(frame,
                                                   stats_options=drift.statistics_options())


def _compare(before: pd.DataFrame, after: pd.DataFrame):
    found = drift.compare(_statistics(before), _statistics(after), list(before.columns),
                          NUMERIC, CATEGORICAL, {})
    return {d.feature: d for d in found}


def _trips(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"miles": rng.lognormal(0.5, 1.0, rows),
                         "payment": rng.choice(["cash", "card", "app"], rows, p=[.6, .3, .1])})


def test_one_outlier_moves_no_edge():
    """TFDV's equal-width histograms span [min, max]: one 1,710-mile trip put every other trip
    into the first bucket. Bins fixed by the baseline's deciles do not move."""
    before, after = _trips(5000, 1), _trips(5000, 2)
    after.loc[0, "miles"] = 1710.0
    measured = _compare(before, after)["miles"]
    assert measured.measure == drift.PSI and not measured.drifted
    assert measured.value < 0.01
    assert measured.moved["quantiles"]["max"][1] == 1710.0
    assert measured.moved["outside_baseline_range"] == 0  # one row: inside its top bucket


def test_a_shifted_mean_drifts_and_says_how():
    before, after = _trips(5000, 1), _trips(5000, 2)
    after["miles"] += 0.5 * before["miles"].std()
    measured = _compare(before, after)["miles"]
    unit_change = _trips(5000, 2)
    unit_change["miles"] *= 100
    assert _compare(before, unit_change)["miles"].moved["outside_baseline_range"] > 0.5
    assert measured.drifted and measured.value > NUMERIC
    p50_before, p50_after = measured.moved["quantiles"]["p50"]
    assert p50_after - p50_before == pytest.approx(0.5 * before["miles"].std(), rel=0.1)
    assert drift.describe(measured.measure, measured.moved).startswith("p10 ")


def test_a_new_value_is_pooled_as_unseen_and_named():
    before, after = _trips(5000, 1), _trips(5000, 2)
    after.loc[after.index[:1000], "payment"] = "crypto"
    measured = _compare(before, after)["payment"]
    assert measured.measure == drift.L_INFINITY and measured.drifted
    label, share_before, share_after = measured.moved["values"][0]
    assert (label, share_before) == (drift.UNSEEN, 0.0)
    assert share_after == pytest.approx(0.2, abs=0.001)
    assert "(unseen) 0.0% -> 20.0%" in drift.describe(measured.measure, measured.moved)


def test_a_small_sample_is_judged_against_chance():
    """A 12-13 point move of a share: chance at 30 rows, drift at 5,000."""
    before = pd.DataFrame({"payment": ["cash"] * 5000 + ["card"] * 5000})
    small = pd.DataFrame({"payment": ["cash"] * 19 + ["card"] * 11})
    large = pd.DataFrame({"payment": ["cash"] * 3100 + ["card"] * 1900})
    on_small, on_large = _compare(before, small)["payment"], _compare(before, large)["payment"]
    assert on_small.value > CATEGORICAL and on_large.value > CATEGORICAL
    assert on_small.chance > on_small.value and not on_small.drifted
    assert on_large.chance < CATEGORICAL and on_large.drifted


def test_chance_level_shrinks_with_rows_and_grows_with_bins():
    assert drift.chance_level(11, 500, 10_000, drift.PSI) > \
        drift.chance_level(11, 5000, 10_000, drift.PSI)
    assert drift.chance_level(30, 5000, 10_000, drift.PSI) > \
        drift.chance_level(11, 5000, 10_000, drift.PSI)
    assert drift.chance_level(4, 0, 10_000, drift.L_INFINITY) == float("inf")


def _one_feature_statistics(text: str):
    return text_format.Parse(text, statistics_pb2.DatasetFeatureStatisticsList())


def test_an_empty_value_list_is_missing_like_an_absent_feature():
    """TFX's ExampleGens write a blank cell as an empty list (TFDV: present, no value); TFDV
    reading a CSV leaves it absent. Both are 2 missing of 10 rows."""
    empty_lists = _one_feature_statistics("""datasets { num_examples: 10 features {
        path { step: "company" } string_stats { common_stats {
        num_non_missing: 10 max_num_values: 1 tot_num_values: 8 }
        rank_histogram { buckets { label: "a" sample_count: 8 } } } } }""")
    absent = _one_feature_statistics("""datasets { num_examples: 10 features {
        path { step: "company" } string_stats { common_stats {
        num_non_missing: 8 num_missing: 2 max_num_values: 1 min_num_values: 1
        tot_num_values: 8 }
        rank_histogram { buckets { label: "a" sample_count: 8 } } } } }""")
    assert drift.distributions(empty_lists)["company"].missing == 2
    assert drift.distributions(absent)["company"].missing == 2
    [measured] = drift.compare(empty_lists, absent, ["company"], NUMERIC, CATEGORICAL, {})
    assert measured.value == 0


def test_a_feature_s_own_threshold_and_features_on_one_side_only():
    before, after = _trips(2000, 1), _trips(2000, 2)
    found = drift.compare(_statistics(before), _statistics(after.drop(columns=["payment"])),
                          ["miles", "payment", "absent"], NUMERIC, CATEGORICAL,
                          {"miles": 0.5})
    assert [(d.feature, d.threshold) for d in found] == [("miles", 0.5)]
