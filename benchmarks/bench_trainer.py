"""Does the Trainer keep its device busy? Its fit on the transformed taxi data, against a floor.

The floor is the same Keras model (`mlpipe.trainer.model.build_model`, the taxi config) fitted on
the same rows already in memory as tensors (`model.fit(arrays)`, Keras's own fastest path). The
Trainer's `fit_model` runs on the Transform output of a real `mlpipe run` of the taxi problem,
read through TFX's data accessor as the Trainer reads it; the 16x table is that split's files
repeated 16 times (what Transform writes for the CSV repeated 16 times, since every analyzer
sees the same distribution). Variants, from one process:

- one device, data streamed from the files every epoch (`train.in_memory_mb: 0`);
- one device, data read once and held in memory (the default when it fits);
- mirrored over two CPU logical devices (the process splits its CPU in two at start);
- mixed precision (bfloat16 on a CPU with its instructions, float16 on a GPU; said when neither);
- XLA (`train.jit_compile`).

For each: examples/s of the median epoch (the fit alone, tracing and compiling in the first
epoch left out) against the floor's, the same over the Trainer's whole `fit_model` (reading the
split, building the model, every epoch), and the eval AUC (a faster option that loses quality
shows it here; at 16x every row is seen 16 times an epoch, so the model overfits and its AUC is
below the 1x model's). With `--gpu` the mirrored variant is over the GPUs and the GPUs'
utilization is sampled during each fit (nvidia-smi). TensorFlow's log goes to bench.log in the
benchmark folder.

    .venv/bin/python -m benchmarks.bench_trainer [--scales 1,16] [--run-home DIR] [--gpu]
"""

import argparse
import dataclasses
import logging
import os
import pathlib
import statistics
import subprocess
import sys
import threading
import time
from typing import Dict, List, Optional

import mlpipe  # noqa: F401  (process settings before TensorFlow)
import tensorflow as tf

from tests.support import transformed

ROOT = pathlib.Path(__file__).resolve().parent.parent
TAXI_CONFIG = ROOT / "mlpipe" / "configs" / "taxi.yaml"
EPOCHS = 4


@dataclasses.dataclass
class Variant:
    name: str
    train: Dict[str, object]      # train: fields over the taxi config's


VARIANTS = [
    Variant("one device, streamed", {"in_memory_mb": 0}),
    Variant("one device, in memory", {}),
    Variant("mirrored, 2 devices", {"distribution": "mirrored", "devices": 2}),
    Variant("mixed precision", {"mixed_precision": True}),
    Variant("XLA", {"jit_compile": True}),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="1,16")
    parser.add_argument("--run-home", help="a home where `mlpipe run` of the taxi config ran "
                                           "(default: run it into the benchmark folder)")
    parser.add_argument("--out", default="benchmarks/out")
    parser.add_argument("--gpu", action="store_true",
                        help="mirrored over the GPUs, and sample their utilization")
    args = parser.parse_args()
    if not args.gpu:
        _split_cpu(2)
    out = pathlib.Path(args.out).resolve() / f"trainer-{time.strftime('%Y%m%d-%H%M%S')}"
    out.mkdir(parents=True)
    _log_to(out / "bench.log")
    from mlpipe.trainer.model import skip_autograph_for_tf_keras
    skip_autograph_for_tf_keras()  # as run_fn does, for the floor too
    home = pathlib.Path(args.run_home) if args.run_home else _run_taxi(out / "home")
    transform = _latest_transform(home)
    graph = transform["transform_graph"]
    print(f"Benchmark folder: {out}\nTransform output: {graph.parent.parent}", flush=True)
    rows = []
    scales = [int(scale) for scale in args.scales.split(",")]
    for scale in scales:
        examples = _scaled_examples(transform["transformed_examples"], scale, out)
        floor = measure_floor(examples, graph)
        rows.append((scale, "floor: model.fit on arrays", floor))
        _print_row(*rows[-1], floor)
        for variant in VARIANTS if scale == max(scales) else VARIANTS[:2]:
            result = measure_trainer(examples, graph, variant.train,
                                     gpu=args.gpu)
            rows.append((scale, variant.name, result))
            _print_row(*rows[-1], floor)
    print(f"\n{'scale':<6}{'variant':<30}{'rows':>9}{'epoch ex/s':>12}{'x floor':>8}"
          f"{'whole ex/s':>11}{'x floor':>8}{'auc':>8}  plan")
    floors = {scale: result for scale, name, result in rows if name.startswith("floor")}
    for scale, name, result in rows:
        _print_row(scale, name, result, floors[scale], table=True)


