"""build_model, its export rules and the multi-worker file split, on synthetic transformed
features."""

import mlpipe  # noqa: F401  (process settings before TensorFlow)
import numpy as np
import pytest
import tensorflow as tf

from mlpipe.config import FeaturesConfig, LabelConfig, TrainConfig
from mlpipe.core.contract import OUTPUT_KEY, VALUE_KEY
from mlpipe.trainer import features as names
from mlpipe.trainer import model as model_lib
from mlpipe.trainer.features import ProblemSpec

VOCABULARY_SIZE = 5


@pytest.fixture(scope="module")
def spec(taxi_config):
    features = taxi_config.features.model_copy(update={"missing_indicators": True})
    return ProblemSpec(label=taxi_config.label, features=features,
                       train=taxi_config.train.model_copy(update={"hidden_units": [8],
                                                                  "learning_rate": 0.05}))


def _batch(spec, n, seed=0):
    """Random transformed features for `n` rows, and a label that one z-score separates."""
    rng = np.random.default_rng(seed)
    features = {key: rng.normal(size=(n, 1)).astype(np.float32) for key in spec.scalar_keys()}
    for key, width in spec.categorical_keys_and_sizes(lambda name: VOCABULARY_SIZE):
        features[key] = rng.integers(0, width, size=(n, 1)).astype(np.int64)
    labels = (features["fare_z"][:, 0] > 0).astype(np.float32)
    return features, labels


def test_keras_is_keras_2():
    # TFX 1.16 needs tf_keras; mlpipe's process settings make tf.keras mean it.
    import tf_keras
    assert tf.keras.Model is tf_keras.Model


def test_model_inputs_are_the_transformed_feature_keys(spec):
    model = model_lib.build_model(spec, vocabulary_size=lambda name: VOCABULARY_SIZE)
    expected = set(spec.scalar_keys()) | {
        key for key, _ in spec.categorical_keys_and_sizes(lambda name: VOCABULARY_SIZE)}
    assert set(model.input_names) == expected
    assert {"fare_z", "fare_missing", "payment_type_id", "fare_bucket"} <= expected
    assert model.output_names == [OUTPUT_KEY]


def test_one_hot_widths_include_oov_and_missing_buckets(spec):
    widths = dict(spec.categorical_keys_and_sizes(lambda name: VOCABULARY_SIZE))
    assert widths["payment_type_id"] == VOCABULARY_SIZE + spec.features.oov_buckets
    assert widths["fare_bucket"] == spec.features.bucketized["fare"] + 1
    model = model_lib.build_model(spec, vocabulary_size=lambda name: VOCABULARY_SIZE)
    assert model.get_layer("payment_type_id_onehot").width == widths["payment_type_id"]


def test_vocabulary_size_is_asked_by_vocabulary_name(spec):
    asked = []

    def vocabulary_size(name):
        asked.append(name)
        return VOCABULARY_SIZE
    model_lib.build_model(spec, vocabulary_size=vocabulary_size)
    assert sorted(asked) == sorted(f"{name}_vocab" for name in spec.features.categorical)


def test_outputs_are_probabilities(spec):
    model = model_lib.build_model(spec, vocabulary_size=lambda name: VOCABULARY_SIZE)
    features, _ = _batch(spec, 16)
    probabilities = model(features, training=False).numpy()
    assert probabilities.shape == (16, 1)
    assert np.all((probabilities > 0) & (probabilities < 1))


def test_missing_input_key_is_an_error(spec):
    model = model_lib.build_model(spec, vocabulary_size=lambda name: VOCABULARY_SIZE)
    features, _ = _batch(spec, 4)
    del features["fare_z"]
    with pytest.raises((KeyError, ValueError)):
        model(features)


def test_skip_autograph_for_tf_keras_is_idempotent():
    from tensorflow.python.autograph.core import config as autograph_config
    model_lib.skip_autograph_for_tf_keras()
    model_lib.skip_autograph_for_tf_keras()
    prefixes = [getattr(rule, "_prefix", None) for rule in autograph_config.CONVERSION_RULES]
    assert prefixes.count("tf_keras") == 1


def test_training_lowers_the_loss(spec):
    model_lib.skip_autograph_for_tf_keras()  # as run_fn does: ~8 s less tracing on 2 cores
    tf.keras.utils.set_random_seed(0)
    model = model_lib.build_model(spec, vocabulary_size=lambda name: VOCABULARY_SIZE)
    features, labels = _batch(spec, 256)
    before = model.evaluate(features, labels, batch_size=256, verbose=0, return_dict=True)
    model.fit(features, labels, batch_size=32, epochs=3, verbose=0)
    after = model.evaluate(features, labels, batch_size=256, verbose=0, return_dict=True)
    assert after["loss"] < before["loss"] * 0.7
    assert after["auc"] > 0.9
    assert after["binary_accuracy"] > 0.85


@pytest.mark.parametrize("files, workers, policy", [(1, 2, "DATA"), (2, 2, "FILE"),
                                                     (3, 2, "FILE"), (1, 3, "DATA")])
def test_workers_split_files_only_when_there_are_enough(tmp_path, files, workers, policy):
    """A small table's split is one file: FILE sharding over two workers would fail at the
    first batch (as it did on a CustomJob of two replicas), so each worker takes its share of
    the batches instead."""
    for index in range(files):
        (tmp_path / f"data_tfrecord-{index:05d}-of-{files:05d}.gz").write_bytes(b"")
    pattern = str(tmp_path / "data_tfrecord-*.gz")
    expected = getattr(tf.data.experimental.AutoShardPolicy, policy)
    assert model_lib.shard_policy(pattern, workers) == expected
    assert model_lib.shard_policy([pattern], workers) == expected


