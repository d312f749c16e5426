"""The Keras model and the TFX Trainer's `run_fn`.

A wide-and-deep model over the transformed features: one-hot categorical and bucket ids plus
z-scored numerics (and their piecewise-linear encodings) feed both a small MLP and, directly,
the output layer (the "wide" part, which alone is a linear model on one-hot features). The head
follows `label.task`; with `train.ensemble` N, N such networks answer their mean:
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
from mlpipe.core.contract import (CLASSES_KEY, PREDICTION_KEY, SERVING_SIGNATURE,
                                  TRANSFORM_SIGNATURE)
from mlpipe.trainer.features import ProblemSpec

# Batches read to estimate the regression label's mean and spread (an estimate is enough to
# scale the target; a full pass over a large table is not worth it).
LABEL_SCALE_BATCHES = 200
# The regression loss is quadratic up to this many label standard deviations, linear beyond.
HUBER_DELTA = 0.3


def build_model(spec: ProblemSpec, vocabulary_size, label_scale=(0.0, 1.0)) -> tf.keras.Model:
    """`vocabulary_size(name)` gives the size of a Transform vocabulary (e.g. from
    TFTransformOutput); `label_scale` is the regression label's (mean, standard deviation).
    With `train.ensemble` N > 1 the model holds N members, each its own MLP and head on the
    same encoded inputs (layers prefixed `member<i>_`), and answers the mean of their outputs;
    `trainable_members` gives the model that trains them."""
    inputs, wide = _encoded_inputs(spec, vocabulary_size)
    loss, metrics = _loss_and_metrics(spec, label_scale)
    count = spec.train.ensemble
    if count == 1:
        output = _member(spec, wide, label_scale, prefix="", output_name=_output_name(spec))
    else:
        members = [_member(spec, wide, label_scale, prefix=f"member{i}_",
                           output_name=f"member{i}_{_output_name(spec)}") for i in range(count)]
        output = tf.keras.layers.Average(name=_output_name(spec))(members)
    model = tf.keras.Model(inputs=inputs, outputs=output)
    model.compile(optimizer=_optimizer(spec), loss=loss, metrics=metrics)
    return model


def trainable_members(model: tf.keras.Model, spec: ProblemSpec, label_scale=(0.0, 1.0)):
    """The model to `fit`: `model` itself, or for an ensemble a model of the same layers whose
    outputs are the members', each with its own loss. The members' weights are disjoint, so the
    sum of their losses trains each as if alone (from its own initial weights): averaging
    independently trained networks cuts the variance one network has between seeds."""
    if spec.train.ensemble == 1:
        return model
    members = model.get_layer(_output_name(spec)).input
    trainable = tf.keras.Model(inputs=model.inputs, outputs=members)
    loss, _ = _loss_and_metrics(spec, label_scale)
    trainable.compile(optimizer=_optimizer(spec), loss=[loss] * len(members))
    return trainable


def _encoded_inputs(spec: ProblemSpec, vocabulary_size):
    """(Keras inputs by transformed key, their concatenated encoding: the "wide" part)."""
    inputs: Dict[str, tf.keras.Input] = {}
    encoded: List[tf.Tensor] = []
    for key in spec.numeric_keys():
        inputs[key] = tf.keras.Input(shape=(1,), name=key, dtype=tf.float32)
        encoded.append(inputs[key])
    for key, bins in spec.piecewise_keys_and_sizes():
        inputs[key] = tf.keras.Input(shape=(bins,), name=key, dtype=tf.float32)
        encoded.append(inputs[key])
    for key, width in spec.categorical_keys_and_sizes(vocabulary_size):
        inputs[key] = tf.keras.Input(shape=(1,), name=key, dtype=tf.int64)
        encoded.append(tf.keras.layers.CategoryEncoding(num_tokens=width, output_mode="one_hot",
                                                        name=f"{key}_onehot")(inputs[key]))
    return inputs, tf.keras.layers.Concatenate(name="wide")(encoded)


def _member(spec: ProblemSpec, wide, label_scale, prefix: str, output_name: str):
    """One network: an MLP on `wide`, then the task's head on [wide, MLP]."""
    deep = wide
    for i, units in enumerate(spec.train.hidden_units):
        deep = tf.keras.layers.Dense(units, activation="relu", name=f"{prefix}deep_{i}")(deep)
    both = tf.keras.layers.Concatenate(name=f"{prefix}wide_and_deep")([wide, deep])
    return _head(spec, both, label_scale, prefix, output_name)


