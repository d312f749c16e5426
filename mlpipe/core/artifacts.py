"""TFX's on-disk layout of artifacts, and the custom properties that say what an artifact means.

TFX writes a split of an Examples / ExampleStatistics / ExampleAnomalies artifact under
`<uri>/Split-<name>/` and a Schema artifact's schema as `<uri>/schema.pbtxt`, marks a
ModelBlessing with the custom property `blessed` = 1, and an ExampleGen's Examples with the
custom property `span` (the span it ingested; 0 for data without span specs). Nothing else in the
package spells these out.
"""

import os
import pathlib
from typing import Dict, List

STATISTICS_FILE = "FeatureStats.pb"   # StatisticsGen, per split
SCHEMA_FILE = "schema.pbtxt"          # a Schema artifact (ImportSchemaGen, SchemaGen,
                                      # our schema step)
ANOMALIES_FILE = "SchemaDiff.pb"      # ExampleValidator, per split
_SPLIT_PREFIX = "Split-"
_BLESSED = "blessed"
SPAN = "span"


def split_uri(artifact_uri: str, split: str) -> str:
    """The folder of one split of a split artifact (TFX's `artifact_utils.get_split_uri` layout)."""
    return os.path.join(artifact_uri, f"{_SPLIT_PREFIX}{split}")


def split_dirs(artifact_uri: str) -> Dict[str, pathlib.Path]:
    """Split name -> folder, for every split the artifact holds, in name order."""
    return {path.name[len(_SPLIT_PREFIX):]: path
            for path in sorted(pathlib.Path(artifact_uri).glob(f"{_SPLIT_PREFIX}*"))}


def is_blessed(blessing) -> bool:
    """Whether an ML Metadata ModelBlessing artifact (proto) says the model was blessed."""
    return blessing.custom_properties[_BLESSED].int_value == 1


def blessed_model_ids(blessings: List) -> Dict[int, object]:
    """Model artifact id -> its blessing, for the TFX ModelBlessing artifacts that bless a model."""
    return {blessing.get_int_custom_property("current_model_id"): blessing
            for blessing in blessings if blessing.get_int_custom_property(_BLESSED) == 1}


def span_of(artifact) -> int:
    """The span an ExampleGen's Examples artifact holds: a TFX Artifact or an ML Metadata proto
    (older TFX wrote it as text). TFX copies it onto ExampleStatistics only as the declared
    `span` property, from the Examples' (unset) one, so there it is always 0: read the
    Examples'."""
    if hasattr(artifact, "mlmd_artifact"):
        artifact = artifact.mlmd_artifact
    if SPAN not in artifact.custom_properties:
        return 0
    value = artifact.custom_properties[SPAN]
    return int(value.string_value) if value.WhichOneof("value") == "string_value" else \
        value.int_value
