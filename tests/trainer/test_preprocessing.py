"""preprocessing_fn run for real through tf.Transform's Beam implementation on a few taxi rows."""

import functools

import mlpipe  # noqa: F401  (process settings before TensorFlow)
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils

from mlpipe.config import FeaturesConfig, LabelConfig, TrainConfig
from mlpipe.trainer import features as names
from mlpipe.trainer import preprocessing
from mlpipe.trainer.features import ProblemSpec
from mlpipe.trainer.preprocessing import preprocessing_fn

PAYMENT_TYPES = ["Cash", "Credit Card", "Cash", "No Charge", "Cash", "Credit Card"]
COMPANIES = ["Flash Cab", "Taxi Affiliation Services", "Flash Cab", "Blue Ribbon Taxi"]
N_ROWS = 30
# Rows whose trip_seconds / pickup_latitude / company is missing.
MISSING_SECONDS = {3, 11, 20}
MISSING_LATITUDE = {0, 7, 15, 22}
MISSING_COMPANY = {5, 17}
ZERO_FARE = {4, 26}


def _raw_rows():
    rows = []
    for i in range(N_ROWS):
        fare = 0.0 if i in ZERO_FARE else 4.0 + (i * 7) % 23
        # Tips alternate around the 20% threshold; exactly 20% is not "above".
        tips = {0: 0.0, 1: 0.1 * fare, 2: 0.3 * fare, 3: 0.2 * fare}[i % 4]
        if i in ZERO_FARE:
            tips = 2.0  # tips but no fare: the label cannot be derived and counts as 0
        rows.append({
            "pickup_community_area": [1 + i % 77],
            "fare": [fare],
            "trip_start_month": [1 + i % 12],
            "trip_start_hour": [i % 24],
            "trip_start_day": [1 + i % 7],
            "trip_start_timestamp": [1400000000 + 900 * i],
            "pickup_latitude": [] if i in MISSING_LATITUDE else [41.80 + 0.01 * i],
            "pickup_longitude": [-87.70 + 0.005 * i],
            "dropoff_latitude": [41.95 - 0.005 * i],
            "dropoff_longitude": [-87.60 - 0.003 * i],
            "trip_miles": [0.5 + (i * 13) % 17],
            "pickup_census_tract": [],
            "dropoff_census_tract": [],
            "payment_type": [PAYMENT_TYPES[i % len(PAYMENT_TYPES)].encode()],
            "company": [] if i in MISSING_COMPANY else [COMPANIES[i % len(COMPANIES)].encode()],
            "trip_seconds": [] if i in MISSING_SECONDS else [60 * (1 + (i * 11) % 29)],
            "dropoff_community_area": [1 + (3 * i) % 77],
            "tips": [tips],
        })
    return rows


def _present(rows, column):
    return np.array([row[column][0] if row[column] else np.nan for row in rows], dtype=float)


@pytest.fixture(scope="module")
def spec(taxi_config):
    # With the indicators the shipped config leaves out: the taxi rows lack some trip_seconds.
    features = taxi_config.features.model_copy(update={"missing_indicators": True})
    return ProblemSpec(label=taxi_config.label, features=features, train=taxi_config.train)


@pytest.fixture(scope="module")
def transformed(tmp_path_factory, taxi_schema, spec):
    """(raw rows, transformed rows, TFTransformOutput) from one real AnalyzeAndTransformDataset."""
    raw = _raw_rows()
    metadata = dataset_metadata.DatasetMetadata(taxi_schema)
    temp_dir = tmp_path_factory.mktemp("tft")
    output_dir = str(tmp_path_factory.mktemp("transform_output"))
    fn = functools.partial(preprocessing_fn, custom_config=spec.to_custom_config())
    with tft_beam.Context(temp_dir=str(temp_dir), force_tf_compat_v1=False):
        (rows, _), transform_fn = (
            (raw, metadata) | tft_beam.AnalyzeAndTransformDataset(fn))
        _ = transform_fn | tft_beam.WriteTransformFn(output_dir)
    assert len(rows) == N_ROWS
    return raw, rows, tft.TFTransformOutput(output_dir)


def _column(rows, key):
    return np.array([np.asarray(row[key]).reshape(-1)[0] for row in rows])


def test_outputs_are_exactly_the_named_features_and_label(transformed, spec):
    _, rows, _ = transformed
    expected = ({names.numeric_key(n) for n in spec.features.numeric}
                | {names.missing_key(n) for n in spec.features.numeric}
                | {names.categorical_key(n) for n in spec.features.categorical}
                | {names.bucket_key(n) for n in spec.features.bucketized}
                | {spec.label_key})
    assert set(rows[0]) == expected


