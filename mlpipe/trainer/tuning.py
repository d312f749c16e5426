"""TFX's `tuner_fn`: a random search over `train:`'s hyperparameters (the `tune:` section).

Each trial trains the model exactly as the Trainer's `run_fn` does (`model.fit_model`: the same
seed, data order and epochs), then scores it on the eval split with the metric named by
`tune.objective`, computed as the Evaluator computes it. The first trial trains `train:`'s own
values, so the best trial is never worse on the eval split than the untuned model, and the
Trainer, given the best values (`fn_args.hyperparameters`), retrains that very model.

keras-tuner 1.3.5 is pinned (requirements.lock): it builds on `tf.keras`, which is Keras 2
(tf_keras) in this process; 1.4 builds on Keras 3 and refuses tf_keras models.
"""

import dataclasses
from typing import Any, Dict

import keras_tuner
import numpy as np
import tensorflow as tf
import tensorflow_model_analysis as tfma
import tensorflow_transform as tft
from absl import logging
from tfx import v1 as tfx
from tensorflow_model_analysis.metrics import metric_types, metric_util
from tfx_bsl.public import tfxio

from mlpipe.config.tune import (TUNE_CONFIG_KEY, TUNED_FIELDS, LogRange, TuneConfig, spell_units,
                                tuned_train)
from mlpipe.trainer import model as model_lib
from mlpipe.trainer.distribution import plan_training
from mlpipe.trainer.features import ProblemSpec

PROJECT_NAME = "mlpipe_tuning"


def search_space(tune: TuneConfig) -> keras_tuner.HyperParameters:
    """One hyperparameter per searched `train:` field, named after it."""
    space = keras_tuner.HyperParameters()
    if tune.hidden_units is not None:
        space.Choice("hidden_units", [spell_units(shape) for shape in tune.hidden_units])
    if isinstance(tune.learning_rate, LogRange):
        space.Float("learning_rate", tune.learning_rate.min, tune.learning_rate.max,
                    sampling="log")
    elif tune.learning_rate is not None:
        space.Choice("learning_rate", list(tune.learning_rate))
    if tune.epochs is not None:
        space.Choice("epochs", list(tune.epochs))
    if tune.ensemble is not None:
        space.Choice("ensemble", list(tune.ensemble))
    if tune.piecewise is not None:
        space.Choice("piecewise", list(tune.piecewise))
    return space


def untuned_values(tune: TuneConfig, train) -> Dict[str, Any]:
    """The values of `train:` for each searched hyperparameter: the first trial's."""
    values = {"hidden_units": spell_units(train.hidden_units),
              "learning_rate": float(train.learning_rate), "epochs": int(train.epochs),
              "ensemble": int(train.ensemble), "piecewise": bool(train.piecewise)}
    return {name: values[name] for name in TUNED_FIELDS if getattr(tune, name) is not None}


class UntunedFirstOracle(keras_tuner.oracles.RandomSearchOracle):
    """Random search whose first trial is `first` (train:'s values), even where they lie outside
    the space: the baseline the search must beat."""

    def __init__(self, first: Dict[str, Any], **kwargs):
        super().__init__(**kwargs)
        self.first = dict(first)

    def populate_space(self, trial_id):
        if not self.trials:  # the first trial (trials are recorded once populated)
            return {"status": keras_tuner.engine.trial.TrialStatus.RUNNING,
                    "values": dict(self.first)}
        return super().populate_space(trial_id)


