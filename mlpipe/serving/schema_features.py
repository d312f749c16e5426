"""What a request may carry, read from the curated schema's SERVING environment.

A feature belongs to an environment when the schema lists it in `in_environment`, or, lacking
that, when the environment is a default one and not in `not_in_environment` (TFDV's rule).
A feature is required when every example must carry it (`presence.min_fraction` 1 or
`value_count.min` >= 1).
"""

import dataclasses
import pathlib
from typing import Dict, List

from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2

SERVING = "SERVING"
TRAINING = "TRAINING"
INT, FLOAT, BYTES = "INT", "FLOAT", "BYTES"


@dataclasses.dataclass(frozen=True)
class FeatureInfo:
    name: str
    type: str          # INT, FLOAT or BYTES
    required: bool
    max_values: int    # 0: unbounded


def load_schema(path) -> schema_pb2.Schema:
    return text_format.Parse(pathlib.Path(path).read_text(), schema_pb2.Schema())


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


def environments(schema: schema_pb2.Schema) -> List[str]:
    names = set(schema.default_environment)
    for feature in schema.feature:
        names.update(feature.in_environment)
        names.update(feature.not_in_environment)
    return sorted(names)
