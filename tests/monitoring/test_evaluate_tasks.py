"""`mlpipe monitor --evaluate` for multiclass and regression problems: the task's metrics, labels
read as the data spells them, the direction of a change for the worse; with the real pushed
models of tests/support/problems.py, the numbers equal a direct numpy computation on the model's
own answers, and a degradation past `evaluation.max_regression` exits 4."""

import csv
import json
import threading
import time

import numpy as np
import pytest

import mlpipe  # noqa: F401  (process settings before TensorFlow)
from mlpipe.config.problem import Bound, LabelConfig
from mlpipe.core.schema_io import FeatureInfo
from mlpipe.monitoring.evaluate import EvaluationResult, compare_with_push_time, evaluate_csv
from mlpipe.serving.examples import ExampleEncoder, RequestError
from mlpipe.serving.outputs import ModelTask
from tests.support.configs import write_config
from tests.support.examples import example_of_checked

EXIT_ALARM = 4
CLASSES = ["1", "2", "Gentoo"]


class XModel:
    """Stand-in: multiclass scores softmax([x, 2x, 3x] / 10); regression value 2x."""
    version = 9

    def __init__(self, task):
        self.task = task

    def predict(self, serialized):
        import tensorflow as tf
        x = np.array([tf.train.Example.FromString(s).features.feature["x"].float_list.value[0]
                      for s in serialized], dtype=np.float64)
        if self.task.name == "regression":
            return {"value": (2 * x).astype(np.float32)[:, None]}
        logits = np.stack([x, 2 * x, 3 * x], axis=1) / 10
        scores = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        return {"scores": scores.astype(np.float32),
                "classes": np.array([[c.encode() for c in CLASSES]] * len(x), dtype=object)}


ENCODER = ExampleEncoder({"x": FeatureInfo("x", "FLOAT", True, 1)})
MULTICLASS_LABEL = LabelConfig(name="y", task="multiclass", column="y", classes=CLASSES)
REGRESSION_LABEL = LabelConfig(name="y", task="regression", column="y")


def _write(path, rows):
    with open(path, "w", newline="") as sink:
        writer = csv.writer(sink)
        writer.writerow(["x", "y"])
        writer.writerows(rows)
    return path


def test_multiclass_metrics_and_counts_are_those_of_the_scores(tmp_path):
    rng = np.random.default_rng(0)
    x = np.round(rng.normal(0, 20, 500), 2)
    spelled = {0: ["1", "1.0"], 1: ["2", "2"], 2: ["Gentoo", "Gentoo"]}   # as the data has it
    y = rng.integers(0, 3, 500)
    data = _write(tmp_path / "mc.csv", [(v, spelled[c][i % 2]) for i, (v, c) in
                                        enumerate(zip(x, y))])
    model = XModel(ModelTask("multiclass", tuple(CLASSES)))
    result = evaluate_csv(model, ENCODER, data, MULTICLASS_LABEL,
                          {"accuracy": Bound(min=0.9)}, batch_size=64)
    scores = model.predict([ENCODER.serialize({"x": [float(v)]}) for v in x])["scores"]
    scores = scores.astype(np.float64)
    predicted = scores.argmax(axis=1)
    assert result.task == "multiclass" and result.rows == 500
    assert result.metrics["accuracy"] == pytest.approx(np.mean(predicted == y))
    true = scores[np.arange(500), y] / scores.sum(axis=1)
    assert result.metrics["log_loss"] == pytest.approx(-np.mean(np.log(true)), rel=1e-6)
    assert result.classes == {
        name: {"rows": int(np.sum(y == i)), "predicted": int(np.sum(predicted == i)),
               "correct": int(np.sum((y == i) & (predicted == i)))}
        for i, name in enumerate(CLASSES)}
    assert result.failed == [f"accuracy {result.metrics['accuracy']:.4f} < min 0.9"]
    body = json.loads(json.dumps(result.to_json()))
    assert body["classes"]["Gentoo"]["rows"] == int(np.sum(y == 2))


