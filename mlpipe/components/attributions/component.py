"""The FeatureAttributions component: spec, output artifact type and component class.

It reads the raw examples (ExampleGen's output) and the Trainer's exported model, and writes one
`attributions.json` (see `executor.permutation_importance` for what it holds) into an artifact of
its own type. It runs beside the Evaluator: nothing downstream waits for it.
"""

import json
from typing import List

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

from mlpipe.components.attributions import executor

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


class FeatureAttributions(base_component.BaseComponent):
    SPEC_CLASS = FeatureAttributionsSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self, examples: types.BaseChannel, model: types.BaseChannel, label_key: str,
                 features: List[str], metric: str, repeats: int = DEFAULT_REPEATS,
                 max_rows: int = DEFAULT_MAX_ROWS, seed: int = 0, split: str = DEFAULT_SPLIT,
                 task: str = "binary"):
        if task not in executor.METRICS_BY_TASK:
            raise ValueError(f"unknown task {task!r}; known: {sorted(executor.METRICS_BY_TASK)}")
        if metric not in executor.METRICS_BY_TASK[task]:
            raise ValueError(f"attributions of a {task} model cannot use metric {metric!r}; "
                             f"known: {sorted(executor.METRICS_BY_TASK[task])}")
        if repeats < 1 or max_rows < 1:
            raise ValueError(f"repeats and max_rows must be at least 1, got {repeats}, {max_rows}")
        super().__init__(spec=FeatureAttributionsSpec(
            examples=examples, model=model, label_key=label_key,
            features=json.dumps(list(features)), metric=metric, task=task, repeats=repeats,
            max_rows=max_rows, seed=seed, split=split,
            attributions=types.Channel(type=FeatureAttributionsArtifact)))