def test_label_is_tips_above_20_percent_of_fare(transformed, spec):
    raw, rows, output = transformed
    labels = _column(rows, spec.label_key)
    fare, tips = _present(raw, "fare"), _present(raw, "tips")
    expected = np.where((fare > 0) & (tips > 0.2 * fare), 1, 0)
    np.testing.assert_array_equal(labels, expected)
    # Zero fare is never a big tipper, even with tips; every kind of row is in the data.
    assert all(labels[i] == 0 for i in ZERO_FARE)
    assert {0, 1} == set(labels.tolist())
    assert labels.dtype.kind == "i"
    assert output.transformed_feature_spec()[spec.label_key].dtype == tf.int64


@pytest.mark.parametrize("name", ["fare", "trip_miles", "trip_seconds"])
def test_numeric_features_are_z_scored_over_present_values(transformed, name):
    raw, rows, output = transformed
    values = _present(raw, name)
    z = _column(rows, names.numeric_key(name))
    present = ~np.isnan(values)
    assert output.transformed_feature_spec()[names.numeric_key(name)].dtype == tf.float32
    # Present values: mean 0, (population) std 1, same order as the raw values.
    assert abs(z[present].mean()) < 1e-4
    assert abs(z[present].std() - 1.0) < 1e-3
    expected = (values[present] - values[present].mean()) / values[present].std()
    np.testing.assert_allclose(z[present], expected, atol=1e-4)
    # Missing values get the mean, i.e. 0, and an indicator says which they were.
    np.testing.assert_array_equal(z[~present], 0.0)
    np.testing.assert_array_equal(_column(rows, names.missing_key(name)), (~present) * 1.0)
    assert output.transformed_feature_spec()[names.missing_key(name)].dtype == tf.float32
    if name == "trip_seconds":
        assert (~present).sum() == len(MISSING_SECONDS)


@pytest.mark.parametrize("name", ["payment_type", "company", "trip_start_hour",
                                  "pickup_community_area"])
def test_categorical_ids_are_ints_within_vocabulary_and_oov(transformed, spec, name):
    raw, rows, output = transformed
    ids = _column(rows, names.categorical_key(name))
    vocabulary_size = output.vocabulary_size_by_name(names.vocabulary_name(name))
    assert output.transformed_feature_spec()[names.categorical_key(name)].dtype == tf.int64
    assert ids.dtype.kind == "i"
    assert ids.min() >= 0
    assert ids.max() < vocabulary_size + spec.features.oov_buckets
    # The same raw value always gets the same id, different present values different ids.
    values = [row[name][0] if row[name] else None for row in raw]
    id_of = {}
    for value, id_ in zip(values, ids):
        assert id_of.setdefault(value, id_) == id_
    present_ids = {id_ for value, id_ in id_of.items() if value is not None}
    assert len(present_ids) == len({value for value in values if value is not None})
    assert all(id_ < vocabulary_size for id_ in present_ids)


def test_vocabulary_holds_the_observed_values(transformed):
    _, _, output = transformed
    vocabulary = output.vocabulary_by_name(names.vocabulary_name("payment_type"))
    assert sorted(vocabulary) == [b"Cash", b"Credit Card", b"No Charge"]
    # The most frequent value comes first.
    assert vocabulary[0] == b"Cash"
    # Int columns are treated as strings.
    hours = output.vocabulary_by_name(names.vocabulary_name("trip_start_hour"))
    assert set(hours) == {str(i % 24).encode() for i in range(N_ROWS)}


def test_missing_categorical_value_gets_a_consistent_id(transformed, spec):
    _, rows, output = transformed
    ids = _column(rows, names.categorical_key("company"))
    missing_ids = {ids[i] for i in MISSING_COMPANY}
    assert len(missing_ids) == 1
    vocabulary_size = output.vocabulary_size_by_name(names.vocabulary_name("company"))
    present_ids = {ids[i] for i in range(N_ROWS) if i not in MISSING_COMPANY}
    assert not (missing_ids & present_ids)
    # "Missing" is a vocabulary entry of its own, not an OOV bucket shared with unseen values.
    assert max(missing_ids) < vocabulary_size
    vocabulary = output.vocabulary_by_name(names.vocabulary_name("company"))
    assert vocabulary[max(missing_ids)] == preprocessing.MISSING.encode()


@pytest.mark.parametrize("name", ["fare", "trip_miles", "trip_seconds"])
def test_bucket_ids_are_within_range_and_missing_is_the_last(transformed, spec, name):
    raw, rows, output = transformed
    n = spec.features.bucketized[name]
    buckets = _column(rows, names.bucket_key(name))
    values = _present(raw, name)
    present = ~np.isnan(values)
    assert output.transformed_feature_spec()[names.bucket_key(name)].dtype == tf.int64
    assert buckets.min() >= 0 and buckets.max() <= n
    np.testing.assert_array_equal(buckets[~present], n)
    assert (buckets[present] < n).all()
    # Quantile buckets are monotone in the value and use more than one bucket.
    order = np.argsort(values[present], kind="stable")
    assert (np.diff(buckets[present][order]) >= 0).all()
    assert len(set(buckets[present].tolist())) > 1
    if name == "trip_seconds":
        assert (~present).sum() == len(MISSING_SECONDS)


