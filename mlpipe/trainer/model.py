"""The Keras model and the TFX Trainer's `run_fn`.

A wide-and-deep model over the transformed features: one-hot categorical and bucket ids plus
z-scored numerics, their missing indicators (and their piecewise-linear encodings, unless
`train.piecewise` is off) feed both a small MLP and, directly,
the output layer (the "wide" part, which alone is a linear model on one-hot features). The head
follows `label.task`; with `train.ensemble` N, N such networks answer their mean:
- binary: one logit -> sigmoid -> "probability" (P(label = 1)), binary cross-entropy;
- multiclass: one logit per class -> softmax -> "scores", sparse categorical cross-entropy;
- regression: one output in standard units, rescaled by the training label's mean and standard
  deviation -> "value", Huber loss (the network learns a well-scaled target, the model answers
  in the label's own units; see _head).

The exported SavedModel has three signatures, all applying the Transform graph inside the model,
so serving never re-implements preprocessing:
- `serving_default`: serialized raw tf.Examples of the features only (no label source) -> the
  task's outputs (core.contract.OUTPUT_KEYS; multiclass adds "classes", the class names, to
  every answer);
- `serving_features`: the same outputs from one raw tensor per feature the model reads, [n, 1]
  (a value in every row) or [n, 0] (missing in every row), handed to the Transform graph as
  parsing would have, without the tf.Example round trip;
- `transform_features`: serialized raw tf.Examples of every column -> the transformed features
  and label, for TFMA.
"""

import contextlib
import dataclasses
import tempfile
from typing import Dict, List

import tensorflow as tf
import tensorflow_transform as tft
from absl import logging
from tensorflow.python.autograph.core import config as autograph_config
from tfx import v1 as tfx

from mlpipe.config.tune import tuned_train
from mlpipe.core.contract import (CLASSES_KEY, FEATURES_SIGNATURE, PREDICTION_KEY,
                                  SERVING_SIGNATURE, TRAINING_PLAN_LOG, TRANSFORM_SIGNATURE)
from mlpipe.trainer.distribution import TrainingPlan, cluster_workers, plan_training
from mlpipe.trainer.features import ProblemSpec
from mlpipe.trainer.inputs import training_input

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
        output = tf.keras.layers.Average(name=_output_name(spec), dtype="float32")(members)
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
    for key in spec.scalar_keys():
        inputs[key] = tf.keras.Input(shape=(1,), name=key, dtype=tf.float32)
        encoded.append(inputs[key])
    for key, bins in spec.piecewise_keys_and_sizes():
        inputs[key] = tf.keras.Input(shape=(bins,), name=key, dtype=tf.float32)
        encoded.append(inputs[key])
    for key, width in spec.categorical_keys_and_sizes(vocabulary_size):
        inputs[key] = tf.keras.Input(shape=(1,), name=key, dtype=tf.int64)
        encoded.append(OneHot(width, name=f"{key}_onehot")(inputs[key]))
    return inputs, tf.keras.layers.Concatenate(name="wide")(encoded)


@tf.keras.utils.register_keras_serializable(package="mlpipe")
class OneHot(tf.keras.layers.Layer):
    """The one-hot encoding of an id column (ids lie in [0, width) by construction: vocabulary
    plus OOV buckets, or buckets plus the missing one). tf.one_hot, not Keras's
    CategoryEncoding: that counts with bincount, which XLA runs ~40x slower on CPU (0.25 s a
    step of 512 rows) and which is slower without XLA too."""

    def __init__(self, width: int, **kwargs):
        super().__init__(**kwargs)
        self.width = width

    def call(self, ids):
        return tf.one_hot(tf.reshape(ids, [-1]), self.width, dtype=self.compute_dtype)

    def get_config(self):
        return {**super().get_config(), "width": self.width}


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
        return tf.keras.layers.Activation("softmax", name=output_name, dtype="float32")(logits)
    if task == "regression":
        mean, std = label_scale
        standard = tf.keras.layers.Dense(1, name=f"{prefix}standard_value")(both)
        return tf.keras.layers.Rescaling(std, offset=mean, name=output_name,
                                         dtype="float32")(standard)
    logit = tf.keras.layers.Dense(1, name=f"{prefix}logit")(both)
    return tf.keras.layers.Activation("sigmoid", name=output_name, dtype="float32")(logit)


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
    plan = plan_training(spec.train)
    logging.info("Training %s", spec.train)
    model = fit_model(spec, fn_args, transform_output, plan,
                      callbacks=[tf.keras.callbacks.TensorBoard(log_dir=fn_args.model_run_dir)],
                      base_model=fn_args.base_model)
    _export_model(model, transform_output, spec, plan, fn_args.serving_model_dir)


