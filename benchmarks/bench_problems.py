"""Is the default model good on tables it has never seen? `mlpipe init` + `mlpipe run` on three
problems that are not the taxi tip classifier, against scikit-learn on the same split.

- penguins (multiclass): the 334 penguins of tfx's test data, species as names;
- taxi-fare (regression): the fare of 10,000 taxi trips from the trip's other columns (no tips);
- taxi-tipped (binary): whether a trip was tipped, as "yes"/"no", with the blanks the data has.

For each problem the pipeline runs exactly as a new user would run it (init's config and schema,
default settings), then the rows of its own train and eval splits (read back from ExampleGen's
output, so both sides see the same split) train scikit-learn's HistGradientBoosting on the same
feature columns. The pipeline's eval metric (TFMA, overall slice) and the reference's are printed
side by side. Target: within 0.02 AUC / accuracy, or within 5% of the reference's RMSE. With
`--tune`, each problem runs once more with TUNE_SECTION appended to init's config (the same data,
so the same split), and the tuned metric is printed beside the default one.

    .venv/bin/python -m benchmarks.bench_problems [--out benchmarks/out] [--only NAME] [--tune]
    (from the repository root, as `make bench-problems` does: it reuses tests/support/problems.py)
"""

import argparse
import csv
import glob
import os
import pathlib
import subprocess
import sys
import time

import mlpipe  # noqa: F401  (process settings before TensorFlow)
from mlpipe.config import load_config

FARE_ROWS = 10_000
TIPPED_ROWS = 10_000
# Taxi columns that would leak the label or are the label's own sources.
FARE_DROPPED = ("tips",)
TIPPED_DROPPED = ("tips",)
TARGETS = {"binary": 0.02, "multiclass": 0.02, "regression": 0.05}
TUNE_SECTION = """
tune:
  hidden_units: [[64, 32], [128, 64]]
  learning_rate: [0.001, 0.003, 0.01]
  epochs: [1x, 2x]
  ensemble: [3, 5]
  max_trials: 8
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/out")
    parser.add_argument("--only", help="run one problem (penguins, taxi-fare, taxi-tipped)")
    parser.add_argument("--tune", action="store_true",
                        help="also run each problem with a tune: section")
    args = parser.parse_args()
    out = pathlib.Path(args.out).resolve() / f"problems-{time.strftime('%Y%m%d-%H%M%S')}"
    out.mkdir(parents=True)
    rows = []
    for name, label, write in PROBLEMS:
        if args.only and args.only != name:
            continue
        folder = out / name
        folder.mkdir()
        data = write(folder / f"{name}.csv")
        rows.append(_benchmark(name, label, data, folder))
        if args.tune:
            rows.append(_tuned(rows[-1], folder))
    print(f"\nBenchmark folder: {out}")
    print(f"{'problem':<20}{'task':<12}{'metric':<10}{'pipeline':>10}{'reference':>11}"
          f"{'gap':>9}{'target':>10}  verdict")
    for row in rows:
        print(f"{row['name']:<20}{row['task']:<12}{row['metric']:<10}{row['ours']:>10.4f}"
              f"{row['reference']:>11.4f}{row['gap']:>9.4f}{row['target']:>10}  {row['verdict']}")


def _benchmark(name: str, label: str, data: pathlib.Path, folder: pathlib.Path) -> dict:
    config_path = folder / name / f"{name}.yaml"
    _run([sys.executable, "-m", "mlpipe", "init", "--data", str(data), "--label", label,
          "--name", name, "--output", str(folder / name)])
    seconds = _run([sys.executable, "-m", "mlpipe", "run", "--config", str(config_path),
                    "--home", str(folder / "runs")])
    config = load_config(str(config_path))
    pipeline_root = folder / "runs" / config.name / "pipeline_root"
    ours = _pipeline_metric(pipeline_root, config)
    reference = _reference_metric(pipeline_root, config)
    return {**_compared(name, config.label.task, ours, reference, seconds),
            "config": config_path}


def _tuned(untuned: dict, folder: pathlib.Path) -> dict:
    """The same problem with TUNE_SECTION (epochs relative to init's budget), in its own home."""
    config_path = untuned["config"]
    epochs = load_config(str(config_path)).train.epochs
    section = TUNE_SECTION.replace("[1x, 2x]", str([epochs, epochs * 2]))
    tuned_path = config_path.with_name("tuned.yaml")
    tuned_path.write_text(config_path.read_text() + section)
    seconds = _run([sys.executable, "-m", "mlpipe", "run", "--config", str(tuned_path),
                    "--home", str(folder / "runs-tuned")])
    config = load_config(str(tuned_path))
    ours = _pipeline_metric(folder / "runs-tuned" / config.name / "pipeline_root", config)
    return {**_compared(f"{untuned['name']} (tuned)", config.label.task, ours,
                        untuned["reference"], seconds), "config": tuned_path}


def _compared(name, task, ours, reference, seconds) -> dict:
    if task == "regression":
        gap = ours - reference
        target = f"<={TARGETS[task]:.0%}"
        verdict = "ok" if ours <= reference * (1 + TARGETS[task]) else "MISSED"
        metric = "rmse"
    else:
        gap = reference - ours
        target = f"<={TARGETS[task]}"
        verdict = "ok" if gap <= TARGETS[task] else "MISSED"
        metric = "auc" if task == "binary" else "accuracy"
    print(f"  {name}: pipeline {metric} {ours:.4f}, reference {reference:.4f} "
          f"(pipeline run {seconds:.0f} s)", flush=True)
    return {"name": name, "task": task, "metric": metric, "ours": ours, "reference": reference,
            "gap": gap, "target": target, "verdict": verdict}


def _run(command) -> float:
    started = time.monotonic()
    completed = subprocess.run(command, capture_output=True, text=True)
    if completed.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({completed.returncode}):\n"
                 f"{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}")
    return time.monotonic() - started