def _optimizer(spec: ProblemSpec):
    return tf.keras.optimizers.Adam(spec.train.learning_rate, jit_compile=False)


def _output_name(spec: ProblemSpec) -> str:
    return PREDICTION_KEY[spec.label.task]


def _head(spec: ProblemSpec, both, label_scale, prefix: str, output_name: str):
    """The output tensor of the label's task."""
    task = spec.label.task
    if task == "multiclass":
        logits = tf.keras.layers.Dense(len(spec.label.classes), name=f"{prefix}logits")(both)
        return tf.keras.layers.Activation("softmax", name=output_name)(logits)
    if task == "regression":
        mean, std = label_scale
        standard = tf.keras.layers.Dense(1, name=f"{prefix}standard_value")(both)
        return tf.keras.layers.Rescaling(std, offset=mean, name=output_name)(standard)
    logit = tf.keras.layers.Dense(1, name=f"{prefix}logit")(both)
    return tf.keras.layers.Activation("sigmoid", name=output_name)(logit)


def _loss_and_metrics(spec: ProblemSpec, label_scale):
    """(loss, training metrics) of the label's task."""
    task = spec.label.task
    if task == "multiclass":
        return (tf.keras.losses.SparseCategoricalCrossentropy(),
                [tf.keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
    if task == "regression":
        # Huber, quadratic within HUBER_DELTA standard deviations of the label and linear
        # beyond: real tables hold data-entry errors (a 170-mile, $9 taxi trip) that a squared
        # loss lets drag the whole fit. Taxi fare, 10,000 rows, eval RMSE: 3.20-3.35 with MSE
        # (two runs), 3.13 with this (bench_problems.py).
        return (tf.keras.losses.Huber(delta=HUBER_DELTA * label_scale[1]),
                [tf.keras.metrics.RootMeanSquaredError(name="rmse")])
    return (tf.keras.losses.BinaryCrossentropy(),
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
    # When the Tuner ran, its best values replace train:'s (the fields tune: searches).
    spec = dataclasses.replace(spec, train=tuned_train(spec.train, fn_args.hyperparameters))
    transform_output = tft.TFTransformOutput(fn_args.transform_output)
    strategy = choose_strategy(spec.train.strategy)
    logging.info("Training with %s over %d replica(s), %s", type(strategy).__name__,
                 strategy.num_replicas_in_sync, spec.train)
    model = fit_model(spec, fn_args, transform_output, strategy,
                      callbacks=[tf.keras.callbacks.TensorBoard(log_dir=fn_args.model_run_dir)],
                      base_model=fn_args.base_model)
    signatures = {
        SERVING_SIGNATURE: _serving_signature(model, transform_output, spec),
        TRANSFORM_SIGNATURE: _transform_signature(model, transform_output),
    }
    # Every worker must take part in saving (collective ops); only the chief writes the export.
    export_dir = (fn_args.serving_model_dir if _is_chief(strategy)
                  else tempfile.mkdtemp(prefix="non-chief-export-"))
    logging.info("Exporting the model to %s (%s)", export_dir,
                 "the chief's export" if export_dir == fn_args.serving_model_dir
                 else "a non-chief worker's scratch copy, deleted after")
    model.save(export_dir, save_format="tf", signatures=signatures)
    if export_dir != fn_args.serving_model_dir:
        tf.io.gfile.rmtree(export_dir)


def fit_model(spec: ProblemSpec, fn_args, transform_output, strategy, callbacks=(),
              base_model=None):
    """The model of `spec` trained on `fn_args.train_files`: what the Trainer exports, and what
    a Tuner trial scores (the same seed and data order, so equal values give the same model).
    With `train.warm_start`, `base_model` (the latest blessed model's SavedModel, or None) gives
    the starting weights when it fits, and training runs `train.epochs_when_warm` epochs."""
    tf.keras.utils.set_random_seed(spec.train.seed)
    # `batch_size` is the global batch, whatever the strategy: the replicas split each batch, so
    # the optimisation (steps per epoch, learning rate per step) and the model quality stay those
    # of one worker. Scaling the batch with the replicas halved the steps of two workers on a
    # small table and cost 0.07 AUC (a two-replica Vertex CustomJob on 1,300 taxi rows).
    train_dataset = _dataset(fn_args.train_files, fn_args.data_accessor, transform_output,
                             spec.label_key, spec.train.batch_size, spec.train.seed)
    scale = (label_scale(train_dataset) if spec.label.task == "regression" else (0.0, 1.0))
    count = spec.train.ensemble
    if count > 1:   # every member learns the same label
        train_dataset = train_dataset.map(lambda features, label: (features, (label,) * count))
    with strategy.scope():
        model = build_model(spec, transform_output.vocabulary_size_by_name, scale)
        warm = spec.train.warm_start and warm_start(model, base_model)
        trainable = trainable_members(model, spec, scale)
    epochs = spec.train.epochs_when_warm if warm else spec.train.epochs
    trainable.fit(train_dataset, epochs=epochs, verbose=0, callbacks=list(callbacks))
    return model


def warm_start(model: tf.keras.Model, base_model) -> bool:
    """Copies the weights of the SavedModel at `base_model` into `model` when every layer with
    weights has its counterpart of the same shape; logs what was done and why."""
    if base_model is None:
        logging.info("Cold start: no blessed model to warm-start from yet")
        return False
    base = tf.keras.models.load_model(base_model, compile=False)
    mismatch = incompatibility(model, base)
    if mismatch:
        logging.warning("Cold start: the latest blessed model (%s) does not fit: %s",
                        base_model, mismatch)
        return False
    for layer in model.layers:
        if layer.weights:
            layer.set_weights(base.get_layer(layer.name).get_weights())
    logging.info("Warm start from the latest blessed model %s", base_model)
    return True


def incompatibility(model: tf.keras.Model, base: tf.keras.Model) -> str:
    """Why `base`'s weights cannot initialise `model` ('' when they can): a different set of
    inputs (features added or removed), or a layer whose weights differ in shape (a vocabulary,
    a bin count or the hidden units changed)."""
    inputs, base_inputs = _input_shapes(model), _input_shapes(base)
    if set(inputs) != set(base_inputs):
        return (f"inputs added {sorted(set(inputs) - set(base_inputs))}, removed "
                f"{sorted(set(base_inputs) - set(inputs))}")
    changed = sorted(name for name in inputs if inputs[name] != base_inputs[name])
    if changed:
        return "inputs of another width: " + ", ".join(
            f"{name} {base_inputs[name]} -> {inputs[name]}" for name in changed)
    base_layers = {layer.name: layer for layer in base.layers}
    for layer in model.layers:
        if not layer.weights:
            continue
        shapes = [tuple(weight.shape) for weight in layer.weights]
        if layer.name not in base_layers:
            return f"layer {layer.name!r} is new"
        base_shapes = [tuple(weight.shape) for weight in base_layers[layer.name].weights]
        if shapes != base_shapes:
            return f"layer {layer.name!r} has weights {shapes}, the base model {base_shapes}"
    return ""


def _input_shapes(model: tf.keras.Model) -> Dict[str, tuple]:
    return {name: tuple(tensor.shape[1:]) for name, tensor in zip(model.input_names,
                                                                   model.inputs)}


def _is_chief(strategy: tf.distribute.Strategy) -> bool:
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief


def _dataset(file_pattern, data_accessor, transform_output, label_key, batch_size, seed):
    dataset = data_accessor.tf_dataset_factory(
        file_pattern,
        tfxio.TensorFlowDatasetOptions(batch_size=batch_size, label_key=label_key, num_epochs=1,
                                       shuffle=True, shuffle_seed=seed),
        transform_output.transformed_metadata.schema)
    workers = _cluster_workers()
    if workers > 1:
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = shard_policy(file_pattern, workers)
        dataset = dataset.with_options(options)
    return dataset


def shard_policy(file_pattern, workers: int) -> tf.data.experimental.AutoShardPolicy:
    """How several workers split the training files: each its own files when there are enough
    (FILE), else every worker reads all and keeps its share of the batches (DATA). TensorFlow's
    default tries FILE and fails when a split has fewer files than workers, as a small table's
    one-file split has (seen on a Vertex AI CustomJob of two replicas)."""
    patterns = [file_pattern] if isinstance(file_pattern, str) else list(file_pattern)
    files = sum(len(tf.io.gfile.glob(pattern)) for pattern in patterns)
    policy = tf.data.experimental.AutoShardPolicy
    return policy.FILE if files >= workers else policy.DATA


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
