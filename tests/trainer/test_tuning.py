"""tuner_fn on a small synthetic transformed dataset: the search space, the untuned first trial,
and the Trainer retraining the best trial's model exactly (fast: no pipeline)."""

import types

import mlpipe  # noqa: F401  (process settings before TensorFlow)
import keras_tuner
import numpy as np
import pytest
import tensorflow as tf
from tfx import v1 as tfx
from tfx.components.trainer.fn_args_utils import DataAccessor

from mlpipe.config import FeaturesConfig, LabelConfig, TrainConfig
from mlpipe.config.tune import KERAS_METRICS, TUNE_CONFIG_KEY, LogRange, TuneConfig, tuned_train
from mlpipe.core import code_version
from mlpipe.trainer import model as model_lib
from mlpipe.trainer import tuning
from mlpipe.trainer.distribution import plan_training
from mlpipe.trainer.features import ProblemSpec

CLASSES = ["a", "b", "c"]
LABELS = {
    "binary": LabelConfig(name="y", task="binary", column="y"),
    "multiclass": LabelConfig(name="y", task="multiclass", column="y", classes=CLASSES),
    "regression": LabelConfig(name="y", task="regression", column="y"),
}
# A weak untuned default (one epoch, a slow learning rate), so the search has room to improve.
WEAK = TrainConfig(epochs=1, batch_size=16, hidden_units=[4], learning_rate=0.001, seed=1)
TUNE = TuneConfig(hidden_units=[[16, 8], [4]], learning_rate=[0.001, 0.05], epochs=[1, 8],
                  max_trials=3, seed=2)


def _spec(task="multiclass", train=WEAK) -> ProblemSpec:
    return ProblemSpec(label=LABELS[task], features=FeaturesConfig(numeric=["u", "v"]),
                       train=train)


def _split(task, rows, seed):
    """Transformed features u_z, v_z (never missing) and a label they determine."""
    rng = np.random.default_rng(seed)
    features = {key: rng.normal(size=(rows, 1)).astype(np.float32) for key in ("u_z", "v_z")}
    u, v = features["u_z"][:, 0], features["v_z"][:, 0]
    features.update({key: np.zeros((rows, 1), np.float32) for key in ("u_missing", "v_missing")})
    if task == "multiclass":
        label = np.where(u > 0.5, 0, np.where(v > 0, 1, 2)).astype(np.int64)
    elif task == "binary":
        label = (u + v > 0).astype(np.int64)
    else:
        label = (3 * u - v + 10).astype(np.float32)
    return features, label


@pytest.fixture
def fn_args(tmp_path, monkeypatch):
    """FnArgs as TFX's Tuner and Trainer build them, over in-memory splits."""
    def make(task="multiclass", tune=TUNE, train=WEAK):
        splits = {"train": _split(task, 480, 0), "eval": _split(task, 240, 1)}

        def dataset(files, options, schema):
            features, label = splits[files[0]]
            data = tf.data.Dataset.from_tensor_slices(
                ({key: tf.constant(value) for key, value in features.items()}, label))
            if options.shuffle:
                data = data.shuffle(len(label), seed=options.shuffle_seed)
            return data.batch(options.batch_size)

        transform_output = types.SimpleNamespace(
            transformed_metadata=types.SimpleNamespace(schema=None),
            vocabulary_size_by_name=lambda name: 0)
        monkeypatch.setattr(tuning.tft, "TFTransformOutput", lambda path: transform_output)
        custom_config = _spec(task, train).to_custom_config()
        custom_config[TUNE_CONFIG_KEY] = tune.model_dump()
        return tfx.components.FnArgs(
            working_dir=str(tmp_path / "tuner"), train_files=["train"], eval_files=["eval"],
            transform_graph_path="transform_graph", custom_config=custom_config,
            data_accessor=DataAccessor(tf_dataset_factory=dataset, record_batch_factory=None,
                                       data_view_decode_fn=None)), transform_output
    return make


