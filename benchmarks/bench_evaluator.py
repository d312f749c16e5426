"""Where the Evaluator's time goes: slices against metrics, beside the model floor.

TFX's own Evaluator executor runs in this process, on a run home's newest evaluated model and
eval split, with the pipeline's EvalConfig (`build_eval_config`, the pipeline's custom
extractors) and with parts of it taken away, interleaved so load changes hit every variant:

- configured: the pipeline's EvalConfig;
- overall slice only: the configured metrics and plots, no slicing spec but the overall one;
- count + main metric: the configured slices, only ExampleCount and the main metric's class;
- count + main metric, overall: both taken away.

The differences are what the slicing specs and the other metrics cost; the last variant is the
least TFMA does per example here. The model floor is the same model's serving signature alone on
the same serialized eval examples (benchmarks/floors.py). One uncounted warm-up pass first.

    .venv/bin/python -m benchmarks.bench_evaluator [--home RUN_HOME] [--config F] [--rounds N]

RUN_HOME: `<base>/<pipeline>` of a run with a pushed model; default: the newest
`make bench-scale` home of its largest table.
"""

import argparse
import glob
import json
import pathlib
import statistics
import sys
import tempfile
import time

import mlpipe  # noqa: F401  (process settings before TensorFlow)
from benchmarks.evaluator_executor import evaluate, evaluator_inputs
from mlpipe.config import load_config
from mlpipe.config.metrics import METRICS_BY_TASK

CHUNK = 2048
VARIANTS = ("configured", "overall slice only", "count + main metric",
            "count + main metric, overall")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", help="a run home (default: the newest bench-scale home of "
                                       "its largest table)")
    parser.add_argument("--config", help="the run's problem config (default: the taxi one)")
    parser.add_argument("--rounds", type=int, default=1, help="counted passes of each variant")
    parser.add_argument("--out", default="benchmarks/out")
    args = parser.parse_args()
    config = load_config(args.config)
    home = pathlib.Path(args.home) if args.home else _largest_bench_home(pathlib.Path(args.out))
    examples, model = evaluator_inputs(home / "metadata.sqlite")
    from benchmarks import floors
    chunks = floors.record_chunks(f"{examples.uri}/Split-eval", CHUNK)
    rows = sum(len(chunk) for chunk in chunks)
    print(f"Run home: {home}\nEval rows: {rows:,}", flush=True)

    floor = _model_floor(home, chunks)
    print(f"Model floor: {floor['rows_per_s']:,.0f} rows/s (serving signature, chunks of "
          f"{CHUNK})", flush=True)
    seconds = {name: [] for name in VARIANTS}
    with tempfile.TemporaryDirectory() as scratch:
        passes = [VARIANTS[-1]] + list(VARIANTS) * args.rounds
        for number, name in enumerate(passes):
            took = evaluate(examples, model, _variant(config, name), config,
                            pathlib.Path(scratch) / str(number))
            counted = number > 0
            if counted:
                seconds[name].append(took)
            print(f"pass {number} {name:<30} {took:7.1f}s"
                  + ("" if counted else "  (warm-up, not counted)"), flush=True)
    results = _summary(seconds, rows, floor)
    _print(results)
    path = pathlib.Path(args.out) / f"evaluator-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"home": str(home), **results}, indent=2))
    print(f"\nResults: {path}")


def _variant(config, name: str):
    """The pipeline's EvalConfig with the parts `name` takes away."""
    from mlpipe.pipeline.evaluation import build_eval_config
    eval_config = build_eval_config(config.evaluation, config.label)
    if name in ("overall slice only", "count + main metric, overall"):
        del eval_config.slicing_specs[1:]
    if name in ("count + main metric", "count + main metric, overall"):
        classes = {"ExampleCount", _main_metric_class(config)}
        del eval_config.metrics_specs[1:]  # multiclass: the per-class metrics
        metrics = [m for m in eval_config.metrics_specs[0].metrics if m.class_name in classes]
        del eval_config.metrics_specs[0].metrics[:]
        eval_config.metrics_specs[0].metrics.extend(metrics)
    return eval_config


def _main_metric_class(config) -> str:
    by_name = {name: class_name
               for class_name, name in METRICS_BY_TASK[config.label.task].items()}
    return by_name[config.evaluation.main_metric]


def _model_floor(home: pathlib.Path, chunks) -> dict:
    from benchmarks import floors
    from mlpipe.core.run_home import RunHome
    from mlpipe.serving.model import LoadedModel, resolve_version
    return floors.model_floor(LoadedModel.load(*resolve_version(RunHome(home))), chunks)


def _summary(seconds, rows: int, floor: dict) -> dict:
    configured = statistics.median(seconds["configured"])
    variants = {}
    for name, runs in seconds.items():
        median = statistics.median(runs)
        variants[name] = {"seconds": runs, "median_s": median, "rows_per_s": rows / median,
                          "share_of_configured": median / configured,
                          "over_model_floor": rows / median / floor["rows_per_s"]}
    return {"eval_rows": rows, "model_floor": floor, "variants": variants}


def _print(results) -> None:
    print(f"\nThe Evaluator on {results['eval_rows']:,} eval rows, one process (median seconds,"
          " start-up included)")
    print(f"  {'variant':<30} {'seconds':>8} {'rows/s':>8} {'of configured':>14} "
          f"{'/ model floor':>14}")
    for name, entry in results["variants"].items():
        print(f"  {name:<30} {entry['median_s']:8.1f} {entry['rows_per_s']:8,.0f} "
              f"{entry['share_of_configured']:14.2f} {entry['over_model_floor']:14.4f}")


def _largest_bench_home(base_out: pathlib.Path) -> pathlib.Path:
    runs = sorted(glob.glob(str(base_out / "scale-*")))
    for run in reversed(runs):
        homes = glob.glob(f"{run}/x*/home/*/serving/*")
        if homes:
            largest = max(homes, key=lambda h: int(pathlib.Path(h).parts[-5][1:]))
            return pathlib.Path(largest).parent.parent
    sys.exit("no run home with a pushed model under benchmarks/out: run `make bench-scale "
             "SCALES=1,16` first, or pass --home")


if __name__ == "__main__":
    main()