def test_regression_metrics_are_those_of_the_values(tmp_path):
    rng = np.random.default_rng(1)
    x = np.round(rng.uniform(0, 30, 300), 3)
    y = np.round(2 * x + rng.normal(0, 3, 300), 3)
    data = _write(tmp_path / "reg.csv", zip(x, y))
    result = evaluate_csv(XModel(ModelTask("regression")), ENCODER, data, REGRESSION_LABEL,
                          {"rmse": Bound(max=1.0)}, batch_size=50)
    predicted = (2 * x).astype(np.float32).astype(np.float64)
    error = predicted - y
    assert result.metrics["rmse"] == pytest.approx(np.sqrt(np.mean(error ** 2)))
    assert result.metrics["mean_absolute_error"] == pytest.approx(np.mean(np.abs(error)))
    assert result.metrics["mean_squared_error"] == pytest.approx(np.mean(error ** 2))
    assert result.metrics["r_squared"] == pytest.approx(np.corrcoef(predicted, y)[0, 1] ** 2)
    assert result.metrics["example_count"] == 300
    assert result.failed == [f"rmse {result.metrics['rmse']:.4f} > max 1.0"]


@pytest.mark.parametrize("label, cell, words", [
    (MULTICLASS_LABEL, "Adelie", "line 5: label column 'y' value 'Adelie' is not one of "
                                 "label.classes ['1', '2', 'Gentoo']"),
    (MULTICLASS_LABEL, "", "line 5: label column 'y' value '' is not one of"),
    (REGRESSION_LABEL, "twelve", "line 5: label column 'y' value 'twelve' is not a number"),
    (REGRESSION_LABEL, "", "line 5: label column 'y' value '' is not a number"),
])
def test_a_label_that_is_not_a_class_or_not_a_number_names_line_and_column(
        tmp_path, label, cell, words):
    rows = [(1.0, "2")] * 6
    rows[3] = (1.0, cell)
    data = _write(tmp_path / "bad.csv", rows)
    task = ModelTask("multiclass", tuple(CLASSES)) if label.task == "multiclass" else \
        ModelTask("regression")
    with pytest.raises(RequestError, match=words.replace("[", r"\[").replace("]", r"\]")) as error:
        evaluate_csv(XModel(task), ENCODER, data, label, {}, batch_size=2)
    assert error.value.field == "y"


def test_a_label_error_leaves_no_csv_reader_threads_behind(tmp_path):
    from mlpipe.serving.predict import CHECK_THREAD_NAME

    def readers():
        return {t for t in threading.enumerate() if t.name.startswith(CHECK_THREAD_NAME)}

    before = readers()
    rows = [(1.0, "2")] * 12
    rows[3] = (1.0, "twelve")
    data = _write(tmp_path / "bad.csv", rows)
    # The error is kept, as a caller that reports it keeps it: its traceback holds the frames
    # that read the CSV, so nothing is freed by being dropped.
    with pytest.raises(RequestError) as error:
        evaluate_csv(XModel(ModelTask("regression")), ENCODER, data, REGRESSION_LABEL, {},
                     batch_size=2)
    deadline = time.monotonic() + 5
    while readers() - before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not readers() - before, f"reader threads left after: {error.value}"


def test_a_rise_of_a_lower_is_better_metric_is_the_degradation():
    def result(rmse):
        return EvaluationResult(100, 3, {"rmse": rmse, "mean_absolute_error": 2.0,
                                         "mean_squared_error": rmse ** 2, "r_squared": 0.8,
                                         "example_count": 100.0}, [], task="regression")

    pushed = {"rmse": 4.0, "mean_absolute_error": 2.5, "example_count": 600.0, "auc": 0.9}
    worse = compare_with_push_time(result(5.5), pushed, {"rmse": 1.0}, run="run-2")
    assert worse.push_time == {"rmse": 4.0, "mean_absolute_error": 2.5}
    assert worse.change == pytest.approx({"rmse": 1.5, "mean_absolute_error": -0.5})
    assert worse.failed == ["rmse rose 1.5000 since push (4.0000 -> 5.5000), more than "
                            "max_regression 1.0"]
    # Lower rmse is better: a fall, however large, is no degradation.
    assert compare_with_push_time(result(1.0), pushed, {"rmse": 1.0}).failed == []
    accuracy = EvaluationResult(50, 3, {"accuracy": 0.80, "log_loss": 0.5,
                                        "example_count": 50.0}, [], task="multiclass")
    dropped = compare_with_push_time(accuracy, {"accuracy": 0.9, "log_loss": 0.3},
                                     {"accuracy": 0.05, "log_loss": 0.1})
    assert dropped.failed == [
        "accuracy dropped 0.1000 since push (0.9000 -> 0.8000), more than max_regression 0.05",
        "log_loss rose 0.2000 since push (0.3000 -> 0.5000), more than max_regression 0.1"]


