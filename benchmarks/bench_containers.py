"""What does running the compiled pipeline in containers cost, step by step, against the same
steps of a local `mlpipe run`? Both on the same small taxi table, in one invocation.

1. `mlpipe run` (Beam DirectRunner, one process) on the first ROWS rows of the bundled taxi CSV,
   in a fresh run home: each component's seconds from its progress line.
2. The same config compiled for Kubeflow (`mlpipe compile`'s code) and executed in containers of
   the pipeline image by tests/cloud/backend.py (one container per step, one at a time, the bucket
   a mounted folder): each task's seconds, container start and TensorFlow import included.
3. The floors each step pays before it does anything, each the median of REPEAT runs: a
   container's start and end (`docker run IMAGE true`), and that plus the imports of the step
   entrypoint every task runs (TFX's kubeflow_v2_run_executor: TensorFlow, TFX, Beam).

Prints a table: step, local s, container s, container/local, and the totals; ratios are from this
one run, on this machine (these machines are noisy: compare ratios, not seconds across runs).

    .venv/bin/python -m benchmarks.bench_containers [--image mlpipe:local] [--rows 2000]
    (from the repository root, as `make bench-containers` does, after `make image`)
"""

import argparse
import pathlib
import statistics
import subprocess
import sys
import time

import mlpipe  # noqa: F401  (process settings before TensorFlow)
from mlpipe.config import DEFAULT_CONFIG, load_config
from mlpipe.config.cloud import resolve_cloud
from mlpipe.kubeflow.compile import compile_pipeline
from benchmarks.bench_pipeline import PROGRESS_LINE
from tests.cloud.backend import LocalBackend
from tests.cloud.problem import write_cloud_problem

REPO = pathlib.Path(__file__).resolve().parents[1]
REPEAT = 3
# The module every compiled container step runs (its command), whose imports each step pays.
STEP_ENTRYPOINT = "tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default="mlpipe:local")
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--out", default="benchmarks/out")
    args = parser.parse_args()
    out = pathlib.Path(args.out).resolve() / f"containers-{time.strftime('%Y%m%d-%H%M%S')}"
    storage = out / "gcs"
    taxi = load_config(str(DEFAULT_CONFIG))
    config_file = write_cloud_problem(storage, out, taxi.data.path, args.rows)
    docker = subprocess.run([str(REPO / "scripts" / "docker-engine.sh")], check=True,
                            capture_output=True, text=True).stdout.strip().splitlines()[-1]

    print(f"local: mlpipe run on {args.rows} rows ...", flush=True)
    local, local_total = _local_run(config_file, out / "runs")
    print(f"containers: the Kubeflow spec in {args.image} ...", flush=True)
    config = load_config(str(config_file))
    compiled = compile_pipeline(config, resolve_cloud(config, "kubeflow", {"image": args.image}),
                                "kubeflow", out / "pipeline.yaml")
    start = time.monotonic()
    run = LocalBackend(docker, storage, out / "logs").run(compiled.spec, compiled.pipeline_root)
    container_total = time.monotonic() - start
    start_floor = _median_seconds([docker, "run", "--rm", "--network", "none", args.image,
                                   "true"])
    import_floor = _median_seconds([docker, "run", "--rm", "--network", "none", args.image,
                                    "python", "-c", f"import {STEP_ENTRYPOINT}"])

    print(f"\nBenchmark folder: {out}")
    print(f"{'step':<24}{'local s':>9}{'container s':>13}{'ratio':>8}")
    for task in run.tasks:
        if task.kind != "container":
            continue
        seconds = local.get(task.name)
        ratio = f"{task.seconds / seconds:>8.2f}" if seconds else f"{'-':>8}"
        print(f"{task.name:<24}{_or_dash(seconds):>9}{task.seconds:>13.1f}{ratio}")
    steps = sum(1 for task in run.tasks if task.kind == "container")
    print(f"{'whole run':<24}{local_total:>9.1f}{container_total:>13.1f}"
          f"{container_total / local_total:>8.2f}")
    print(f"Floors (median of {REPEAT}): a container's start and end {start_floor:.1f} s; with "
          f"the step entrypoint's imports {import_floor:.1f} s; {steps} steps x that = "
          f"{steps * import_floor:.1f} s ({steps * import_floor / container_total:.0%} of the "
          "container run).")


def _local_run(config_file: pathlib.Path, home: pathlib.Path):
    """Each component's seconds of one `mlpipe run` (its progress lines), and its wall time."""
    start = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "mlpipe.cli", "run", "--config",
                             str(config_file), "--home", str(home)],
                            capture_output=True, text=True)
    total = time.monotonic() - start
    if result.returncode != 0:
        raise SystemExit(f"mlpipe run failed ({result.returncode}):\n{result.stdout[-3000:]}"
                         f"\n{result.stderr[-3000:]}")
    steps = {m.group(1): float(m.group(3))
             for m in map(PROGRESS_LINE.match, result.stdout.splitlines()) if m}
    return steps, total


def _median_seconds(command) -> float:
    times = []
    for _ in range(REPEAT):
        start = time.monotonic()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.monotonic() - start)
    return statistics.median(times)


def _or_dash(value) -> str:
    return "-" if value is None else f"{value:.1f}"


if __name__ == "__main__":
    main()
