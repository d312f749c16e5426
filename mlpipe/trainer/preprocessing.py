"""TF Transform preprocessing, driven by the problem config (no column names in code).

- numeric: clipped to the 0.5%-99.5% quantiles of present values, then z-scored; missing -> the
  mean, and a 0/1 indicator beside it says the value was missing (as a data scientist's imputer
  adds one: a blank can mean something of its own). With `features.numeric_bins` K, also a
  piecewise-linear encoding over K quantile bins (bin i: 0 below it, 1 above it, the position
  inside it);
- categorical: a vocabulary of the most frequent values (TFT's approximate vocabulary: exact
  while a column has fewer distinct values than top_k, and one Beam pass cheaper) with OOV
  buckets; ints are treated as strings, a missing value is its own category;
- bucketized: quantile buckets computed on present values, plus one bucket for missing;
- binary label: taken from a 0/1 column, or from any column with `positive_class` (1 for that
  value, 0 for every other one: two strings, yes/no, true/false, 1/2), or derived (`ratio_above`:
  numerator > threshold * denominator;
  rows with a denominator <= 0 cannot be labelled and count as negatives, bounded by the preflight
  check's `max_underivable_fraction`);
- multiclass label: the position of the value in `label.classes` (int64; a value that is not a
  class would be -1, which the preflight check rejects before Transform runs);
- regression label: the number itself (float32; blanks are rejected by the preflight check).
At serving time the label's source columns are absent and TF Transform prunes the label output.
"""

import tensorflow as tf
import tensorflow_transform as tft

from mlpipe.trainer import features as names
from mlpipe.trainer.features import ProblemSpec

# Numeric values are clipped to the CLIP_QUANTILE and 1 - CLIP_QUANTILE quantiles of the data.
# Real tables hold data-entry errors (a 170-mile, $9 taxi trip): a clipped input saturates, as a
# tree's last split does, instead of extrapolating a linear response far outside the data.
CLIP_QUANTILE = 0.005
# One quantile sketch per numeric feature gives both the clipping range and the bin edges.
QUANTILE_BUCKETS = 200
QUANTILE_EPSILON = 0.001
# TF Transform leaves "" out of vocabularies; a named value gives "missing" a vocabulary entry of
# its own instead of sharing an OOV bucket with unseen values.
MISSING = "__missing__"


def preprocessing_fn(inputs, custom_config):
    spec = ProblemSpec.from_custom_config(custom_config)
    outputs = {}
    bins = spec.features.numeric_bins
    for name in spec.features.numeric:
        scaled, encoded, missing = _numeric(inputs[name], bins)
        outputs[names.numeric_key(name)] = scaled
        if spec.features.missing_indicators:
            outputs[names.missing_key(name)] = missing
        if bins:
            outputs[names.piecewise_key(name)] = encoded
    for name in spec.features.categorical:
        value = _as_string(inputs[name])
        vocabulary = tft.experimental.approximate_vocabulary(
            value, top_k=spec.features.vocab_top_k, vocab_filename=names.vocabulary_name(name))
        outputs[names.categorical_key(name)] = tft.apply_vocabulary(
            value, vocabulary, num_oov_buckets=spec.features.oov_buckets)
    for name, buckets in spec.features.bucketized.items():
        outputs[names.bucket_key(name)] = _bucketized(inputs[name], buckets)
    if all(column in inputs for column in spec.label.source_columns):
        outputs[spec.label_key] = _label(inputs, spec)
    return outputs


def _dense(x, default):
    """One value per row as a rank-1 tensor; absent values become `default`."""
    if isinstance(x, tf.sparse.SparseTensor):
        x = tf.sparse.to_dense(tf.SparseTensor(x.indices, x.values, [x.dense_shape[0], 1]), default)
    return tf.reshape(x, [-1])


def _float_and_presence(x):
    if isinstance(x, tf.sparse.SparseTensor):
        x = tf.SparseTensor(x.indices, tf.cast(x.values, tf.float32), x.dense_shape)
    else:
        x = tf.cast(x, tf.float32)
    value = _dense(x, float("nan"))
    return value, tf.logical_not(tf.math.is_nan(value))