# ---- with the real pushed models ------------------------------------------------------------

def _direct_outputs(problem, rows):
    """The pushed SavedModel called directly on tf.Examples built with protobuf."""
    import tensorflow as tf
    from mlpipe.serving.examples import encoder_for_schema
    config = problem["config"]
    encoder = encoder_for_schema(config.schema_path, config.data.missing_values)
    serve = tf.saved_model.load(str(problem["home"].pushed_versions()[-1])) \
        .signatures["serving_default"]
    examples = [example_of_checked(encoder.check_csv_row(row, f"row {i}"), encoder)
                .SerializeToString() for i, row in enumerate(rows)]
    outputs = serve(examples=tf.constant(examples))
    return {name: value.numpy() for name, value in outputs.items()}


def _rows(path):
    with open(path, newline="") as source:
        return list(csv.DictReader(source))


def _monitor(problem, config_file, labelled):
    from mlpipe.cli import main
    folder = problem["folder"]
    output = folder / f"report-{len(list(folder.glob('report-*.json')))}.json"
    code = main(["monitor", "--config", str(config_file), "--home", problem["base"],
                 "--input", str(problem["csv"]), "--evaluate", str(labelled),
                 "--output", str(output)])
    return code, json.loads(output.read_text())["evaluation"]


def _push_time_metrics(problem):
    from mlpipe.report.loader import load_report
    config = problem["config"]
    return load_report(problem["home"], problem["home"].pushed_versions()[-1].name,
                       config.evaluation.main_metric, config.evaluation.min_slice_size).candidate


@pytest.fixture(scope="module")
def penguins(multiclass_home, tmp_path_factory):
    folder = tmp_path_factory.mktemp("evaluate-multiclass")
    return {**multiclass_home, "folder": folder,
            "config_file": write_config(folder / "config.yaml", multiclass_home["config"])}


@pytest.fixture(scope="module")
def fares(regression_home, tmp_path_factory):
    folder = tmp_path_factory.mktemp("evaluate-regression")
    return {**regression_home, "folder": folder,
            "config_file": write_config(folder / "config.yaml", regression_home["config"])}


@pytest.mark.e2e
def test_multiclass_accuracy_is_the_models_own_on_the_same_rows(penguins, capsys):
    code, evaluation = _monitor(penguins, penguins["config_file"], penguins["csv"])
    out = capsys.readouterr().out
    rows = _rows(penguins["csv"])
    classes = penguins["config"].label.classes
    scores = _direct_outputs(penguins, rows)["scores"].astype(np.float64)
    labels = np.array([classes.index(row["species"]) for row in rows])
    assert evaluation["task"] == "multiclass" and evaluation["rows"] == len(rows)
    assert evaluation["metrics"]["accuracy"] == pytest.approx(
        np.mean(scores.argmax(axis=1) == labels))
    assert evaluation["metrics"]["log_loss"] == pytest.approx(-np.mean(np.log(np.clip(
        scores[np.arange(len(rows)), labels] / scores.sum(axis=1), 1e-7, 1 - 1e-7))), rel=1e-5)
    assert {name: counts["rows"] for name, counts in evaluation["classes"].items()} == {
        name: int(np.sum(labels == i)) for i, name in enumerate(classes)}
    pushed = _push_time_metrics(penguins)
    assert evaluation["push_time"]["accuracy"] == pushed["accuracy"]
    assert evaluation["change"]["accuracy"] == pytest.approx(
        evaluation["metrics"]["accuracy"] - pushed["accuracy"])
    assert code == 0 and evaluation["failed"] == [], out
    assert "Gentoo" in out and "accuracy" in out


