"""The AnomalyGate executor: reads ExampleValidator's anomalies and fails when there are any."""

import os
from typing import Any, Dict, List

from tensorflow_metadata.proto.v0 import anomalies_pb2, schema_pb2
from tfx.dsl.components.base import base_executor
from tfx.dsl.io import fileio
from tfx.types import artifact_utils

from mlpipe.components.anomaly_gate.spec import ANOMALIES_KEY, SCHEMA_KEY
from mlpipe.core.artifacts import ANOMALIES_FILE, SCHEMA_FILE, split_uri
from mlpipe.core.schema_io import load_schema


class DataAnomaliesError(RuntimeError):
    """The data breaks the curated schema; the message lists each anomaly readably."""


class Executor(base_executor.BaseExecutor):

    def Do(self, input_dict: Dict[str, List[Any]], output_dict: Dict[str, List[Any]],
           exec_properties: Dict[str, Any]) -> None:
        anomalies_artifact = artifact_utils.get_single_instance(input_dict[ANOMALIES_KEY])
        schema = load_schema(
            os.path.join(artifact_utils.get_single_uri(input_dict[SCHEMA_KEY]), SCHEMA_FILE))
        found_in_splits: Dict[str, List[str]] = {}
        for split in artifact_utils.decode_split_names(anomalies_artifact.split_names):
            anomalies = read_anomalies(os.path.join(split_uri(anomalies_artifact.uri, split),
                                                    ANOMALIES_FILE))
            for line in describe_anomalies(anomalies, schema):
                found_in_splits.setdefault(line, []).append(split)
        if found_in_splits:
            lines = [f"  - {line} [{', '.join(splits)}]"
                     for line, splits in found_in_splits.items()]
            raise DataAnomaliesError(
                f"the data has {len(lines)} anomal{'y' if len(lines) == 1 else 'ies'} "
                "against the curated schema:\n" + "\n".join(lines))


def read_anomalies(path: str) -> anomalies_pb2.Anomalies:
    anomalies = anomalies_pb2.Anomalies()
    with fileio.open(path, "rb") as source:
        anomalies.ParseFromString(source.read())
    return anomalies


def describe_anomalies(anomalies: anomalies_pb2.Anomalies, schema: schema_pb2.Schema) -> List[str]:
    """One line per anomalous feature: the column, what was expected, what was found."""
    lines = []
    for feature, info in sorted(anomalies.anomaly_info.items()):
        found = "; ".join(reason.description or reason.short_description for reason in info.reason)
        lines.append(f"column '{feature}': expected {expectation(feature, schema)}; "
                     f"found: {found or info.description}")
    if anomalies.HasField("dataset_anomaly_info"):
        lines.append(f"dataset: {anomalies.dataset_anomaly_info.description}")
    return lines


def expectation(feature_name: str, schema: schema_pb2.Schema) -> str:
    feature = next((f for f in schema.feature if f.name == feature_name), None)
    if feature is None:
        return "no such column (not in the schema)"
    kind = schema_pb2.FeatureType.Name(feature.type)
    if feature.HasField("int_domain"):
        return f"{kind} in [{feature.int_domain.min}, {feature.int_domain.max}]"
    if feature.HasField("float_domain"):
        return f"{kind} in [{feature.float_domain.min:g}, {feature.float_domain.max:g}]"
    if feature.HasField("domain"):
        values = next((d.value for d in schema.string_domain if d.name == feature.domain), [])
        return f"one of {sorted(values)}"
    return kind
