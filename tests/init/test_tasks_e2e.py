"""A new user's path for a multiclass and a regression table, through the CLI as typed:
init -> run (BLESSED) -> serve (a TF Serving request) -> predict -> report --json (equal to
TFMA's loader) -> monitor --evaluate. The tables are not the taxi tip problem: the penguins of
tfx's test data (species names as classes) and the taxi fare (slow: a few minutes each)."""

import csv
import json
import math

import pytest
import httpx

from mlpipe.core.lineage import overall_metrics
from tests.support.cli import ServerProcess, run_mlpipe
from tests.support.problems import PENGUIN_CLASSES, fare_csv, penguin_csv

pytestmark = pytest.mark.e2e

FARE_ROWS = 1500


@pytest.mark.parametrize("task", ["multiclass", "regression"])
def test_init_run_serve_predict_report_monitor(task, tmp_path):
    if task == "multiclass":
        data, label, name = penguin_csv(tmp_path / "penguins.csv"), "species", "penguins"
    else:
        data, label, name = fare_csv(tmp_path / "fares.csv", FARE_ROWS), "fare", "fares"
    init = run_mlpipe("init", "--data", data, "--label", label, cwd=tmp_path, timeout=600)
    assert init.returncode == 0, init.stdout + init.stderr
    assert f"{task}" in init.stdout
    config = tmp_path / name / f"{name}.yaml"
    text = config.read_text()
    assert f"task: {task}" in text
    if task == "multiclass":
        assert "classes: ['Adelie', 'Chinstrap', 'Gentoo']" in text
    else:
        assert "rmse: {max:" in text and "plot_range:" in text

    home = tmp_path / "runs"
    run = run_mlpipe("run", "--config", config, "--home", home, cwd=tmp_path, timeout=1800)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Model:        BLESSED" in run.stdout and "FAILED" not in run.stdout

    rows = list(csv.DictReader(data.open(newline="")))
    unlabelled = _without_label(rows, label, tmp_path / "unlabelled.csv")
    served = _check_serving(task, config, home, rows[:5], label)
    scored = _check_predict(task, config, home, unlabelled, rows, label)
    # The server and batch scoring answer alike for the same rows.
    for answer, row in zip(served, scored):
        if task == "multiclass":
            assert [float(row[f"score_{name}"]) for name in PENGUIN_CLASSES] == \
                pytest.approx(answer["scores"], abs=2e-6)
        else:
            assert float(row["value"]) == pytest.approx(answer[0], abs=2e-6)
    _check_report(task, config, home, tmp_path)

    monitor = run_mlpipe("monitor", "--config", config, "--home", home, "--input", data,
                         "--evaluate", data, cwd=tmp_path, timeout=600)
    assert monitor.returncode in (0, 4), monitor.stdout + monitor.stderr
    main = "accuracy" if task == "multiclass" else "rmse"
    assert f"({len(rows):,} rows, {task})" in monitor.stdout, monitor.stdout
    assert any(line.split()[:1] == [main] for line in monitor.stdout.splitlines()), \
        monitor.stdout


def _without_label(rows, label, path):
    header = [name for name in rows[0] if name != label]
    with path.open("w", newline="") as sink:
        writer = csv.DictWriter(sink, header, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def _instance(row, label):
    """A request row: numbers as numbers, blanks left out (missing values)."""
    instance = {}
    for name, text in row.items():
        if name == label or text == "":
            continue
        try:
            instance[name] = float(text) if "." in text or "e" in text.lower() else int(text)
        except ValueError:
            instance[name] = text
    return instance


def _check_serving(task, config, home, rows, label):
    server = ServerProcess(config, home)
    try:
        answer = httpx.post(server.url + ":predict", timeout=60,
                               json={"instances": [_instance(row, label) for row in rows]})
        assert answer.status_code == 200, answer.text
        predictions = answer.json()["predictions"]
        assert len(predictions) == len(rows)
        for prediction in predictions:
            if task == "multiclass":
                assert prediction["classes"] == PENGUIN_CLASSES
                assert math.isclose(sum(prediction["scores"]), 1.0, rel_tol=1e-5)
            else:
                [value] = prediction
                assert math.isfinite(value)
        bad = httpx.post(server.url + ":predict", timeout=60, json={"instances": "nope"})
        assert 400 <= bad.status_code < 500
        assert httpx.post(server.url + ":predict", timeout=60, json={
            "instances": [_instance(rows[0], label)]}).status_code == 200
        return predictions
    finally:
        server.stop()


def _check_predict(task, config, home, unlabelled, rows, label):
    scored = unlabelled.with_name("scored.csv")
    predict = run_mlpipe("predict", "--config", config, "--home", home, "--input", unlabelled,
                         "--output", scored, timeout=600)
    assert predict.returncode == 0, predict.stdout + predict.stderr
    out = list(csv.DictReader(scored.open(newline="")))
    assert len(out) == len(rows) and label not in out[0]
    if task == "multiclass":
        assert {f"score_{name}" for name in PENGUIN_CLASSES} | {"predicted_class"} <= set(out[0])
        right = sum(row["predicted_class"] == truth[label] for row, truth in zip(out, rows))
        assert right / len(rows) > 0.8
    else:
        errors = [float(row["value"]) - float(truth[label]) for row, truth in zip(out, rows)]
        rmse = math.sqrt(sum(e * e for e in errors) / len(errors))
        spread = _std([float(truth[label]) for truth in rows])
        assert rmse < spread, (rmse, spread)
    return out


def _std(values):
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))


def _check_report(task, config, home, tmp_path):
    json_file = tmp_path / "report.json"
    report = run_mlpipe("report", "--config", config, "--home", home, "--json", json_file,
                        timeout=600)
    assert report.returncode == 0, report.stdout + report.stderr
    data = json.loads(json_file.read_text())
    assert data["task"] == task
    expected = overall_metrics(data["evaluation_uri"])
    main = "accuracy" if task == "multiclass" else "rmse"
    assert math.isclose(data["candidate"][main], expected[main], rel_tol=1e-9)
    for name, value in expected.items():
        if name in data["candidate"]:
            assert math.isclose(data["candidate"][name], value, rel_tol=1e-9), name