@pytest.mark.e2e
def test_multiclass_accuracy_dropping_past_max_regression_exits_4(penguins, capsys):
    """Every other row's species moved to the next class: accuracy falls by about half."""
    config = penguins["config"]
    relaxed = config.evaluation.model_copy(update={"kpi": {}, "max_regression": {"accuracy":
                                                                                 0.05}})
    config_file = write_config(penguins["folder"] / "relaxed.yaml", config, evaluation=relaxed)
    classes = config.label.classes
    noisy = penguins["folder"] / "noisy.csv"
    rows = _rows(penguins["csv"])
    with open(noisy, "w", newline="") as sink:
        writer = csv.DictWriter(sink, list(rows[0]))
        writer.writeheader()
        for i, row in enumerate(rows):
            if i % 2 == 0:
                row["species"] = classes[(classes.index(row["species"]) + 1) % len(classes)]
            writer.writerow(row)
    code, evaluation = _monitor(penguins, config_file, noisy)
    out = capsys.readouterr().out
    assert code == EXIT_ALARM, out
    assert evaluation["change"]["accuracy"] < -0.05
    assert [failure.split(" since")[0] for failure in evaluation["failed"]] == [
        f"accuracy dropped {-evaluation['change']['accuracy']:.4f}"]
    assert "Thresholds crossed: accuracy dropped" in out


@pytest.mark.e2e
def test_regression_rmse_and_mae_are_the_models_own_on_the_same_rows(fares, capsys):
    code, evaluation = _monitor(fares, fares["config_file"], fares["csv"])
    out = capsys.readouterr().out
    rows = _rows(fares["csv"])
    values = _direct_outputs(fares, rows)["value"][:, 0].astype(np.float64)
    labels = np.array([float(row["fare"]) for row in rows])
    assert evaluation["task"] == "regression" and evaluation["rows"] == len(rows)
    assert evaluation["metrics"]["rmse"] == pytest.approx(
        np.sqrt(np.mean((values - labels) ** 2)), rel=1e-6)
    assert evaluation["metrics"]["mean_absolute_error"] == pytest.approx(
        np.mean(np.abs(values - labels)), rel=1e-6)
    pushed = _push_time_metrics(fares)
    assert evaluation["push_time"]["rmse"] == pushed["rmse"]
    assert evaluation["push_time"]["mean_absolute_error"] == pushed["mean_absolute_error"]
    assert code == 0 and evaluation["failed"] == [], out
    rmse_line = next(line for line in out.splitlines() if line.strip().startswith("rmse "))
    assert "KPI max 20" in rmse_line and "max rise 1.0" in rmse_line, out


@pytest.mark.e2e
def test_regression_rmse_rising_past_max_regression_exits_4(fares, capsys):
    """Fares doubled plus 5 in every row: the model's rmse rises far above its push-time value
    (the KPI is left out here, so only the comparison with push time fires)."""
    config = fares["config"]
    relaxed = config.evaluation.model_copy(update={"kpi": {}})
    config_file = write_config(fares["folder"] / "relaxed.yaml", config, evaluation=relaxed)
    noisy = fares["folder"] / "noisy.csv"
    rows = _rows(fares["csv"])
    with open(noisy, "w", newline="") as sink:
        writer = csv.DictWriter(sink, list(rows[0]))
        writer.writeheader()
        for row in rows:
            row["fare"] = f"{float(row['fare']) * 2 + 5:.2f}"
            writer.writerow(row)
    code, evaluation = _monitor(fares, config_file, noisy)
    out = capsys.readouterr().out
    assert code == EXIT_ALARM, out
    assert evaluation["change"]["rmse"] > 1.0
    assert any(failure.startswith("rmse rose") for failure in evaluation["failed"]), out
    assert "Thresholds crossed: rmse rose" in out