def _numeric(x, bins: int):
    """(z-score of the clipped value, its piecewise-linear encoding over `bins` quantile bins or
    None, 1.0 where the value is missing else 0.0); a missing value is the mean in the first two.
    One analyzer phase: mean, variance and the quantile sketch are computed in the same pass."""
    value, present = _float_and_presence(x)
    observed = tf.boolean_mask(value, present)
    quantiles = tf.reshape(tft.quantiles(observed, QUANTILE_BUCKETS, QUANTILE_EPSILON), [-1])
    low = quantiles[_quantile_index(CLIP_QUANTILE)]
    high = quantiles[_quantile_index(1.0 - CLIP_QUANTILE)]
    mean, variance = tft.mean(observed), tft.var(observed)
    clipped = tf.where(present, tf.clip_by_value(value, low, high), tf.fill(tf.shape(value), mean))
    scaled = (clipped - mean) * tf.math.rsqrt(tf.maximum(variance, 1e-12))
    missing = 1.0 - tf.cast(present, tf.float32)
    if not bins:
        return scaled, None, missing
    inner = tf.gather(quantiles, [_quantile_index(i / bins) for i in range(1, bins)])
    edges = tf.concat([[low], inner, [high]], axis=0)
    lower, upper = edges[:-1], edges[1:]
    position = (clipped[:, tf.newaxis] - lower) / tf.maximum(upper - lower, 1e-9)
    return scaled, tf.clip_by_value(position, 0.0, 1.0), missing


def _quantile_index(fraction: float) -> int:
    """The index of the `fraction` quantile among the QUANTILE_BUCKETS - 1 boundaries."""
    return min(QUANTILE_BUCKETS - 2, max(0, round(fraction * QUANTILE_BUCKETS) - 1))


def _as_string(x):
    if x.dtype != tf.string:
        values = x.values if isinstance(x, tf.sparse.SparseTensor) else x
        values = tf.strings.as_string(values)
        x = (tf.SparseTensor(x.indices, values, x.dense_shape)
             if isinstance(x, tf.sparse.SparseTensor) else values)
    return _dense(x, MISSING)


def _bucketized(x, num_buckets):
    value, present = _float_and_presence(x)
    boundaries = tft.quantiles(tf.boolean_mask(value, present), num_buckets, epsilon=0.01)
    buckets = tft.apply_buckets(tf.where(present, value, tf.zeros_like(value)), boundaries)
    return tf.where(present, buckets, tf.cast(num_buckets, tf.int64))


def _label(inputs, spec: ProblemSpec):
    if spec.label.task == "multiclass":
        return _class_index(inputs[spec.label.column], spec.label.classes)
    if spec.label.task == "regression":
        value, _ = _float_and_presence(inputs[spec.label.column])
        return value
    if spec.label.column is not None and spec.label.positive_class is not None:
        return _is_positive(inputs[spec.label.column], spec.label.positive_class)
    if spec.label.column is not None:
        return tf.cast(_dense(inputs[spec.label.column], 0), tf.int64)
    rule = spec.label.derive
    numerator, _ = _float_and_presence(inputs[rule.numerator])
    denominator, _ = _float_and_presence(inputs[rule.denominator])
    derivable = denominator > 0
    above = numerator > rule.threshold * denominator
    return tf.cast(tf.logical_and(derivable, above), tf.int64)


def _is_positive(x, positive_class: str):
    """1 where the value is the positive class, else 0 (a missing value too): text compared as
    spelled, numbers as numbers (the rule of LabelConfig.is_positive)."""
    if x.dtype == tf.string:
        return tf.cast(tf.equal(_dense(x, ""), positive_class), tf.int64)
    value, _ = _float_and_presence(x)
    return tf.cast(tf.equal(value, float(positive_class)), tf.int64)


def _class_index(x, classes):
    """The index of each value in `classes` (-1 for none): text compared as spelled, numbers as
    numbers (the rule of LabelConfig.class_index). A sum of one-hot matches needs no lookup table,
    and a handful of classes costs a handful of comparisons."""
    if x.dtype == tf.string:
        value = _dense(x, "")
        matches = [tf.equal(value, name) for name in classes]
    else:
        value, _ = _float_and_presence(x)
        matches = [tf.equal(value, float(name)) for name in classes]
    index = tf.add_n([tf.cast(match, tf.int64) * (i + 1) for i, match in enumerate(matches)])
    return index - 1