def _export_model(model: tf.keras.Model, transform_output, spec: ProblemSpec,
                 plan: TrainingPlan, serving_model_dir: str) -> None:
    """Saves the model with its three signatures (see the module's docstring) to
    `serving_model_dir`; a non-chief worker saves a scratch copy and deletes it."""
    model.tft_layer_serving = transform_output.transform_features_layer()
    signatures = {
        SERVING_SIGNATURE: _serving_signature(model, transform_output, spec),
        FEATURES_SIGNATURE: _features_signature(model, transform_output, spec),
        TRANSFORM_SIGNATURE: _transform_signature(model, transform_output),
    }
    # Every worker must take part in saving (collective ops); only the chief writes the export.
    export_dir = (serving_model_dir if _is_chief(plan.strategy)
                  else tempfile.mkdtemp(prefix="non-chief-export-"))
    logging.info("Exporting the model to %s (%s)", export_dir,
                 "the chief's export" if export_dir == serving_model_dir
                 else "a non-chief worker's scratch copy, deleted after")
    model.save(export_dir, save_format="tf", signatures=signatures)
    if export_dir != serving_model_dir:
        tf.io.gfile.rmtree(export_dir)


def fit_model(spec: ProblemSpec, fn_args, transform_output, plan: TrainingPlan, callbacks=(),
              base_model=None):
    """The model of `spec` trained on `fn_args.train_files` as `plan` says: what the Trainer
    exports, and what a Tuner trial scores (the same seed and data order, so equal values give
    the same model). With `train.warm_start`, `base_model` (the latest blessed model's
    SavedModel, or None) gives the starting weights when it fits, and training runs
    `train.epochs_when_warm` epochs."""
    tf.keras.utils.set_random_seed(spec.train.seed)
    # `batch_size` is the global batch, whatever the strategy: the replicas split each batch, so
    # the optimisation (steps per epoch, learning rate per step) and the model quality stay those
    # of one worker. Scaling the batch with the replicas halved the steps of two workers on a
    # small table and cost 0.07 AUC (a two-replica Vertex CustomJob on 1,300 taxi rows).
    train = spec.train
    data = training_input(fn_args.train_files, fn_args.data_accessor,
                          transform_output.transformed_metadata.schema, spec.label_key,
                          train.batch_size, train.seed, train.in_memory_mb)
    train_dataset = _sharded(data.dataset, fn_args.train_files)
    scale = (label_scale(train_dataset) if spec.label.task == "regression" else (0.0, 1.0))
    with plan.strategy.scope(), dtype_policy(plan.precision):
        model = build_model(spec, transform_output.vocabulary_size_by_name, scale)
        warm = train.warm_start and warm_start(model, base_model)
        trainable = trainable_members(model, spec, scale)
    train_dataset = inputs_of(model, train_dataset)
    count = train.ensemble
    if count > 1:   # every member learns the same label
        train_dataset = train_dataset.map(lambda features, label: (features, (label,) * count))
    if plan.jit_compile:
        problem = xla_problem(trainable, train_dataset)
        plan = plan.without_jit(problem) if problem else plan
        trainable.jit_compile = plan.jit_compile
    logging.info(TRAINING_PLAN_LOG + " %s", describe(plan, data.how, train.batch_size))
    epochs = train.epochs_when_warm if warm else train.epochs
    trainable.fit(train_dataset, epochs=epochs, verbose=0, callbacks=list(callbacks))
    return model


def inputs_of(model: tf.keras.Model, dataset: tf.data.Dataset) -> tf.data.Dataset:
    """(features, label) batches with only the features `model` reads; the dataset itself when
    it has no others."""
    if set(dataset.element_spec[0]) <= set(model.input_names):
        return dataset
    return dataset.map(lambda features, label: (read_by(model, features), label))


