"""TFX's own Evaluator executor, run in this process on what a run home's newest Evaluator
execution read: the benchmarks that time the Evaluator under other EvalConfigs share it.

TensorFlow and TFX are imported inside the functions, so importing this module costs nothing.
"""

import pathlib
import time

from mlpipe.core import lineage
from mlpipe.pipeline.runner_settings import direct_runner_args


def evaluator_inputs(metadata_path: pathlib.Path):
    """The Examples and Model artifacts the home's newest Evaluator execution read."""
    from tfx.types import artifact_utils, standard_artifacts  # noqa: F401  (registers the types)
    with lineage.open_store(metadata_path) as store:
        for run in reversed(lineage.pipeline_runs(store)):
            evaluator = lineage.executions_by_node(store, run.id).get("Evaluator")
            if evaluator is None:
                continue
            inputs = lineage.inputs_of(store, evaluator.id)
            types = {t.id: t for t in store.get_artifact_types()}
            return tuple(artifact_utils.deserialize_artifact(types[inputs[key].type_id],
                                                             inputs[key])
                         for key in ("examples", "model"))
    raise SystemExit(f"{metadata_path}: no Evaluator execution")


def evaluate(examples, model, eval_config, config, out: pathlib.Path) -> float:
    """Seconds TFX's Evaluator executor takes on the eval split with `eval_config`, in one
    process (the config's DirectRunner mode) and with the pipeline's custom extractors; the
    evaluation and blessing go under `out`."""
    from tfx.components.evaluator.executor import Executor
    from tfx.dsl.components.base.base_beam_executor import BaseBeamExecutor
    from tfx.types import standard_artifacts
    from tfx.utils import json_utils, proto_utils
    from mlpipe.pipeline.pipeline import EVALUATOR_MODULE
    evaluation, blessing = standard_artifacts.ModelEvaluation(), standard_artifacts.ModelBlessing()
    evaluation.uri, blessing.uri = str(out / "evaluation"), str(out / "blessing")
    for artifact in (evaluation, blessing):
        pathlib.Path(artifact.uri).mkdir(parents=True)
    executor = Executor(BaseBeamExecutor.Context(
        beam_pipeline_args=direct_runner_args(config.beam), tmp_dir=str(out / "tmp"),
        unique_id="bench"))
    started = time.monotonic()
    executor.Do({"examples": [examples], "model": [model]},
                {"evaluation": [evaluation], "blessing": [blessing]},
                {"eval_config": proto_utils.proto_to_json(eval_config),
                 "example_splits": json_utils.dumps(["eval"]),
                 "fairness_indicator_thresholds": "null",
                 "module_path": EVALUATOR_MODULE})
    return time.monotonic() - started
