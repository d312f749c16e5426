"""The label preprocessing_fn computes from a column with `positive_class`, run for real through
tf.Transform's Beam implementation: 1 for the positive class, 0 for the other (and for a missing
value); text compared as spelled, numbers as numbers; a 0/1 column unchanged."""

import functools

import mlpipe  # noqa: F401  (process settings before TensorFlow)
import numpy as np
import pytest
import tensorflow_transform.beam as tft_beam
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2
from tensorflow_transform.tf_metadata import dataset_metadata

from mlpipe.config import FeaturesConfig, LabelConfig, TrainConfig
from mlpipe.trainer.features import ProblemSpec
from mlpipe.trainer.preprocessing import preprocessing_fn

pytestmark = pytest.mark.slow  # one tf.Transform Beam job per label: about 15 s each

SCHEMA = """
feature { name: "species" type: BYTES value_count { max: 1 } }
feature { name: "code" type: INT value_count { max: 1 } }
feature { name: "flag" type: INT value_count { max: 1 } }
feature { name: "size" type: FLOAT value_count { max: 1 } }
"""
SPECIES = [b"Adelie", b"Gentoo", b"Gentoo", b"adelie", None, b"Gentoo"]
CODES = [1, 2, 2, 1, 2, None]
FLAGS = [0, 1, 1, 0, 1, 0]


def _rows():
    return [{"species": [] if s is None else [s], "code": [] if c is None else [c],
             "flag": [f], "size": [float(i)]}
            for i, (s, c, f) in enumerate(zip(SPECIES, CODES, FLAGS))]


def _labels(tmp_path, label: LabelConfig):
    spec = ProblemSpec(label=label, features=FeaturesConfig(numeric=["size"]),
                       train=TrainConfig())
    schema = text_format.Parse(SCHEMA, schema_pb2.Schema())
    fn = functools.partial(preprocessing_fn, custom_config=spec.to_custom_config())
    with tft_beam.Context(temp_dir=str(tmp_path), force_tf_compat_v1=False):
        (rows, _), _ = ((_rows(), dataset_metadata.DatasetMetadata(schema))
                        | tft_beam.AnalyzeAndTransformDataset(fn))
    return np.array([np.asarray(row[label.name]).reshape(-1)[0] for row in rows])


@pytest.mark.parametrize("label, expected", [
    (LabelConfig(name="is_gentoo", column="species", positive_class="Gentoo"),
     [0, 1, 1, 0, 0, 1]),
    (LabelConfig(name="is_two", column="code", positive_class="2"), [0, 1, 1, 0, 1, 0]),
    (LabelConfig(name="flag_label", column="flag"), FLAGS),
])
def test_label_from_a_column(tmp_path, label, expected):
    labels = _labels(tmp_path, label)
    assert labels.dtype.kind == "i"
    np.testing.assert_array_equal(labels, expected)