class TrainerTuner(keras_tuner.engine.base_tuner.BaseTuner):
    """Trains and scores one trial's model the way the Trainer would train it."""

    def __init__(self, spec: ProblemSpec, fn_args, **kwargs):
        super().__init__(hypermodel=None, **kwargs)
        self.spec = spec
        self.fn_args = fn_args
        self.transform_output = tft.TFTransformOutput(fn_args.transform_graph_path)
        self.plan = plan_training(spec.train)

    def run_trial(self, trial, *args, **kwargs) -> Dict[str, float]:
        spec = dataclasses.replace(self.spec, train=tuned_train(
            self.spec.train, trial.hyperparameters.get_config()))
        logging.info("Trial %s: %s", trial.trial_id, trial.hyperparameters.values)
        model = model_lib.fit_model(spec, self.fn_args, self.transform_output, self.plan)
        eval_dataset = model_lib.inputs_of(model, self._eval_dataset(spec))
        scores = model.evaluate(eval_dataset, verbose=0, return_dict=True)
        if spec.label.task == "binary":
            scores.update(evaluator_binary_scores(model, eval_dataset))
        tf.keras.backend.clear_session()
        return {f"val_{name}": float(value) for name, value in scores.items()}

    def _eval_dataset(self, spec: ProblemSpec):
        return self.fn_args.data_accessor.tf_dataset_factory(
            self.fn_args.eval_files,
            tfxio.TensorFlowDatasetOptions(batch_size=spec.train.batch_size,
                                           label_key=spec.label_key, num_epochs=1,
                                           shuffle=False),
            self.transform_output.transformed_metadata.schema)

    # A trial's model is not kept: the Trainer retrains the best one.
    def save_model(self, trial_id, model, step=0):
        pass

    # TFX's Tuner executor calls these two, which print: the run's log gets them instead of
    # the terminal, where the progress lines are.
    def search_space_summary(self, extended=False):
        logging.info("Search space: %s", self.oracle.get_space().get_config()["space"])

    def results_summary(self, num_trials=10):
        for trial in self.oracle.get_best_trials(num_trials):
            logging.info("Trial %s: %s -> %s = %s", trial.trial_id, trial.hyperparameters.values,
                         self.oracle.objective.name, trial.score)


def evaluator_binary_scores(model, dataset) -> Dict[str, float]:
    """auc and binary_accuracy on a (features, label) dataset, computed by TFMA's own metrics, so
    a trial scores exactly what the Evaluator will report. Keras's training AUC differs: 200
    thresholds, not TFMA's 10,000 buckets (on the taxi data the two ranked two models in
    opposite order). The other objectives are Keras metrics in TFMA too."""
    labels, predictions = [], []
    for features, label in dataset:
        labels.append(np.reshape(label, [-1]))
        predictions.append(np.reshape(model(features, training=False), [-1]))
    inputs = metric_util.to_standard_metric_inputs({
        "labels": np.concatenate(labels).astype(np.float64),
        "predictions": np.concatenate(predictions).astype(np.float64)})
    return {"auc": _evaluator_metric(tfma.metrics.AUC(), inputs),
            "binary_accuracy": _evaluator_metric(tfma.metrics.BinaryAccuracy(), inputs)}


def _evaluator_metric(metric, inputs) -> float:
    """A TFMA metric over one batch of standard metric inputs: its combiner, then each derived
    computation on the values before it, as the Evaluator chains them."""
    computations = metric.computations(example_weighted=False)
    values: Dict[Any, Any] = {}
    for computation in computations:
        if isinstance(computation, metric_types.MetricComputation):
            combiner = computation.combiner
            combiner.setup()
            values.update(combiner.extract_output(
                combiner.add_input(combiner.create_accumulator(), inputs)))
        else:
            values.update(computation.result(values))
    return float(values[computations[-1].keys[0]])


def make_tuner(spec: ProblemSpec, tune: TuneConfig, fn_args) -> TrainerTuner:
    name, direction = tune.objective_of(spec.label.task)
    oracle = UntunedFirstOracle(
        first=untuned_values(tune, spec.train),
        objective=keras_tuner.Objective(f"val_{name}", direction),
        max_trials=tune.max_trials, hyperparameters=search_space(tune),
        allow_new_entries=False, tune_new_entries=False, seed=tune.seed)
    return TrainerTuner(spec, fn_args, oracle=oracle, directory=fn_args.working_dir,
                        project_name=PROJECT_NAME, overwrite=True)


def check_keras_tuner() -> None:
    """keras-tuner 1.4 and later build on Keras 3 and refuse tf_keras models; `pip install .`
    (tfx's loose bound) may bring one, `make venv` (requirements.lock) does not."""
    version = tuple(int(part) for part in keras_tuner.__version__.split(".")[:2])
    if version >= (1, 4):
        raise RuntimeError(f"keras-tuner {keras_tuner.__version__} builds on Keras 3 and cannot "
                           "tune this project's Keras 2 (tf_keras) models: install "
                           "keras-tuner==1.3.5, as requirements.lock pins it")


def tuner_fn(fn_args: tfx.components.FnArgs) -> tfx.components.TunerFnResult:
    check_keras_tuner()
    model_lib.skip_autograph_for_tf_keras()
    spec = ProblemSpec.from_custom_config(fn_args.custom_config)
    tune = TuneConfig.model_validate(fn_args.custom_config[TUNE_CONFIG_KEY])
    # verbose 0: keras-tuner's own progress display stays off the terminal.
    return tfx.components.TunerFnResult(tuner=make_tuner(spec, tune, fn_args),
                                        fit_kwargs={"verbose": 0})
