"""The Evaluator's time with and without TFMA's confidence intervals, on a run home's last
evaluated model and examples: TFX's own Evaluator executor, run in this process with the
pipeline's EvalConfig (`mlpipe.pipeline.evaluation.build_eval_config`) and with
`options.compute_confidence_intervals` forced on / off, interleaved so load changes hit both.
A first pass without intervals warms up and is not counted.

    .venv/bin/python benchmarks/bench_confidence_intervals.py RUN_HOME [--config F]
        [--order off,on,off]

RUN_HOME: `<base>/<pipeline>` of an existing run (e.g. the tests' trained home).
"""

import argparse
import json
import pathlib
import statistics
import tempfile
import time

import mlpipe  # noqa: F401  (process settings before TensorFlow)
from mlpipe.config import load_config
from mlpipe.core import lineage
from mlpipe.pipeline.runner_settings import direct_runner_args


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_home")
    parser.add_argument("--config")
    parser.add_argument("--order", default="off,on,off",
                        help="the counted passes, after one uncounted warm-up pass without "
                             "intervals (default: off,on,off: a pass with intervals takes many "
                             "times one without)")
    args = parser.parse_args()
    config = load_config(args.config)
    home = pathlib.Path(args.run_home)
    examples, model = _evaluator_inputs(home / "metadata.sqlite")

    from mlpipe.pipeline.evaluation import build_eval_config
    seconds = {True: [], False: []}
    passes = [None] + [{"on": True, "off": False}[name] for name in args.order.split(",")]
    with tempfile.TemporaryDirectory() as scratch:
        for number, intervals in enumerate(passes):
            eval_config = build_eval_config(config.evaluation, config.label.name)
            eval_config.options.compute_confidence_intervals.value = bool(intervals)
            took = _evaluate(examples, model, eval_config, config,
                             pathlib.Path(scratch) / str(number))
            print(f"pass {number} intervals={bool(intervals)!s:<5} {took:7.1f}s"
                  + ("  (warm-up, not counted)" if intervals is None else ""), flush=True)
            if intervals is not None:
                seconds[intervals].append(took)
    on, off = statistics.median(seconds[True]), statistics.median(seconds[False])
    print(json.dumps({"with_intervals_s": seconds[True], "without_s": seconds[False],
                      "median_with_s": on, "median_without_s": off,
                      "extra_fraction": (on - off) / off}, indent=2))


def _evaluator_inputs(metadata_path: pathlib.Path):
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


def _evaluate(examples, model, eval_config, config, out: pathlib.Path) -> float:
    from tfx.components.evaluator.executor import Executor
    from tfx.dsl.components.base.base_beam_executor import BaseBeamExecutor
    from tfx.types import standard_artifacts
    from tfx.utils import json_utils, proto_utils
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
                 "fairness_indicator_thresholds": "null"})
    return time.monotonic() - started


if __name__ == "__main__":
    main()
