"""What does warm start save, and what does it cost in quality? The taxi problem on data that
arrives in spans, trained cold and warm on the same spans, side by side.

The bundled taxi CSV is cut by time into SPANS spans of SPAN_ROWS trips (tests/support/spans.py).
Two run homes see the same spans arrive one after another, `mlpipe run` after each: one with the
default cold start, one with `train.warm_start: true` (from the second span on, the Trainer starts
from the latest blessed model and trains half the epochs; both cap vocabularies at 100, since a
warm-started model's one-hot widths are fixed by the config). For each span it prints the Trainer's
seconds and the eval AUC (TFMA, overall) of both, and their ratio and difference. The drift gate
is off: spans cut by time move by construction, and this benchmark measures training only.

    .venv/bin/python -m benchmarks.bench_warm_start [--out benchmarks/out]
    (from the repository root, as `make bench-warm-start` does: it reuses tests/support/spans.py)
"""

import argparse
import pathlib
import re
import subprocess
import sys
import time

import mlpipe  # noqa: F401  (process settings before TensorFlow)
from tests.support import spans
from tests.support.configs import write_config

SPANS = 3
SPAN_ROWS = 5000
TRAINER_LINE = re.compile(r"Trainer\s+executed\s+([0-9.]+)s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/out")
    args = parser.parse_args()
    out = pathlib.Path(args.out).resolve() / f"warm-start-{time.strftime('%Y%m%d-%H%M%S')}"
    data = out / "data"
    configs = {mode: _config(out, data, warm=(mode == "warm")) for mode in ("cold", "warm")}
    trips = spans.taxi_by_time()
    rows = []
    for span in range(1, SPANS + 1):
        spans.write_span(data, span, spans.span_rows(span, trips, SPAN_ROWS))
        result = {mode: _run(path, out / f"runs-{mode}") for mode, path in configs.items()}
        rows.append((span, result["cold"], result["warm"]))
        print(f"  span {span}: cold {result['cold']}, warm {result['warm']}", flush=True)
    print(f"\nBenchmark folder: {out}")
    print(f"{'span':<6}{'trainer cold s':>15}{'warm s':>9}{'ratio':>8}"
          f"{'auc cold':>11}{'warm':>9}{'diff':>9}")
    for span, cold, warm in rows:
        print(f"{span:<6}{cold['trainer_s']:>15.1f}{warm['trainer_s']:>9.1f}"
              f"{warm['trainer_s'] / cold['trainer_s']:>8.2f}{cold['auc']:>11.4f}"
              f"{warm['auc']:>9.4f}{warm['auc'] - cold['auc']:>+9.4f}")
    print("Span 1 is a cold start in both homes (no blessed model yet).")


def _config(out: pathlib.Path, data: pathlib.Path, warm: bool) -> pathlib.Path:
    """The shipped taxi config reading `data`'s spans, cold or warm."""
    def edit(raw):
        raw["data"]["path"] = f"{data}/{spans.SPAN_FOLDER}"
        raw["train"]["warm_start"] = warm
        # Warm start fixes each one-hot width at vocab_top_k + oov_buckets: a bound near the
        # real vocabularies (at most 90 companies) keeps both models the same size.
        raw["features"]["vocab_top_k"] = 100
        raw["drift_gate"] = {"enabled": False}
    out.mkdir(parents=True, exist_ok=True)
    return write_config(out / f"taxi-{'warm' if warm else 'cold'}.yaml", edit=edit)


def _run(config: pathlib.Path, home: pathlib.Path) -> dict:
    command = [sys.executable, "-m", "mlpipe", "run", "--config", str(config), "--home", str(home)]
    completed = subprocess.run(command, capture_output=True, text=True)
    if completed.returncode not in (0, 3):
        sys.exit(f"{' '.join(command)} failed ({completed.returncode}):\n"
                 f"{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}")
    trainer = TRAINER_LINE.search(completed.stdout)
    auc = re.search(r"^\s+auc\s+([0-9.]+)", completed.stdout, re.MULTILINE)
    if not (trainer and auc):
        sys.exit(f"no Trainer time or AUC in the output of {' '.join(command)}:\n"
                 f"{completed.stdout[-3000:]}")
    return {"trainer_s": float(trainer.group(1)), "auc": float(auc.group(1))}


if __name__ == "__main__":
    main()
