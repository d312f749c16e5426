"""What each change to the local runner bought: the component before and after, side by side in
one invocation, on the same data.

- ExampleGen: TFX's CsvExampleGen executor against mlpipe's CSV executor
  (mlpipe/components/csv_example_gen), on the taxi table repeated `--scale` times; both split
  it 2:1 by hash, and the split sizes must agree.
- Evaluator: TFX's Evaluator executor on the eval split just written, with the model of an
  existing run home (`--home`, default: the newest `make bench-scale` home that pushed a model),
  three ways: the previous TFMA configuration (model type found by loading the model, TFMA's
  default metrics on), in one process; today's configuration (mlpipe/pipeline/evaluation.py)
  in one process; today's configuration with its Reshuffle (`custom_extractors`) on
  `--workers` DirectRunner worker processes.

Otherwise both run on the local runner's Beam settings (in-memory DirectRunner). Absolute
seconds drift with the machine's load: compare the ratios of one invocation.

    .venv/bin/python -m benchmarks.bench_changes [--scale 8] [--workers 2] [--home RUN_HOME]
        [--out benchmarks/out]
"""

import argparse
import glob
import json
import pathlib
import sys
import time

import mlpipe  # noqa: F401  (process settings before TensorFlow)
from mlpipe.config import load_config

SPLITS = {"train": 2, "eval": 1}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=8, help="copies of the taxi CSV (default 8)")
    parser.add_argument("--home", help="a run home (problem folder) with a trained model")
    parser.add_argument("--workers", type=int, default=2,
                        help="worker processes of the last Evaluator variant (default 2)")
    parser.add_argument("--out", default="benchmarks/out")
    args = parser.parse_args()
    base_out = pathlib.Path(args.out).resolve()
    out = base_out / f"changes-{time.strftime('%Y%m%d-%H%M%S')}"
    out.mkdir(parents=True)
    home = pathlib.Path(args.home) if args.home else _newest_bench_home(base_out)
    import tensorflow  # noqa: F401  (loaded before anything is timed)
    from benchmarks.bench_scale import _table
    config = load_config()
    table = _table(pathlib.Path(config.data.path), base_out / "scale-data", args.scale)
    print(f"Benchmark folder: {out}\nTable: {table['path']} ({table['rows']:,} rows)\n"
          f"Model: the Trainer output of {home}\n", flush=True)

    tfx_folder, tfx_seconds, tfx_rows = _example_gen("tfx", table["path"], out / "tfx-examples")
    folder, seconds, split_rows = _example_gen("mlpipe", table["path"], out / "mlpipe-examples")
    if tfx_rows != split_rows:
        sys.exit(f"the two ExampleGens split differently: {tfx_rows} vs {split_rows}")
    eval_rows = split_rows["eval"]
    model_uri = _trained_model_uri(home)
    previous = _evaluator("previous", folder, model_uri, config, out, eval_rows)
    options = _evaluator("options", folder, model_uri, config, out, eval_rows)
    workers = _evaluator("workers", folder, model_uri, config, out, eval_rows, args.workers)

    changes = [
        ("ExampleGen: mlpipe's CSV executor", table["rows"], tfx_seconds, seconds),
        ("Evaluator: TFMA options", eval_rows, previous, options),
        (f"Evaluator: + Reshuffle, {args.workers} workers", eval_rows, options, workers),
        ("Evaluator: both", eval_rows, previous, workers)]
    results = {"table": table, "model": model_uri, "split_rows": split_rows,
               "changes": [dict(change=name, rows=count, before_s=before, after_s=after)
                           for name, count, before, after in changes]}
    (out / "results.json").write_text(json.dumps(results, indent=2))
    print(f"\n{'change':<38}{'rows':>9}{'before s':>10}{'after s':>9}{'before rows/s':>15}"
          f"{'after rows/s':>14}{'speed-up':>10}")
    for name, count, before, after in changes:
        print(f"{name:<38}{count:>9,}{before:>10.1f}{after:>9.1f}{count / before:>15,.0f}"
              f"{count / after:>14,.0f}{before / after:>9.1f}x")
    print(f"\nResults: {out / 'results.json'}")


def _newest_bench_home(base_out: pathlib.Path) -> pathlib.Path:
    homes = sorted(glob.glob(str(base_out / "scale-*" / "x*" / "home" / "*" / "serving" / "*")))
    if not homes:
        sys.exit("no run home with a pushed model under benchmarks/out: run `make bench-scale "
                 "SCALES=1` first, or pass --home")
    return pathlib.Path(homes[-1]).parent.parent