def read_by(model: tf.keras.Model, features: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
    """The transformed features `model` reads: Transform writes some a model may leave out (the
    piecewise encodings with `train.piecewise` off)."""
    names = set(model.input_names)
    return {name: value for name, value in features.items() if name in names}


def describe(plan: TrainingPlan, data: str, batch_size: int) -> str:
    per_replica = (f", {batch_size / plan.replicas:g} per replica" if plan.replicas > 1 else "")
    return f"{plan.describe()}; batch {batch_size}{per_replica}; data {data}"


@contextlib.contextmanager
def dtype_policy(name: str):
    """Keras's global dtype policy `name` while the model's layers are built (layers take it
    when they are made); the previous one again after, for whatever the process builds next."""
    previous = tf.keras.mixed_precision.global_policy()
    tf.keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        tf.keras.mixed_precision.set_global_policy(previous)


def xla_problem(model: tf.keras.Model, dataset: tf.data.Dataset) -> str:
    """Why XLA cannot compile `model`'s forward pass on a batch of `dataset` ('' when it can):
    found before training by asking for the compiled program, not by failing mid-fit."""
    features, _ = next(iter(dataset.take(1)))
    forward = tf.function(lambda x: model(x, training=True), jit_compile=True)
    try:
        forward.experimental_get_compiler_ir(features)(stage="hlo")
    except Exception as error:  # XLA raises several kinds; the message is the reason
        message = (str(error).strip().splitlines() or [""])[0]
        return f"XLA cannot compile the model: {type(error).__name__}: {message[:200]}"
    return ""


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


def _sharded(dataset: tf.data.Dataset, file_pattern) -> tf.data.Dataset:
    workers = cluster_workers()
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
    feature_spec = _serving_feature_spec(transform_output, spec)

    @tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.string, name="examples")])
    def serve(serialized_examples):
        raw = tf.io.parse_example(serialized_examples, feature_spec)
        return _answers(model, raw, spec, tf.shape(serialized_examples)[0])

    return serve


def _features_signature(model, transform_output, spec: ProblemSpec):
    feature_spec = _serving_feature_spec(transform_output, spec)

    @tf.function
    def serve_features(**columns):
        raw = {name: _as_parsed(columns[name], feature) for name, feature in feature_spec.items()}
        return _answers(model, raw, spec, tf.shape(columns[next(iter(feature_spec))])[0])

    return serve_features.get_concrete_function(**{
        name: tf.TensorSpec(shape=[None, None], dtype=feature.dtype, name=name)
        for name, feature in feature_spec.items()})


def _serving_feature_spec(transform_output, spec: ProblemSpec):
    return {name: feature for name, feature in transform_output.raw_feature_spec().items()
            if name in spec.serving_columns}


def _answers(model, raw, spec: ProblemSpec, rows):
    """The task's outputs for parsed raw features (core.contract.OUTPUT_KEYS)."""
    outputs = {PREDICTION_KEY[spec.label.task]: model(read_by(model, model.tft_layer_serving(raw)))}
    if spec.label.task == "multiclass":
        class_names = tf.constant(spec.label.classes, dtype=tf.string)
        outputs[CLASSES_KEY] = tf.tile(class_names[tf.newaxis, :], [rows, 1])
    return outputs


def _as_parsed(values, feature):
    """A [n, k] tensor of k values in every row as `tf.io.parse_example` gives the feature: a
    SparseTensor with every cell present for a VarLenFeature (k = 0: missing in every row), the
    values in the feature's shape for a FixedLenFeature."""
    if isinstance(feature, tf.io.FixedLenFeature):
        return tf.reshape(values, [-1, *feature.shape])
    shape = tf.shape(values, out_type=tf.int64)
    return tf.SparseTensor(tf.where(tf.ones(shape, tf.bool)), tf.reshape(values, [-1]), shape)


def _transform_signature(model, transform_output):
    model.tft_layer_eval = transform_output.transform_features_layer()
    feature_spec = transform_output.raw_feature_spec()

    @tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.string, name="examples")])
    def transform(serialized_examples):
        return model.tft_layer_eval(tf.io.parse_example(serialized_examples, feature_spec))

    return transform
