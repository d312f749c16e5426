"""tf.train.Example messages built with protobuf alone: the reference that the serving,
monitoring and attribution tests (and benchmarks/bench_serving.py) hold mlpipe's own encoding
and the served model against. TensorFlow is imported when one is built, not on import."""

from typing import Collection, Mapping


def example_of(row: Mapping[str, object], floats: Collection[str] = ()):
    """The tf.Example of a row of plain values, one value a feature, its list chosen by the
    value's Python type: str -> bytes_list (UTF-8), float -> float_list, int -> int64_list
    (float_list for a name in `floats`: a FLOAT feature given an integer). None leaves the
    feature out."""
    import tensorflow as tf
    example = tf.train.Example()
    for name, value in row.items():
        if value is None:
            continue
        feature = example.features.feature[name]
        if isinstance(value, str):
            feature.bytes_list.value.append(value.encode())
        elif isinstance(value, float):
            feature.float_list.value.append(value)
        elif name in floats:
            feature.float_list.value.append(float(value))
        else:
            feature.int64_list.value.append(value)
    return example


def example_of_checked(checked: Mapping[str, list], encoder):
    """The tf.Example of a row as the serving encoder checked it (name -> its values), each
    feature's list of the kind the schema gives it (`encoder.features[name].type`: BYTES, FLOAT
    or INT)."""
    import tensorflow as tf
    example = tf.train.Example()
    for name, values in checked.items():
        feature = example.features.feature[name]
        {"BYTES": feature.bytes_list, "FLOAT": feature.float_list,
         "INT": feature.int64_list}[encoder.features[name].type].value.extend(values)
    return example
