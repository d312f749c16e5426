"""FeatureAttributions' names and types, imported by its component and its executor alike (as
TFX's `standard_component_specs`): input, output and exec property keys with their defaults, its
ComponentSpec and output type.
"""

from tfx import types
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

NODE_ID = "FeatureAttributions"  # the node's id in the pipeline, where the report finds it
EXAMPLES_KEY = "examples"
MODEL_KEY = "model"
ATTRIBUTIONS_KEY = "attributions"
LABEL_KEY = "label_key"
FEATURES_KEY = "features"      # JSON list of the raw feature columns
METRIC_KEY = "metric"
TASK_KEY = "task"              # binary | multiclass | regression: which output the model answers
REPEATS_KEY = "repeats"
MAX_ROWS_KEY = "max_rows"
SEED_KEY = "seed"
SPLIT_KEY = "split"

DEFAULT_REPEATS = 5
DEFAULT_MAX_ROWS = 5000
DEFAULT_SPLIT = "eval"

ATTRIBUTIONS_FILE = "attributions.json"


class FeatureAttributionsArtifact(types.Artifact):
    """Permutation importance of each raw feature (`attributions.json`).

    Kubeflow / Vertex need a custom type name of the form `<namespace>.<Title>`."""
    TYPE_NAME = "mlpipe.FeatureAttributions"


class FeatureAttributionsSpec(ComponentSpec):
    PARAMETERS = {
        LABEL_KEY: ExecutionParameter(type=str),
        FEATURES_KEY: ExecutionParameter(type=str),
        METRIC_KEY: ExecutionParameter(type=str),
        TASK_KEY: ExecutionParameter(type=str, optional=True),
        REPEATS_KEY: ExecutionParameter(type=int),
        MAX_ROWS_KEY: ExecutionParameter(type=int),
        SEED_KEY: ExecutionParameter(type=int),
        SPLIT_KEY: ExecutionParameter(type=str),
    }
    INPUTS = {
        EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples),
        MODEL_KEY: ChannelParameter(type=standard_artifacts.Model),
    }
    OUTPUTS = {
        ATTRIBUTIONS_KEY: ChannelParameter(type=FeatureAttributionsArtifact),
    }