def test_search_space_is_named_after_the_train_fields():
    space = tuning.search_space(TuneConfig(hidden_units=[[64, 32], [16]],
                                           learning_rate=LogRange(min=1e-4, max=0.1),
                                           epochs=[4, 8]))
    by_name = {hp.name: hp for hp in space.space}
    assert set(by_name) == {"hidden_units", "learning_rate", "epochs"}
    assert isinstance(by_name["hidden_units"], keras_tuner.engine.hyperparameters.Choice)
    assert by_name["hidden_units"].values == ["64-32", "16"]
    assert (by_name["learning_rate"].min_value, by_name["learning_rate"].max_value,
            by_name["learning_rate"].sampling) == (1e-4, 0.1, "log")
    assert by_name["epochs"].values == [4, 8]
    piecewise = tuning.search_space(TuneConfig(piecewise=[True, False])).space
    assert [(hp.name, [bool(value) for value in hp.values]) for hp in piecewise] == [
        ("piecewise", [True, False])]
    # Only the fields searched are hyperparameters; the others keep train:'s value.
    assert [hp.name for hp in tuning.search_space(TuneConfig(epochs=[2, 3])).space] == ["epochs"]


def test_the_first_trial_is_train_s_own_values():
    assert tuning.untuned_values(TUNE, WEAK) == {"hidden_units": "4", "learning_rate": 0.001,
                                                 "epochs": 1}
    assert tuning.untuned_values(TuneConfig(epochs=[5]), WEAK) == {"epochs": 1}
    assert tuning.untuned_values(TuneConfig(piecewise=[False]), WEAK) == {"piecewise": True}


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_objective_names_are_the_metrics_the_model_reports(task):
    """tune.objective is checked against KERAS_METRICS at load time; the model must report
    exactly those (with val_ on the eval split)."""
    model_lib.skip_autograph_for_tf_keras()  # as run_fn and tuner_fn do: seconds less tracing
    model = model_lib.build_model(_spec(task), vocabulary_size=lambda name: 0)
    features, label = _split(task, 8, 0)
    model.evaluate(features, label, verbose=0)
    assert set(model.metrics_names) == set(KERAS_METRICS[task])


def test_tuner_fn_searches_and_the_trainer_retrains_the_best_model(fn_args):
    args, transform_output = fn_args()
    result = tuning.tuner_fn(args)
    assert isinstance(result.tuner, keras_tuner.engine.base_tuner.BaseTuner)
    assert result.tuner.oracle.objective.name == "val_accuracy"
    assert result.tuner.oracle.objective.direction == "max"
    result.tuner.search(**result.fit_kwargs)

    trials = result.tuner.oracle.trials
    assert len(trials) == TUNE.max_trials
    first = trials[min(trials)]
    assert first.hyperparameters.values == tuning.untuned_values(TUNE, WEAK)
    best = result.tuner.oracle.get_best_trials(1)[0]
    assert best.score >= first.score
    assert best.score > first.score + 0.1, "the weak default should be beaten clearly"

    # What TFX's Tuner writes and the Trainer reads back: a HyperParameters config.
    config = result.tuner.get_best_hyperparameters()[0].get_config()
    train = tuned_train(WEAK, config)
    assert tuning.untuned_values(TUNE, train) == best.hyperparameters.values
    model = model_lib.fit_model(_spec(train=train), args, transform_output, plan_training(train))
    assert [layer.units for layer in model.layers if layer.name.startswith("deep_")] == \
        train.hidden_units
    features, label = _split("multiclass", 240, 1)
    scores = model.evaluate(features, label, batch_size=WEAK.batch_size, verbose=0,
                            return_dict=True)
    # Same seed, data order and epochs: the Trainer's model is the best trial's model.
    assert scores["accuracy"] == pytest.approx(best.score, abs=1e-6)


