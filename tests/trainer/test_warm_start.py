"""Warm start: the latest blessed model's weights start a new training when its inputs match."""

import mlpipe  # noqa: F401  (process settings before TensorFlow)
import numpy as np
import pytest
import tensorflow as tf

from mlpipe.config import FeaturesConfig, LabelConfig, TrainConfig
from mlpipe.trainer import model as model_lib
from mlpipe.trainer.features import ProblemSpec

LABEL = LabelConfig(name="y", task="binary", column="y")
FEATURES = FeaturesConfig(numeric=["x"], categorical=["c"], numeric_bins=4, vocab_top_k=20)
WARM = TrainConfig(hidden_units=[8], warm_start=True)


def _spec(features=FEATURES, train=WARM):
    return ProblemSpec(label=LABEL, features=features, train=train)


def _saved(tmp_path, spec, vocabulary_size=7):
    """A model of `spec` trained a little on random rows, saved as the Trainer saves it."""
    model = model_lib.build_model(spec, vocabulary_size=lambda name: vocabulary_size)
    rng = np.random.default_rng(0)
    rows = 64
    features = {"x_z": rng.normal(size=(rows, 1)), "x_missing": np.zeros((rows, 1)),
                "x_bins": rng.uniform(size=(rows, 4)),
                "c_id": rng.integers(0, 5, size=(rows, 1))}
    model.fit({key: features[key] for key in model.input_names},
              rng.integers(0, 2, size=rows), epochs=1, verbose=0)
    path = str(tmp_path / "Format-Serving")
    model.save(path, save_format="tf")
    return model, path


def test_the_weights_of_a_fitting_model_are_copied(tmp_path):
    base, path = _saved(tmp_path, _spec())
    # Another span's vocabulary has another size: with warm start the width is the config's.
    model = model_lib.build_model(_spec(), vocabulary_size=lambda name: 12)
    assert model_lib.warm_start(model, path)
    for mine, theirs in zip(model.get_weights(), base.get_weights()):
        np.testing.assert_array_equal(mine, theirs)


def test_one_hot_width_is_fixed_by_the_config_only_with_warm_start():
    sizes = dict(_spec().categorical_keys_and_sizes(lambda name: 12))
    assert sizes["c_id"] == FEATURES.vocab_top_k + FEATURES.oov_buckets
    cold = _spec(train=TrainConfig())
    assert dict(cold.categorical_keys_and_sizes(lambda name: 12))["c_id"] == 12 + 10


@pytest.mark.parametrize("change, reason", [
    (dict(features=FEATURES.model_copy(update={"numeric": ["x", "w"]})),
     "inputs added ['w_bins', 'w_missing', 'w_z']"),
    (dict(features=FEATURES.model_copy(update={"numeric_bins": 8})), "x_bins (4,) -> (8,)"),
    (dict(train=WARM.model_copy(update={"hidden_units": [16]})), "layer 'deep_0'"),
])
def test_a_model_that_does_not_fit_gives_a_cold_start_and_says_why(tmp_path, change, reason):
    _, path = _saved(tmp_path, _spec())
    model = model_lib.build_model(_spec(**change), vocabulary_size=lambda name: 7)
    before = [weight.copy() for weight in model.get_weights()]
    assert model_lib.incompatibility(model, tf.keras.models.load_model(path, compile=False)) \
        .find(reason) >= 0
    assert not model_lib.warm_start(model, path)
    for mine, initial in zip(model.get_weights(), before):
        np.testing.assert_array_equal(mine, initial)


def test_no_blessed_model_yet_is_a_cold_start():
    model = model_lib.build_model(_spec(), vocabulary_size=lambda name: 7)
    assert not model_lib.warm_start(model, None)


def test_warm_epochs_default_to_half_and_need_warm_start():
    assert WARM.model_copy(update={"epochs": 9}).epochs_when_warm == 4
    assert TrainConfig(epochs=1, warm_start=True).epochs_when_warm == 1
    assert TrainConfig(warm_start=True, warm_start_epochs=3).epochs_when_warm == 3
    with pytest.raises(ValueError, match="warm_start_epochs applies only with warm_start"):
        TrainConfig(warm_start_epochs=3)
