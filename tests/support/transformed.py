"""A small transformed dataset as Transform writes one, and the FnArgs the Trainer gets over it.

Two z-scored numerics (`u_z`, `v_z`), a categorical id (`c_id`, 4 values) and a binary label
(`y`) they decide, in gzipped TFRecords under Split-train / Split-eval, with the schema
Transform would write; read through TFX's own data accessor, as the Trainer reads its input.
"""

import pathlib
import types
from typing import Dict

import numpy as np
import tensorflow as tf
from tensorflow_metadata.proto.v0 import schema_pb2
from tfx.components.trainer.fn_args_utils import DataAccessor
from tfx.components.util import tfxio_utils
from tfx.types import standard_artifacts

from mlpipe.config import FeaturesConfig, LabelConfig, TrainConfig
from mlpipe.trainer.features import ProblemSpec
from tests.support.examples import example_of

CATEGORIES = 4
LABEL_KEY = "y"


def spec(**train) -> ProblemSpec:
    """The problem whose transformed features these are (`train:` fields as given)."""
    return ProblemSpec(label=LabelConfig(name="y", task="binary", column="y"),
                       features=FeaturesConfig(numeric=["u", "v"], categorical=["c"]),
                       train=TrainConfig(**train))


def vocabulary_size(name: str) -> int:
    return CATEGORIES


def write_examples(folder: pathlib.Path, rows: Dict[str, int], seed: int = 0,
                   files: int = 2) -> pathlib.Path:
    """Split-<name>/ with `rows[name]` examples in `files` gzipped files each; returns folder."""
    rng = np.random.default_rng(seed)
    for split, count in rows.items():
        u, v = rng.normal(size=count), rng.normal(size=count)
        c = rng.integers(0, CATEGORIES, size=count)
        label = ((u + 0.5 * v + (c == 1) - 0.3 + rng.normal(scale=0.5, size=count)) > 0)
        (folder / f"Split-{split}").mkdir(parents=True, exist_ok=True)
        for part in range(files):
            path = folder / f"Split-{split}" / f"transformed_examples-{part:05d}-of-{files:05d}.gz"
            with tf.io.TFRecordWriter(str(path), options="GZIP") as writer:
                for i in range(part, count, files):
                    writer.write(example_of({
                        "u_z": float(u[i]), "v_z": float(v[i]),
                        "u_missing": 0.0, "v_missing": 0.0,
                        "c_id": int(c[i]), LABEL_KEY: int(label[i])}).SerializeToString())
    return folder


def schema() -> schema_pb2.Schema:
    result = schema_pb2.Schema()
    for name, kind in (("u_z", schema_pb2.FLOAT), ("v_z", schema_pb2.FLOAT),
                       ("u_missing", schema_pb2.FLOAT), ("v_missing", schema_pb2.FLOAT),
                       ("c_id", schema_pb2.INT), (LABEL_KEY, schema_pb2.INT)):
        feature = result.feature.add(name=name, type=kind)
        feature.shape.SetInParent()  # one value per row, as Transform's dense outputs
        feature.presence.min_fraction = 1.0
    return result


def fn_args(folder: pathlib.Path):
    """What the Trainer's run_fn reads from FnArgs, over `folder`'s splits."""
    artifact = standard_artifacts.Examples()
    artifact.uri = str(folder)
    artifact.split_names = '["train", "eval"]'
    factory = tfxio_utils.get_tf_dataset_factory_from_artifact([artifact], [])
    return types.SimpleNamespace(
        train_files=[str(folder / "Split-train" / "*")],
        eval_files=[str(folder / "Split-eval" / "*")],
        data_accessor=DataAccessor(tf_dataset_factory=factory, record_batch_factory=None,
                                   data_view_decode_fn=None))


def transform_output():
    """What fit_model reads from a TFTransformOutput."""
    return types.SimpleNamespace(
        transformed_metadata=types.SimpleNamespace(schema=schema()),
        vocabulary_size_by_name=vocabulary_size)
