"""Two problems that are not the taxi tip classifier, for the multiclass and regression tests:

- multiclass: the penguin data shipped in tfx's test data (334 rows, TFRecords of tf.Example),
  written as a CSV with the species as names (Adelie, Chinstrap, Gentoo);
- regression: the fare of the first 3,000 taxi trips of the bundled CSV.

`trained_problem(tmp_path_factory, task)` runs the pipeline once per session and task (the
serving, report and monitoring tests share it), like tests/support/trained_home.py.
"""

import csv
import glob
import io
import json
import os
import pathlib

import mlpipe  # noqa: F401  (process settings before TensorFlow)
from mlpipe.config import load_config
from mlpipe.core.run_home import RunHome

PENGUIN_CLASSES = ["Adelie", "Chinstrap", "Gentoo"]
PENGUIN_FEATURES = ["body_mass_g", "culmen_depth_mm", "culmen_length_mm", "flipper_length_mm"]
FARE_ROWS = 3000

MULTICLASS_CONFIG = """\
name: penguins
data: {path: penguins.csv}
schema: schema.pbtxt
label: {name: species_id, task: multiclass, column: species,
        classes: [Adelie, Chinstrap, Gentoo]}
features: {numeric: [body_mass_g, culmen_depth_mm, culmen_length_mm, flipper_length_mm]}
train: {epochs: 30, batch_size: 32}
evaluation:
  kpi: {accuracy: {min: 0.6}}
  max_regression: {accuracy: 0.05}
  min_slice_size: 5
"""

REGRESSION_CONFIG = """\
name: taxi-fare
data: {path: taxi.csv}
schema: schema.pbtxt
label: {name: fare_value, task: regression, column: fare}
features:
  numeric: [trip_miles, trip_seconds]
  categorical: [payment_type, company, trip_start_hour]
train: {epochs: 10, batch_size: 64}
evaluation:
  kpi: {rmse: {max: 20}}
  max_regression: {rmse: 1.0}
  plot_range: [0, 60]
  slices: [[payment_type]]
  min_slice_size: 20
"""


def penguin_csv(path) -> pathlib.Path:
    """The 334 penguins of tfx's test data as a CSV, species named."""
    import tensorflow as tf
    from tfx.components import testdata
    files = sorted(glob.glob(os.path.join(os.path.dirname(testdata.__file__),
                                          "penguin", "data", "Split-*", "*.gz")))
    path = pathlib.Path(path)
    with path.open("w", newline="") as sink:
        writer = csv.writer(sink)
        writer.writerow(PENGUIN_FEATURES + ["species"])
        for record in tf.data.TFRecordDataset(files, compression_type="GZIP"):
            feature = tf.train.Example.FromString(record.numpy()).features.feature
            writer.writerow([repr(feature[name].float_list.value[0]) for name in PENGUIN_FEATURES]
                            + [PENGUIN_CLASSES[feature["species"].int64_list.value[0]]])
    return path


def fare_csv(path, rows: int = FARE_ROWS) -> pathlib.Path:
    """The first `rows` trips of the bundled taxi CSV (the label is the `fare` column)."""
    path = pathlib.Path(path)
    with open(load_config().data.path) as source, path.open("w") as target:
        for _, line in zip(range(rows + 1), source):
            target.write(line)
    return path


def write_problem(root, task: str) -> pathlib.Path:
    """Data, a schema proposed by `mlpipe schema`'s code and a config in `root`; the config path."""
    from google.protobuf import text_format
    from mlpipe.schema.proposal import propose_schema
    root = pathlib.Path(root)
    root.mkdir(parents=True, exist_ok=True)
    if task == "multiclass":
        data, label, text = penguin_csv(root / "penguins.csv"), "species", MULTICLASS_CONFIG
    elif task == "regression":
        data, label, text = fare_csv(root / "taxi.csv"), "fare", REGRESSION_CONFIG
    else:
        raise ValueError(f"no test problem for task {task!r}")
    schema = propose_schema(str(data), [label])
    (root / "schema.pbtxt").write_text(text_format.MessageToString(schema))
    config = root / f"{task}.yaml"
    config.write_text(text)
    return config


def trained_problem(tmp_path_factory, task: str) -> dict:
    """{root, config, home, csv, pushed}: a run home with one blessed, pushed model of `task`."""
    from mlpipe.local.local_runner import run_local
    from tests.support.cli import outbound_connections_refused
    root = tmp_path_factory.getbasetemp() / f"trained-{task}"
    done = root / "done.json"
    if not done.exists():
        config = load_config(str(write_problem(root, task)))
        with outbound_connections_refused():
            result = run_local(config, RunHome.for_pipeline(config.name, str(root / "runs")),
                               out=io.StringIO())
        assert result.blessed and result.pushed_version, (result.blessed, result.metrics)
        done.write_text(json.dumps({"pushed": result.pushed_version}))
    config = load_config(str(root / f"{task}.yaml"))
    return {"root": root, "config": config, "config_path": root / f"{task}.yaml",
            "home": RunHome.for_pipeline(config.name, str(root / "runs")),
            "csv": pathlib.Path(config.data.path), "base": str(root / "runs"),
            "pushed": json.loads(done.read_text())["pushed"]}