def _example_gen(which: str, csv_path: str, folder: pathlib.Path):
    """Runs one ExampleGen executor on `csv_path`: (examples folder, seconds, rows per split)."""
    from tfx.components.example_gen.csv_example_gen import executor as tfx_executor
    from tfx.dsl.components.base import base_beam_executor
    from tfx.proto import example_gen_pb2
    from tfx.types import standard_artifacts
    from tfx.utils import proto_utils

    from mlpipe.components.csv_example_gen import executor as mlpipe_executor
    from mlpipe.pipeline.runner_settings import direct_runner_args
    executor_class = {"tfx": tfx_executor.Executor, "mlpipe": mlpipe_executor.Executor}[which]
    examples = standard_artifacts.Examples()
    examples.uri = str(folder)
    path = pathlib.Path(csv_path)
    properties = {
        "input_base": str(path.parent),
        "input_config": proto_utils.proto_to_json(example_gen_pb2.Input(splits=[
            example_gen_pb2.Input.Split(name="all", pattern=path.name)])),
        "output_config": proto_utils.proto_to_json(example_gen_pb2.Output(
            split_config=example_gen_pb2.SplitConfig(splits=[
                example_gen_pb2.SplitConfig.Split(name=name, hash_buckets=buckets)
                for name, buckets in SPLITS.items()]))),
        "output_data_format": example_gen_pb2.FORMAT_TF_EXAMPLE,
        "output_file_format": example_gen_pb2.FORMAT_TFRECORDS_GZIP,
    }
    context = base_beam_executor.BaseBeamExecutor.Context(
        beam_pipeline_args=direct_runner_args(load_config().beam),
        tmp_dir=str(folder.parent / f"tmp-{which}"), unique_id=which)
    print(f"ExampleGen ({which}) ...", flush=True)
    started = time.monotonic()
    executor_class(context).Do({}, {"examples": [examples]}, properties)
    seconds = time.monotonic() - started
    rows = {split: _count(folder / f"Split-{split}") for split in SPLITS}
    print(f"  {seconds:.1f}s, {rows}", flush=True)
    return str(folder), seconds, rows


def _count(split_folder: pathlib.Path) -> int:
    import tensorflow as tf
    files = glob.glob(f"{split_folder}/*")
    return sum(1 for _ in tf.data.TFRecordDataset(files, compression_type="GZIP"))


def _trained_model_uri(home: pathlib.Path) -> str:
    """The model the newest run's Evaluator judged."""
    from mlpipe.core import lineage
    from mlpipe.core.run_home import RunHome
    with lineage.open_store(RunHome(home).metadata_path) as store:
        run = lineage.pipeline_runs(store)[-1]
        evaluator = lineage.executions_by_node(store, run.id)["Evaluator"]
        return lineage.inputs_of(store, evaluator.id)["model"].uri


def _evaluator(which: str, examples_uri: str, model_uri: str, config, out: pathlib.Path,
               eval_rows: int, workers: int = 1) -> float:
    """TFX's Evaluator executor: the previous TFMA configuration, today's ("options"), or
    today's with its Reshuffle on `workers` worker processes ("workers")."""
    from tfx.components.evaluator import executor as evaluator_executor
    from tfx.dsl.components.base import base_beam_executor
    from tfx.types import artifact_utils, standard_artifacts
    from tfx.utils import proto_utils

    from mlpipe.pipeline.evaluation import build_eval_config
    from mlpipe.pipeline.pipeline import EVALUATOR_MODULE
    from mlpipe.pipeline.runner_settings import direct_runner_args, evaluator_runner_args
    eval_config = build_eval_config(config.evaluation, config.label)
    if which == "previous":
        eval_config.options.ClearField("include_default_metrics")
        for spec in eval_config.model_specs:
            spec.ClearField("model_type")
    examples, model = standard_artifacts.Examples(), standard_artifacts.Model()
    examples.uri, model.uri = examples_uri, model_uri
    examples.split_names = artifact_utils.encode_split_names(list(SPLITS))
    evaluation, blessing = standard_artifacts.ModelEvaluation(), standard_artifacts.ModelBlessing()
    evaluation.uri, blessing.uri = str(out / which / "evaluation"), str(out / which / "blessing")
    for artifact in (evaluation, blessing):
        pathlib.Path(artifact.uri).mkdir(parents=True)
    beam_args = direct_runner_args(config.beam)
    properties = {"eval_config": proto_utils.proto_to_json(eval_config),
                  "example_splits": json.dumps(["eval"]), "fairness_indicator_thresholds": "null"}
    if which == "workers":
        beam = config.beam.model_copy(update={"evaluator_workers": workers})
        beam_args += evaluator_runner_args(beam, eval_rows, cores=workers)
        properties["module_path"] = EVALUATOR_MODULE
    context = base_beam_executor.BaseBeamExecutor.Context(
        beam_pipeline_args=beam_args, tmp_dir=str(out / which / "tmp"), unique_id=which)
    print(f"Evaluator ({which}, {eval_rows:,} eval rows) ...", flush=True)
    started = time.monotonic()
    evaluator_executor.Executor(context).Do(
        {"examples": [examples], "model": [model]},
        {"evaluation": [evaluation], "blessing": [blessing]}, properties)
    seconds = time.monotonic() - started
    print(f"  {seconds:.1f}s", flush=True)
    return seconds


if __name__ == "__main__":
    main()
