"""The FeatureAttributions component class (its keys, spec and types: `spec`).

It reads the raw examples (ExampleGen's output) and the Trainer's exported model, and writes one
`attributions.json` (see `executor.permutation_importance` for what it holds) into an artifact of
its own type. It runs beside the Evaluator: nothing downstream waits for it.
"""

import json
from typing import List

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec

from mlpipe.components.attributions import executor
from mlpipe.components.attributions.spec import (DEFAULT_MAX_ROWS, DEFAULT_REPEATS,
                                                 DEFAULT_SPLIT, FeatureAttributionsArtifact,
                                                 FeatureAttributionsSpec)


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