def test_serving_inputs_without_label_source_drop_the_label(spec):
    """At serving time 'tips' is absent ('fare' is a feature, so present): no label output."""
    reduced = ProblemSpec(
        label=spec.label,
        features=spec.features.model_copy(update={"numeric": ["fare", "trip_miles"],
                                                  "categorical": [], "bucketized": {}}),
        train=spec.train)
    with tf.compat.v1.Graph().as_default():
        inputs = {"fare": tf.constant([[10.0]]), "trip_miles": tf.constant([[1.0]])}
        outputs = preprocessing_fn(inputs, reduced.to_custom_config())
        features = {"fare_z", "trip_miles_z", "fare_missing", "trip_miles_missing"}
        assert set(outputs) == features
        inputs["tips"] = tf.constant([[3.0]])
        with_label = preprocessing_fn(inputs, reduced.to_custom_config())
        assert set(with_label) == features | {spec.label_key}


def test_without_missing_indicators_a_number_is_its_z_score_alone(spec):
    without = ProblemSpec(
        label=spec.label,
        features=spec.features.model_copy(update={
            "numeric": ["fare"], "categorical": [], "bucketized": {}, "missing_indicators": False}),
        train=spec.train)
    with tf.compat.v1.Graph().as_default():
        outputs = preprocessing_fn({"fare": tf.constant([[10.0]])}, without.to_custom_config())
    assert set(outputs) == {"fare_z"}
    assert without.scalar_keys() == ["fare_z"]


def test_custom_config_without_problem_section_is_refused():
    with pytest.raises(ValueError, match="problem"):
        preprocessing_fn({}, {})



# One numeric column with a data-entry error (100,000 among 1..399) and a missing value, binned.
BINNED_VALUES = [float(v) for v in range(1, 400)] + [100_000.0]


@pytest.fixture(scope="module")
def binned(tmp_path_factory):
    """Transformed rows of `x` (BINNED_VALUES, then a missing value) with numeric_bins: 4,
    through real tf.Transform."""
    spec = ProblemSpec(label=LabelConfig(name="y", task="regression", column="y"),
                       features=FeaturesConfig(numeric=["x"], numeric_bins=4),
                       train=TrainConfig())
    raw = [{"x": [v], "y": 1.0} for v in BINNED_VALUES] + [{"x": [], "y": 1.0}]
    metadata = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec({
        "x": tf.io.VarLenFeature(tf.float32), "y": tf.io.FixedLenFeature([], tf.float32)}))
    fn = functools.partial(preprocessing_fn, custom_config=spec.to_custom_config())
    with tft_beam.Context(temp_dir=str(tmp_path_factory.mktemp("tft-binned")),
                          force_tf_compat_v1=False):
        (rows, _), _ = (raw, metadata) | tft_beam.AnalyzeAndTransformDataset(fn)
    return rows


def test_a_data_entry_error_is_clipped_to_the_995th_percentile(binned):
    z = _column(binned, names.numeric_key("x"))
    outlier, largest_real = z[len(BINNED_VALUES) - 1], z[398]
    # Unclipped, 100,000 would be ~20 standard deviations out; clipped, it sits at the top of
    # the real values (the 99.5% quantile of 400 values is about the 398th).
    assert largest_real - 0.05 <= outlier <= largest_real + 1e-6
    assert z[len(BINNED_VALUES)] == 0.0   # missing: the mean
    missing = _column(binned, names.missing_key("x"))
    assert missing[len(BINNED_VALUES)] == 1.0 and not missing[:len(BINNED_VALUES)].any()


def test_numeric_bins_encode_the_position_piecewise_linearly(binned):
    encoded = np.array([np.asarray(row[names.piecewise_key("x")]).reshape(-1)
                        for row in binned])
    assert encoded.shape == (len(BINNED_VALUES) + 1, 4)
    assert encoded.min() >= 0.0 and encoded.max() <= 1.0
    present = encoded[:len(BINNED_VALUES)]
    # Every bin fills in turn: 0 below it, 1 above it; the total is monotone in the value.
    assert np.all(np.diff(present.sum(axis=1)) >= -1e-6)
    np.testing.assert_allclose(present[0], 0.0, atol=0.01)
    np.testing.assert_allclose(present[-1], 1.0)       # the error saturates, like a tree
    np.testing.assert_allclose(present[199], [1.0, 1.0, 0.0, 0.0], atol=0.03)   # the median
    quarter = present[99]
    assert quarter[0] > 0.95 and quarter[1] < 0.05

