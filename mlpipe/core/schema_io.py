"""The one reader of schema files, and what a schema says about its features.

What a request may carry is read from the curated schema's SERVING environment.

A feature belongs to an environment when the schema lists it in `in_environment`, or, lacking
that, when the environment is a default one and not in `not_in_environment` (TFDV's rule).
A feature is required when every example must carry it (`presence.min_fraction` 1 or
`value_count.min` >= 1).
"""

import dataclasses
import pathlib
from typing import Dict, Iterable

from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2

from mlpipe.config import ConfigError
from mlpipe.core.contract import BYTES, FLOAT, INT, SERVING, TRAINING
# The tf.Example list that holds the values of each type.
EXAMPLE_KINDS = {FLOAT: "float_list", INT: "int64_list", BYTES: "bytes_list"}


@dataclasses.dataclass(frozen=True)
class FeatureInfo:
    name: str
    type: str          # INT, FLOAT or BYTES
    required: bool
    max_values: int    # 0: unbounded


def load_schema(path) -> schema_pb2.Schema:
    """A schema.pbtxt (TFMD Schema text proto); ConfigError naming the file when unreadable."""
    try:
        return text_format.Parse(_read_text(str(path)), schema_pb2.Schema())
    except (OSError, UnicodeDecodeError, text_format.ParseError) as error:
        raise ConfigError(f"schema {path}: cannot be read as a TFMD Schema text proto: "
                          f"{error}") from error


def schema_text(path) -> str:
    """The text of a schema.pbtxt exactly (its bytes as UTF-8), what the pipeline carries to its
    schema step (mlpipe.components.embedded_schema); ConfigError naming the file when it is not
    a TFMD Schema text proto."""
    try:
        text = pathlib.Path(path).read_bytes().decode("utf-8")
        text_format.Parse(text, schema_pb2.Schema())
    except (OSError, UnicodeDecodeError, text_format.ParseError) as error:
        raise ConfigError(f"schema {path}: cannot be read as a TFMD Schema text proto: "
                          f"{error}") from error
    return text


def _read_text(path: str) -> str:
    if "://" in path:
        # A schema artifact on gs:// (inside a cloud pipeline step): TFX's filesystem layer.
        from tfx.dsl.io import fileio
        with fileio.open(path, "r") as source:
            return source.read()
    return pathlib.Path(path).read_text(encoding="utf-8")


def numeric_columns(schema: schema_pb2.Schema) -> Dict[str, str]:
    """Column -> 'INT' or 'FLOAT', for the schema's numeric features."""
    return {feature.name: schema_pb2.FeatureType.Name(feature.type)
            for feature in schema.feature if feature.type in (schema_pb2.INT, schema_pb2.FLOAT)}


def add_environments(schema: schema_pb2.Schema, label_source_columns: Iterable[str]) -> None:
    """TRAINING and SERVING as default environments; the label's sources not in SERVING."""
    schema.default_environment[:] = [TRAINING, SERVING]
    label_columns = set(label_source_columns)
    for feature in schema.feature:
        if feature.name in label_columns:
            feature.not_in_environment[:] = [SERVING]


def in_environment(feature: schema_pb2.Feature, schema: schema_pb2.Schema,
                   environment: str) -> bool:
    if feature.in_environment:
        return environment in feature.in_environment
    return (environment in schema.default_environment
            and environment not in feature.not_in_environment)


def environment_features(schema: schema_pb2.Schema,
                         environment: str = SERVING) -> Dict[str, FeatureInfo]:
    """Feature name -> FeatureInfo, in schema order, for the features of `environment`."""
    features = {}
    for feature in schema.feature:
        if not in_environment(feature, schema, environment):
            continue
        type_name = schema_pb2.FeatureType.Name(feature.type)
        if type_name not in (INT, FLOAT, BYTES):
            continue
        required = (feature.presence.min_fraction >= 1.0
                    or (feature.HasField("value_count") and feature.value_count.min >= 1))
        max_values = feature.value_count.max if feature.HasField("value_count") else 0
        features[feature.name] = FeatureInfo(feature.name, type_name, required, max_values)
    return features
