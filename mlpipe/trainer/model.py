"""The Keras model and the TFX Trainer's `run_fn`.

A wide-and-deep model over the transformed features: one-hot categorical and bucket ids plus
z-scored numerics feed both a small MLP and, directly, the output layer (the "wide" part, which
alone is a linear model on one-hot features). The head follows `label.task`:
- binary: one logit -> sigmoid -> "probability" (P(label = 1)), binary cross-entropy;
- multiclass: one logit per class -> softmax -> "scores", sparse categorical cross-entropy;
- regression: one output in standard units, rescaled by the training label's mean and standard
  deviation -> "value", Huber loss (the network learns a well-scaled target, the model answers
  in the label's own units; see _head).

The exported SavedModel has two signatures, both taking serialized raw tf.Examples and applying
the Transform graph inside the model, so serving never re-implements preprocessing:
- `serving_default`: the features only (no label source) -> the task's outputs
  (core.contract.OUTPUT_KEYS; multiclass adds "classes", the class names, to every answer);
- `transform_features`: every raw column -> the transformed features and label, for TFMA.
"""

import dataclasses
import json
import os
import tempfile
from typing import Dict, List

import tensorflow as tf
import tensorflow_transform as tft
from absl import logging
from tensorflow.python.autograph.core import config as autograph_config
from tfx import v1 as tfx
from tfx_bsl.public import tfxio

from mlpipe.config.tune import tuned_train
from mlpipe.core.contract import (CLASSES_KEY, OUTPUT_KEY, PREDICTION_KEY, SCORES_KEY,
                                  SERVING_SIGNATURE, TRANSFORM_SIGNATURE, VALUE_KEY)
from mlpipe.trainer.features import ProblemSpec

# Batches read to estimate the regression label's mean and spread (an estimate is enough to
# scale the target; a full pass over a large table is not worth it).
LABEL_SCALE_BATCHES = 200
# The regression loss is quadratic up to this many label standard deviations, linear beyond.
HUBER_DELTA = 0.3


def build_model(spec: ProblemSpec, vocabulary_size, label_scale=(0.0, 1.0)) -> tf.keras.Model:
    """`vocabulary_size(name)` gives the size of a Transform vocabulary (e.g. from
    TFTransformOutput); `label_scale` is the regression label's (mean, standard deviation)."""
    inputs: Dict[str, tf.keras.Input] = {}
    encoded: List[tf.Tensor] = []
    for key in spec.numeric_keys():
        inputs[key] = tf.keras.Input(shape=(1,), name=key, dtype=tf.float32)
        encoded.append(inputs[key])
    for key, width in spec.categorical_keys_and_sizes(vocabulary_size):
        inputs[key] = tf.keras.Input(shape=(1,), name=key, dtype=tf.int64)
        encoded.append(tf.keras.layers.CategoryEncoding(num_tokens=width, output_mode="one_hot",
                                                        name=f"{key}_onehot")(inputs[key]))
    wide = tf.keras.layers.Concatenate(name="wide")(encoded)
    deep = wide
    for i, units in enumerate(spec.train.hidden_units):
        deep = tf.keras.layers.Dense(units, activation="relu", name=f"deep_{i}")(deep)
    both = tf.keras.layers.Concatenate(name="wide_and_deep")([wide, deep])
    output, loss, metrics = _head(spec, both, label_scale)
    model = tf.keras.Model(inputs=inputs, outputs=output)
    model.compile(optimizer=tf.keras.optimizers.Adam(spec.train.learning_rate, jit_compile=False),
                  loss=loss, metrics=metrics)
    return model