def _pipeline_metric(pipeline_root: pathlib.Path, config) -> float:
    from mlpipe.core.lineage import overall_metrics
    runs = sorted(glob.glob(str(pipeline_root / "Evaluator" / "evaluation" / "*")),
                  key=lambda path: int(os.path.basename(path)))
    metric = {"binary": "auc", "multiclass": "accuracy", "regression": "rmse"}[config.label.task]
    return overall_metrics(runs[-1])[metric]


def _reference_metric(pipeline_root: pathlib.Path, config) -> float:
    """HistGradientBoosting on the pipeline's own train split, scored on its eval split."""
    import numpy as np
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.metrics import accuracy_score, mean_squared_error, roc_auc_score
    columns = config.features.raw_columns
    categorical = set(config.features.categorical)
    train = _split_rows(pipeline_root, "train")
    evaluation = _split_rows(pipeline_root, "eval")
    encoders = {name: _Encoder() for name in categorical}
    x_train = _matrix(train, columns, encoders)
    x_eval = _matrix(evaluation, columns, encoders)
    mask = [name in categorical for name in columns]
    task = config.label.task
    y_train = _labels(train, config)
    y_eval = _labels(evaluation, config)
    if task == "regression":
        model = HistGradientBoostingRegressor(categorical_features=mask, random_state=0)
        model.fit(x_train, y_train)
        return float(np.sqrt(mean_squared_error(y_eval, model.predict(x_eval))))
    model = HistGradientBoostingClassifier(categorical_features=mask, random_state=0)
    model.fit(x_train, y_train)
    if task == "binary":
        return float(roc_auc_score(y_eval, model.predict_proba(x_eval)[:, 1]))
    return float(accuracy_score(y_eval, model.predict(x_eval)))


class _Encoder:
    """Text -> a small integer code (HistGradientBoosting's categorical input); blank -> NaN."""

    def __init__(self):
        self.codes = {}

    def __call__(self, text):
        if text is None:
            return float("nan")
        return float(self.codes.setdefault(text, len(self.codes)))


def _matrix(rows, columns, encoders):
    import numpy as np
    return np.array([[encoders[name](row.get(name)) if name in encoders
                      else _number(row.get(name)) for name in columns] for row in rows])


def _number(value) -> float:
    return float("nan") if value is None else float(value)


def _labels(rows, config):
    import numpy as np
    label = config.label
    texts = [_text(row.get(label.column)) for row in rows]
    if label.task == "regression":
        return np.array([float(text) for text in texts])
    if label.task == "multiclass":
        return np.array([label.class_index(text) for text in texts])
    return np.array([int(label.is_positive(text)) for text in texts])


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _split_rows(pipeline_root: pathlib.Path, split: str):
    """The newest ExampleGen output's split, as {column: first value or None} per row."""
    import tensorflow as tf
    outputs = sorted(glob.glob(str(pipeline_root / "*ExampleGen" / "examples" / "*")),
                     key=lambda path: int(os.path.basename(path)))
    files = sorted(glob.glob(os.path.join(outputs[-1], f"Split-{split}", "*")))
    rows = []
    for record in tf.data.TFRecordDataset(files, compression_type="GZIP"):
        features = tf.train.Example.FromString(record.numpy()).features.feature
        row = {}
        for name, feature in features.items():
            kind = feature.WhichOneof("kind")
            values = list(getattr(feature, kind).value) if kind else []
            value = values[0] if values else None
            row[name] = value.decode() if isinstance(value, bytes) else value
        rows.append(row)
    return rows


def _penguins(path: pathlib.Path) -> pathlib.Path:
    from tests.support.problems import penguin_csv
    return penguin_csv(path)


def _taxi_rows(limit: int):
    with open(load_config().data.path) as source:
        reader = csv.DictReader(source)
        for _, row in zip(range(limit), reader):
            yield reader.fieldnames, row


def _taxi_fare(path: pathlib.Path) -> pathlib.Path:
    return _taxi_table(path, FARE_ROWS, FARE_DROPPED, lambda row: {})


def _taxi_tipped(path: pathlib.Path) -> pathlib.Path:
    def tipped(row):
        return {"tipped": "yes" if row["tips"] and float(row["tips"]) > 0 else "no"}
    return _taxi_table(path, TIPPED_ROWS, TIPPED_DROPPED, tipped)


def _taxi_table(path, limit, dropped, extra) -> pathlib.Path:
    with path.open("w", newline="") as sink:
        writer = None
        for header, row in _taxi_rows(limit):
            added = extra(row)
            if writer is None:
                names = [name for name in header if name not in dropped] + list(added)
                writer = csv.DictWriter(sink, names, extrasaction="ignore")
                writer.writeheader()
            writer.writerow({**row, **added})
    return path


PROBLEMS = [
    ("penguins", "species", _penguins),
    ("taxi-fare", "fare", _taxi_fare),
    ("taxi-tipped", "tipped", _taxi_tipped),
]


if __name__ == "__main__":
    main()