class _Strategy:
    def __init__(self, resolver):
        self.cluster_resolver = resolver


@pytest.mark.parametrize("cluster, task_type, task_id, chief", [
    ({"chief": ["a:1"], "worker": ["b:1"]}, "chief", 0, True),
    ({"chief": ["a:1"], "worker": ["b:1"]}, "worker", 0, False),
    ({"worker": ["a:1", "b:1"]}, "worker", 0, True),
    ({"worker": ["a:1", "b:1"]}, "worker", 1, False),
])
def test_only_the_chief_writes_the_export(cluster, task_type, task_id, chief):
    from mlpipe.trainer.model import _is_chief
    resolver = tf.distribute.cluster_resolver.SimpleClusterResolver(
        tf.train.ClusterSpec(cluster), task_type=task_type, task_id=task_id)
    assert _is_chief(_Strategy(resolver)) is chief
    assert _is_chief(tf.distribute.get_strategy()) is True


def test_the_model_takes_the_numeric_bins():
    spec = ProblemSpec(label=LabelConfig(name="y", task="regression", column="y"),
                       features=FeaturesConfig(numeric=["x"], numeric_bins=4),
                       train=TrainConfig())
    assert spec.piecewise_keys_and_sizes() == [(names.piecewise_key("x"), 4)]
    model = model_lib.build_model(spec, vocabulary_size=lambda name: 0)
    assert {"x_z": (None, 1), "x_missing": (None, 1), "x_bins": (None, 4)} == {
        i.name: tuple(i.shape) for i in model.inputs}


def test_without_piecewise_the_model_reads_the_numbers_alone_and_ignores_the_bins():
    spec = ProblemSpec(label=LabelConfig(name="y", task="regression", column="y"),
                       features=FeaturesConfig(numeric=["x"], numeric_bins=4),
                       train=TrainConfig(hidden_units=[], piecewise=False))
    assert spec.piecewise_keys_and_sizes() == []
    model = model_lib.build_model(spec, vocabulary_size=lambda name: 0)
    assert {"x_z": (None, 1), "x_missing": (None, 1)} == {
        i.name: tuple(i.shape) for i in model.inputs}
    # Transform still writes the bins (the Tuner may try both): the model is given them and
    # answers as without them.
    features, _ = _regression_rows(rows=4)
    with_bins = {**features, "x_bins": np.ones((4, 4), np.float32)}
    np.testing.assert_allclose(model(with_bins), model(features))


def test_the_training_batches_carry_only_what_the_model_reads():
    spec = ProblemSpec(label=LabelConfig(name="y", task="regression", column="y"),
                       features=FeaturesConfig(numeric=["x"], numeric_bins=4),
                       train=TrainConfig(hidden_units=[], piecewise=False))
    model = model_lib.build_model(spec, vocabulary_size=lambda name: 0)
    features, label = _regression_rows(rows=4)
    read = tf.data.Dataset.from_tensors((features, label))
    assert model_lib.inputs_of(model, read) is read
    written = tf.data.Dataset.from_tensors(
        ({**features, "x_bins": np.ones((4, 4), np.float32)}, label))
    assert set(model_lib.inputs_of(model, written).element_spec[0]) == {"x_z", "x_missing"}


def _regression_rows(rows=256, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 1)).astype(np.float32)
    label = 3.0 * x[:, 0] + 10.0 + rng.normal(scale=0.1, size=rows)
    return {"x_z": x, "x_missing": np.zeros_like(x)}, label.astype(np.float32)


def test_an_ensemble_answers_the_mean_of_members_trained_each_on_its_own_loss():
    spec = ProblemSpec(label=LabelConfig(name="y", task="regression", column="y"),
                       features=FeaturesConfig(numeric=["x"]),
                       train=TrainConfig(hidden_units=[8], ensemble=3, learning_rate=0.05))
    model = model_lib.build_model(spec, vocabulary_size=lambda name: 0, label_scale=(10.0, 3.0))
    assert model.output_names == [VALUE_KEY]
    trainable = model_lib.trainable_members(model, spec, (10.0, 3.0))
    assert len(trainable.outputs) == 3
    members = [f"member{i}_{VALUE_KEY}" for i in range(3)]
    assert [t.name.split("/")[0] for t in trainable.outputs] == members
    features, label = _regression_rows()
    # Each member starts from its own weights.
    kernels = [model.get_layer(f"member{i}_deep_0").get_weights()[0] for i in range(3)]
    assert not np.allclose(kernels[0], kernels[1])
    history = trainable.fit(features, (label,) * 3, epochs=30, batch_size=32, verbose=0)
    for i in range(3):
        losses = history.history[f"{members[i]}_loss"]
        assert losses[-1] < 0.2 * losses[0]
    outputs = [np.asarray(o) for o in trainable.predict(features, verbose=0)]
    np.testing.assert_allclose(model.predict(features, verbose=0), np.mean(outputs, axis=0),
                               rtol=1e-5, atol=1e-5)
    rmse = float(np.sqrt(np.mean((model.predict(features, verbose=0)[:, 0] - label) ** 2)))
    assert rmse < 0.5


def test_one_network_is_the_model_itself():
    spec = ProblemSpec(label=LabelConfig(name="y", task="regression", column="y"),
                       features=FeaturesConfig(numeric=["x"]), train=TrainConfig())
    model = model_lib.build_model(spec, vocabulary_size=lambda name: 0)
    assert model_lib.trainable_members(model, spec) is model
    assert not any(layer.name.startswith("member") for layer in model.layers)