def _head(spec: ProblemSpec, both, label_scale):
    """(output tensor, loss, training metrics) of the label's task."""
    task = spec.label.task
    if task == "multiclass":
        logits = tf.keras.layers.Dense(len(spec.label.classes), name="logits")(both)
        return (tf.keras.layers.Activation("softmax", name=SCORES_KEY)(logits),
                tf.keras.losses.SparseCategoricalCrossentropy(),
                [tf.keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
    if task == "regression":
        mean, std = label_scale
        standard = tf.keras.layers.Dense(1, name="standard_value")(both)
        return (tf.keras.layers.Rescaling(std, offset=mean, name=VALUE_KEY)(standard),
                # Huber, quadratic within HUBER_DELTA standard deviations of the label and
                # linear beyond: real tables hold data-entry errors (a 170-mile, $9 taxi trip)
                # that a squared loss lets drag the whole fit. Taxi fare, 10,000 rows, eval
                # RMSE: 3.20-3.35 with MSE (two runs), 3.13 with this (bench_problems.py).
                tf.keras.losses.Huber(delta=HUBER_DELTA * std),
                [tf.keras.metrics.RootMeanSquaredError(name="rmse")])
    logit = tf.keras.layers.Dense(1, name="logit")(both)
    return (tf.keras.layers.Activation("sigmoid", name=OUTPUT_KEY)(logit),
            tf.keras.losses.BinaryCrossentropy(),
            [tf.keras.metrics.AUC(name="auc"),
             tf.keras.metrics.BinaryAccuracy(name="binary_accuracy")])


def label_scale(dataset, batches: int = LABEL_SCALE_BATCHES):
    """(mean, standard deviation) of the labels of the first `batches` batches of a
    (features, label) dataset; a constant label gets a spread of 1."""
    count, total, squares = 0.0, 0.0, 0.0
    for _, label in dataset.take(batches):
        label = tf.cast(tf.reshape(label, [-1]), tf.float64)
        count += float(tf.size(label))
        total += float(tf.reduce_sum(label))
        squares += float(tf.reduce_sum(tf.square(label)))
    if count == 0:
        return 0.0, 1.0
    mean = total / count
    std = max(squares / count - mean * mean, 0.0) ** 0.5
    return mean, std if std > 1e-9 else 1.0

def choose_strategy(name: str) -> tf.distribute.Strategy:
    """`auto`: several workers in TF_CONFIG -> MultiWorkerMirrored; several GPUs -> Mirrored."""
    if name == "auto":
        name = ("multi_worker" if _cluster_workers() > 1
                else "mirrored" if len(tf.config.list_physical_devices("GPU")) > 1
                else "default")
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def _cluster_workers() -> int:
    # TF_CONFIG is the cluster's contract with TensorFlow (set by Vertex AI / the test harness).
    cluster = json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster", {})
    return len(cluster.get("chief", [])) + len(cluster.get("worker", []))


def skip_autograph_for_tf_keras() -> None:
    """Autograph already leaves `keras` alone but not `tf_keras` (Keras 2 as a separate package),
    and converting its graph-safe internals costs ~8 s on the first `fit` on 2 cores."""
    if not any(getattr(rule, "_prefix", None) == "tf_keras"
               for rule in autograph_config.CONVERSION_RULES):
        autograph_config.CONVERSION_RULES = (autograph_config.DoNotConvert("tf_keras"),
                                             *autograph_config.CONVERSION_RULES)


def run_fn(fn_args: tfx.components.FnArgs) -> None:
    skip_autograph_for_tf_keras()
    spec = ProblemSpec.from_custom_config(fn_args.custom_config)
    # When the Tuner ran, its best values replace train:'s (hidden_units, learning_rate, epochs).
    spec = dataclasses.replace(spec, train=tuned_train(spec.train, fn_args.hyperparameters))
    transform_output = tft.TFTransformOutput(fn_args.transform_output)
    strategy = choose_strategy(spec.train.strategy)
    logging.info("Training with %s over %d replica(s), %s", type(strategy).__name__,
                 strategy.num_replicas_in_sync, spec.train)
    model = fit_model(spec, fn_args, transform_output, strategy,
                      callbacks=[tf.keras.callbacks.TensorBoard(log_dir=fn_args.model_run_dir)])
    signatures = {
        SERVING_SIGNATURE: _serving_signature(model, transform_output, spec),
        TRANSFORM_SIGNATURE: _transform_signature(model, transform_output),
    }
    # Every worker must take part in saving (collective ops); only the chief writes the export.
    export_dir = (fn_args.serving_model_dir if _is_chief(strategy)
                  else tempfile.mkdtemp(prefix="non-chief-export-"))
    model.save(export_dir, save_format="tf", signatures=signatures)
    if export_dir != fn_args.serving_model_dir:
        tf.io.gfile.rmtree(export_dir)


def fit_model(spec: ProblemSpec, fn_args, transform_output, strategy, callbacks=()):
    """The model of `spec` trained on `fn_args.train_files`: what the Trainer exports, and what
    a Tuner trial scores (the same seed and data order, so equal values give the same model)."""
    tf.keras.utils.set_random_seed(spec.train.seed)
    global_batch = spec.train.batch_size * strategy.num_replicas_in_sync
    train_dataset = _dataset(fn_args.train_files, fn_args.data_accessor, transform_output,
                             spec.label_key, global_batch, spec.train.seed)
    scale = (label_scale(train_dataset) if spec.label.task == "regression" else (0.0, 1.0))
    with strategy.scope():
        model = build_model(spec, transform_output.vocabulary_size_by_name, scale)
    model.fit(train_dataset, epochs=spec.train.epochs, verbose=0, callbacks=list(callbacks))
    return model


def _is_chief(strategy: tf.distribute.Strategy) -> bool:
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief


def _dataset(file_pattern, data_accessor, transform_output, label_key, batch_size, seed):
    return data_accessor.tf_dataset_factory(
        file_pattern,
        tfxio.TensorFlowDatasetOptions(batch_size=batch_size, label_key=label_key, num_epochs=1,
                                       shuffle=True, shuffle_seed=seed),
        transform_output.transformed_metadata.schema)


def _serving_signature(model, transform_output, spec: ProblemSpec):
    model.tft_layer_serving = transform_output.transform_features_layer()
    feature_spec = {name: feature for name, feature in transform_output.raw_feature_spec().items()
                    if name in spec.serving_columns}
    output_key = PREDICTION_KEY[spec.label.task]
    class_names = tf.constant(spec.label.classes or [], dtype=tf.string)

    @tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.string, name="examples")])
    def serve(serialized_examples):
        raw = tf.io.parse_example(serialized_examples, feature_spec)
        outputs = {output_key: model(model.tft_layer_serving(raw))}
        if spec.label.task == "multiclass":
            rows = tf.shape(serialized_examples)[0]
            outputs[CLASSES_KEY] = tf.tile(class_names[tf.newaxis, :], [rows, 1])
        return outputs

    return serve


def _transform_signature(model, transform_output):
    model.tft_layer_eval = transform_output.transform_features_layer()
    feature_spec = transform_output.raw_feature_spec()

    @tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.string, name="examples")])
    def transform(serialized_examples):
        return model.tft_layer_eval(tf.io.parse_example(serialized_examples, feature_spec))

    return transform