def test_regression_minimises_rmse(fn_args):
    args, _ = fn_args("regression", tune=TuneConfig(epochs=[1, 8], max_trials=2))
    tuner = tuning.tuner_fn(args).tuner
    assert (tuner.oracle.objective.name, tuner.oracle.objective.direction) == ("val_rmse",
                                                                                 "min")
    tuner.search(verbose=0)
    best, = tuner.oracle.get_best_trials(1)
    assert best.hyperparameters.values == {"epochs": 8}  # more epochs fit the line better
    assert best.score < min(trial.score for trial in tuner.oracle.trials.values()
                            if trial is not best)


def test_a_linear_train_section_is_searched_from_and_rebuilt(fn_args):
    """init writes hidden_units: [] for a table a linear model fits as well as trees: the first
    trial trains it, and a best shape of no hidden layer comes back to the Trainer as []."""
    linear = WEAK.model_copy(update={"hidden_units": [], "epochs": 8})
    args, _ = fn_args("regression", train=linear,
                      tune=TuneConfig(hidden_units=[[], [8]], max_trials=2))
    tuner = tuning.tuner_fn(args).tuner
    tuner.search(verbose=0)
    trials = tuner.oracle.trials
    assert trials[min(trials)].hyperparameters.values == {"hidden_units": "none"}
    best = tuner.get_best_hyperparameters()[0].get_config()
    assert tuned_train(linear, best).hidden_units in ([], [8])
    assert tuned_train(linear, {"values": {"hidden_units": "none"}}).hidden_units == []


def test_binary_scores_are_the_evaluator_s_not_keras_s_training_auc():
    """TFMA's AUC (10,000 buckets) is the exact AUC for scores a bucket apart; Keras's training
    AUC (200 thresholds) ties the scores that fall between two of its thresholds."""
    rng = np.random.default_rng(0)
    # One score per TFMA bucket (mid-bucket), 400 of them: 0.5 ... 0.54, eight Keras bins.
    scores = (0.5 + (rng.permutation(400) + 0.5) * 1e-4).astype(np.float32)
    labels = (rng.random(400) < (scores - 0.5) * 25).astype(np.int64)
    dataset = tf.data.Dataset.from_tensor_slices((scores[:, None], labels)).batch(64)
    got = tuning.evaluator_binary_scores(lambda features, training: features, dataset)
    positives, negatives = scores[labels == 1], scores[labels == 0]
    exact = (positives[:, None] > negatives[None, :]).mean()
    assert got["auc"] == pytest.approx(exact, abs=1e-9)
    keras_auc = tf.keras.metrics.AUC()
    keras_auc.update_state(labels, scores)
    assert abs(float(keras_auc.result()) - exact) > 1e-3
    assert got["binary_accuracy"] == pytest.approx(((scores > 0.5) == labels).mean())


def test_binary_search_maximises_the_evaluator_s_auc(fn_args):
    args, _ = fn_args("binary", tune=TuneConfig(learning_rate=[0.001, 0.05], max_trials=2))
    tuner = tuning.tuner_fn(args).tuner
    assert (tuner.oracle.objective.name, tuner.oracle.objective.direction) == ("val_auc", "max")
    tuner.search(verbose=0)
    trials = list(tuner.oracle.trials.values())
    assert {"val_auc", "val_binary_accuracy", "val_loss"} <= set(trials[0].metrics.metrics)
    assert tuner.oracle.get_best_trials(1)[0].score == max(trial.score for trial in trials)


def test_a_keras_tuner_built_on_keras_3_is_refused_clearly(fn_args, monkeypatch):
    tuning.check_keras_tuner()  # the pinned one
    args, _ = fn_args()
    monkeypatch.setattr(keras_tuner, "__version__", "1.4.8")
    with pytest.raises(RuntimeError, match=r"keras-tuner 1\.4\.8 builds on Keras 3 .*"
                                           r"keras-tuner==1\.3\.5"):
        tuning.tuner_fn(args)


def test_the_tuning_code_is_part_of_the_trainer_code_version():
    sources = {path.name for path in code_version.trainer_sources()}
    assert {"tuning.py", "tune.py"} <= sources