def _print_row(scale, name, result, floor, table=False) -> None:
    fit_ratio = result["fit_rate"] / floor["fit_rate"]
    whole_ratio = result["whole_rate"] / floor["whole_rate"]
    gpu = f"; GPU busy {result['gpu_busy']}" if result.get("gpu_busy") else ""
    line = (f"{scale:<6}{name:<30}{result['rows']:>9,}{result['fit_rate']:>12,.0f}"
            f"{fit_ratio:>8.2f}{result['whole_rate']:>11,.0f}{whole_ratio:>8.2f}"
            f"{result['auc']:>8.4f}  {result.get('plan', '')}{gpu}")
    print(line if table else "  " + line, flush=True)


def _log_to(path: pathlib.Path) -> None:
    """TensorFlow's and absl's lines (written to file descriptor 2) go to `path`."""
    sys.stderr.flush()
    log = open(path, "a")
    os.dup2(log.fileno(), 2)


def _split_cpu(count: int) -> None:
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(count)])


def _run_taxi(home: pathlib.Path) -> pathlib.Path:
    print("Running the taxi pipeline for its Transform output ...", flush=True)
    subprocess.run([sys.executable, "-m", "mlpipe", "run", "--config", str(TAXI_CONFIG),
                    "--home", str(home)], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return home


def _latest_transform(home: pathlib.Path) -> Dict[str, pathlib.Path]:
    """The newest transform_graph and transformed_examples under a run home."""
    outputs = {}
    for name in ("transform_graph", "transformed_examples"):
        found = [path for path in home.glob(f"*/pipeline_root/Transform/{name}/*")
                 if path.name.isdigit()]
        if not found:
            raise SystemExit(f"no Transform output under {home}: run the taxi pipeline there")
        outputs[name] = max(found, key=lambda path: int(path.name))
    return outputs


def _scaled_examples(examples: pathlib.Path, scale: int, out: pathlib.Path) -> pathlib.Path:
    """The transformed examples with the train split's files repeated `scale` times."""
    if scale == 1:
        return examples
    scaled = out / f"examples-x{scale}"
    (scaled / "Split-train").mkdir(parents=True, exist_ok=True)
    for copy in range(scale):
        for path in (examples / "Split-train").iterdir():
            (scaled / "Split-train" / f"copy{copy:03d}-{path.name}").symlink_to(path.resolve())
    (scaled / "Split-eval").symlink_to((examples / "Split-eval").resolve())
    return scaled


def _spec(train_overrides: Dict[str, object]):
    from mlpipe.config import load_config
    from mlpipe.trainer.features import ProblemSpec
    config = load_config(str(TAXI_CONFIG))
    train = config.train.model_copy(update={"epochs": EPOCHS, **train_overrides})
    train = type(train).model_validate(train.model_dump())
    return ProblemSpec(label=config.label, features=config.features, train=train)


class EpochTimer(tf.keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seconds: List[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._started)


def measure_floor(examples: pathlib.Path, transform_graph: pathlib.Path) -> Dict:
    import tensorflow_transform as tft
    from mlpipe.trainer import model as model_lib
    from mlpipe.trainer.inputs import load_in_memory
    spec = _spec({})
    transform = tft.TFTransformOutput(str(transform_graph))
    fn_args = transformed.fn_args(examples)
    (features, label), _ = load_in_memory(fn_args.train_files,
                                          transform.transformed_metadata.schema, spec.label_key,
                                          limit_bytes=1 << 40)
    tf.keras.utils.set_random_seed(spec.train.seed)
    started = time.perf_counter()
    model = model_lib.build_model(spec, transform.vocabulary_size_by_name)
    timer = EpochTimer()
    model.fit(features, label, batch_size=spec.train.batch_size, epochs=EPOCHS, shuffle=True,
              verbose=0, callbacks=[timer])
    whole = time.perf_counter() - started
    rows = int(label.shape[0])
    return {"rows": rows, "fit_rate": rows / statistics.median(timer.seconds),
            "whole_rate": rows * EPOCHS / whole, "auc": _eval_auc(model, spec, fn_args, transform),
            "plan": "arrays already in memory"}


def measure_trainer(examples: pathlib.Path, transform_graph: pathlib.Path,
                    overrides: Dict[str, object], gpu: bool) -> Dict:
    import tensorflow_transform as tft
    from mlpipe.trainer import model as model_lib
    from mlpipe.trainer.distribution import DistributionError, plan_training
    spec = _spec({**overrides, **({"devices": None} if gpu and "devices" in overrides else {})})
    transform = tft.TFTransformOutput(str(transform_graph))
    fn_args = transformed.fn_args(examples)
    try:
        plan = plan_training(spec.train)
    except DistributionError as error:
        return {"rows": 0, "fit_rate": float("nan"), "whole_rate": float("nan"),
                "auc": float("nan"), "plan": f"not run: {error}"}
    timer, said = EpochTimer(), _PlanCatcher()
    sampler = GpuSampler() if gpu else None
    started = time.perf_counter()
    with said:
        model = model_lib.fit_model(spec, fn_args, transform, plan, callbacks=[timer])
    whole = time.perf_counter() - started
    busy = sampler.stop() if sampler else None
    rows = _rows(fn_args, spec, transform)
    return {"rows": rows, "fit_rate": rows / statistics.median(timer.seconds),
            "whole_rate": rows * len(timer.seconds) / whole,
            "auc": _eval_auc(model, spec, fn_args, transform), "plan": said.text,
            "gpu_busy": busy}


def _rows(fn_args, spec, transform) -> int:
    from tfx_bsl.public import tfxio
    dataset = fn_args.data_accessor.tf_dataset_factory(
        fn_args.train_files, tfxio.TensorFlowDatasetOptions(batch_size=8192, num_epochs=1,
                                                            shuffle=False,
                                                            label_key=spec.label_key),
        transform.transformed_metadata.schema)
    return sum(int(label.shape[0]) for _, label in dataset)


def _eval_auc(model, spec, fn_args, transform) -> float:
    from tfx_bsl.public import tfxio
    dataset = fn_args.data_accessor.tf_dataset_factory(
        fn_args.eval_files, tfxio.TensorFlowDatasetOptions(batch_size=4096, num_epochs=1,
                                                           shuffle=False,
                                                           label_key=spec.label_key),
        transform.transformed_metadata.schema)
    auc = tf.keras.metrics.AUC(num_thresholds=10_000)
    for features, label in dataset:
        auc.update_state(label, model(features, training=False))
    return float(auc.result())


class _PlanCatcher:
    """Catches the Trainer's "Training plan:" log line (what it says it runs on)."""

    def __enter__(self):
        from absl import logging as absl_logging
        from mlpipe.core.contract import TRAINING_PLAN_LOG
        self.text, catcher = "", self

        class Handler(logging.Handler):
            def emit(self, record):
                message = record.getMessage()
                if message.startswith(TRAINING_PLAN_LOG):
                    catcher.text = message[len(TRAINING_PLAN_LOG):].strip()

        self._handler = Handler()
        self._logger = absl_logging.get_absl_logger()
        self._logger.addHandler(self._handler)
        self._level = self._logger.level
        self._logger.setLevel("INFO")
        return self

    def __exit__(self, *exc):
        self._logger.removeHandler(self._handler)
        self._logger.setLevel(self._level)


class GpuSampler:
    """nvidia-smi's utilization.gpu every 0.2 s while a fit runs: mean and max, in %."""

    def __init__(self):
        self._samples: List[int] = []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._done.wait(0.2):
            reading = subprocess.run(
                ["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"],
                capture_output=True, text=True)
            values = [int(v) for v in reading.stdout.split() if v.strip().isdigit()]
            if values:
                self._samples.append(sum(values) // len(values))

    def stop(self) -> Optional[str]:
        self._done.set()
        self._thread.join()
        if not self._samples:
            return None
        return (f"mean {sum(self._samples) / len(self._samples):.0f}%, "
                f"max {max(self._samples)}% ({len(self._samples)} samples)")


if __name__ == "__main__":
    main()
