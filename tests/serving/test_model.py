"""A pushed version's two ways in (`LoadedModel`): serialized tf.Examples (`serving_default`)
and checked feature columns (`serving_features`), on real binary, multiclass and regression
models. The columns must get the answers their rows get as tf.Examples."""

import csv

import numpy as np
import pytest

import mlpipe  # noqa: F401  (process settings before TensorFlow)
from mlpipe.serving.examples import encoder_for_schema
from mlpipe.serving.model import FeatureColumns, LoadedModel, resolve_version
from tests.support.examples import example_of_checked
from tests.support.trained_home import save_without_features_signature

pytestmark = pytest.mark.e2e

ROWS = 40
NUMPY_TYPES = {"FLOAT": np.float32, "INT": np.int64, "BYTES": object}


def _columns_and_examples(home, left_out=1):
    """(FeatureColumns of the first ROWS rows' features that every one of them has, less
    `left_out` optional features the model reads: those are missing in every row; the same
    rows as serialized tf.Examples; the names left out)."""
    encoder = encoder_for_schema(home["config"].schema_path)
    with open(home["csv"], newline="") as source:
        rows = [encoder.check_csv_row(row, f"line {i + 2}")
                for i, row in zip(range(ROWS), csv.DictReader(source))]
    everywhere = [name for name in sorted(encoder.features) if all(name in row for row in rows)]
    optional = [name for name in everywhere if name not in encoder.required
                and name in home["config"].features.raw_columns]
    kept = [name for name in everywhere if name not in optional[:left_out]]
    columns = {name: np.array([row[name][0] for row in rows],
                              NUMPY_TYPES[encoder.features[name].type]) for name in kept}
    examples = [example_of_checked({name: row[name] for name in kept}, encoder)
                .SerializeToString() for row in rows]
    return FeatureColumns(columns), examples, optional[:left_out]


@pytest.mark.parametrize("fixture", ["trained_home", "multiclass_home", "regression_home"])
def test_feature_columns_get_the_answers_of_their_tf_examples(fixture, request):
    home = request.getfixturevalue(fixture)
    model = LoadedModel.load(*resolve_version(home["home"]))
    columns, examples, left_out = _columns_and_examples(home)
    # The taxi model reads optional features: one is missing in every row (the penguins' and
    # the fare model's rows may have none to leave out).
    assert left_out or fixture != "trained_home"
    assert model.takes_features(columns.columns)
    by_columns, by_examples = model.predict_features(columns), model.predict(examples)
    assert sorted(by_columns) == sorted(by_examples) == model.output_names
    for name, expected in by_examples.items():
        if expected.dtype == object:   # multiclass: the class names
            assert (by_columns[name] == expected).all()
        else:
            assert expected.shape[0] == ROWS
            np.testing.assert_allclose(by_columns[name], expected, rtol=1e-5, atol=1e-6)


def test_a_batch_of_requests_answers_each_as_alone(trained_home):
    model = LoadedModel.load(*resolve_version(trained_home["home"]))
    columns, _, _ = _columns_and_examples(trained_home)
    halves = [FeatureColumns({name: values[:15] for name, values in columns.columns.items()}),
              FeatureColumns({name: values[15:] for name, values in columns.columns.items()})]
    joined = FeatureColumns.joined(halves)
    assert len(joined) == ROWS and joined.batch_key == columns.batch_key
    np.testing.assert_allclose(
        model.predict_features(joined)["probability"],
        np.concatenate([model.predict_features(half)["probability"] for half in halves]),
        rtol=1e-5)


def test_a_column_of_another_type_or_a_model_without_the_signature_takes_examples(
        trained_home, tmp_path):
    version, path = resolve_version(trained_home["home"])
    columns, examples, _ = _columns_and_examples(trained_home)
    model = LoadedModel.load(version, path)
    retyped = {**columns.columns, "fare": columns.columns["fare"].astype(np.float64)}
    assert not model.takes_features(retyped)

    save_without_features_signature(path, tmp_path / "1")
    older = LoadedModel.load(1, tmp_path / "1")
    assert older.features_function is None and not older.takes_features(columns.columns)
    np.testing.assert_allclose(older.predict(examples)["probability"],
                               model.predict(examples)["probability"], rtol=1e-6)
