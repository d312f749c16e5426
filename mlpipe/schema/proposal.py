"""Schema as code: propose a schema from data with TFDV and show how it differs from the curated one.

The curated `schema.pbtxt` in this folder is reviewed by people and is what the pipeline imports;
a proposal is only ever written beside it for review, never over it.
"""

import difflib
from typing import Dict, Iterable, List

import tensorflow_data_validation as tfdv
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2

from mlpipe.core.schema_io import add_environments


def propose_schema(csv_path: str, label_source_columns: Iterable[str]) -> schema_pb2.Schema:
    """Infers a schema from a CSV with TFDV, with a SERVING environment that lacks the label."""
    statistics = tfdv.generate_statistics_from_csv(data_location=csv_path)
    schema = tfdv.infer_schema(statistics, infer_feature_shape=False)
    add_environments(schema, label_source_columns)
    return schema


def schema_diff(curated: schema_pb2.Schema, proposed: schema_pb2.Schema) -> List[str]:
    """A readable, per-feature diff; empty when the two schemas say the same."""
    lines: List[str] = []
    old, new = _features_as_text(curated), _features_as_text(proposed)
    for name in sorted(set(old) | set(new)):
        if name not in new:
            lines.append(f"- feature {name}: in the curated schema, not seen in the data")
        elif name not in old:
            lines.append(f"+ feature {name}: in the data, not in the curated schema")
        elif old[name] != new[name]:
            lines.append(f"~ feature {name}:")
            changed = [line for line in difflib.unified_diff(
                old[name].splitlines(), new[name].splitlines(), "curated", "proposed", lineterm="",
                n=0) if not line.startswith(("---", "+++", "@@"))]
            lines.extend("    " + line for line in _shorten_domain_values(changed))
    return lines


def _shorten_domain_values(changed: List[str], shown: int = 5) -> List[str]:
    """A domain of hundreds of values would bury the diff: show a few per sign, count the rest."""
    kept, hidden = [], {"+": 0, "-": 0}
    seen = {"+": 0, "-": 0}
    for line in changed:
        sign = line[:1]
        if line[1:].lstrip().startswith("value:") and sign in seen:
            seen[sign] += 1
            if seen[sign] > shown:
                hidden[sign] += 1
                continue
        kept.append(line)
    kept += [f"{sign}... and {count} more domain values" for sign, count in hidden.items() if count]
    return kept


def _features_as_text(schema: schema_pb2.Schema) -> Dict[str, str]:
    domains = {domain.name: domain for domain in schema.string_domain}
    texts = {}
    for feature in schema.feature:
        text = text_format.MessageToString(feature)
        if feature.HasField("domain") and feature.domain in domains:
            text += text_format.MessageToString(domains[feature.domain])
        texts[feature.name] = text
    return texts
