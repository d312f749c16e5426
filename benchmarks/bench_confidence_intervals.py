"""The Evaluator's time with and without TFMA's confidence intervals, on a run home's last
evaluated model and examples: TFX's own Evaluator executor, run in this process with the
pipeline's EvalConfig (`mlpipe.pipeline.evaluation.build_eval_config`) and with
`options.compute_confidence_intervals` forced on / off, interleaved so load changes hit both.
A first pass without intervals warms up and is not counted.

    .venv/bin/python -m benchmarks.bench_confidence_intervals RUN_HOME [--config F]
        [--order off,on,off]

RUN_HOME: `<base>/<pipeline>` of an existing run (e.g. the tests' trained home).
"""

import argparse
import json
import pathlib
import statistics
import tempfile

import mlpipe  # noqa: F401  (process settings before TensorFlow)
from benchmarks.evaluator_executor import evaluate, evaluator_inputs
from mlpipe.config import load_config


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
    examples, model = evaluator_inputs(home / "metadata.sqlite")

    from mlpipe.pipeline.evaluation import build_eval_config
    seconds = {True: [], False: []}
    passes = [None] + [{"on": True, "off": False}[name] for name in args.order.split(",")]
    with tempfile.TemporaryDirectory() as scratch:
        for number, intervals in enumerate(passes):
            eval_config = build_eval_config(config.evaluation, config.label)
            eval_config.options.compute_confidence_intervals.value = bool(intervals)
            took = evaluate(examples, model, eval_config, config,
                             pathlib.Path(scratch) / str(number))
            print(f"pass {number} intervals={bool(intervals)!s:<5} {took:7.1f}s"
                  + ("  (warm-up, not counted)" if intervals is None else ""), flush=True)
            if intervals is not None:
                seconds[intervals].append(took)
    on, off = statistics.median(seconds[True]), statistics.median(seconds[False])
    print(json.dumps({"with_intervals_s": seconds[True], "without_s": seconds[False],
                      "median_with_s": on, "median_without_s": off,
                      "extra_fraction": (on - off) / off}, indent=2))


if __name__ == "__main__":
    main()
