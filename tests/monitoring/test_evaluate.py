"""`mlpipe monitor --evaluate`: the rank-based AUC, the comparison with the evaluation at push
time, and (with the real pushed model of tests/support/trained_home.py) that the push-time
numbers shown are TFMA's for that version."""

import csv
import json

import pytest

import mlpipe  # noqa: F401  (process settings before TensorFlow)
from mlpipe.monitoring.evaluate import EvaluationResult, compare_with_push_time
from tests.support.configs import write_config

EXIT_ALARM = 4


def test_a_drop_beyond_max_regression_since_push_is_a_crossed_threshold():
    def result():
        return EvaluationResult(100, 3, {"auc": 0.90, "binary_accuracy": 0.86,
                                         "example_count": 100.0}, [])

    pushed = {"auc": 0.95, "binary_accuracy": 0.87, "example_count": 500.0, "recall": 0.5}
    compared = compare_with_push_time(result(), pushed, {"auc": 0.01}, run="run-1")
    assert compared.push_time == {"auc": 0.95, "binary_accuracy": 0.87}
    assert compared.change == pytest.approx({"auc": -0.05, "binary_accuracy": -0.01})
    assert compared.failed == ["auc dropped 0.0500 since push (0.9500 -> 0.9000), more than "
                               "max_regression 0.01"]
    assert compare_with_push_time(result(), pushed, {"auc": 0.06}).failed == []
    assert compare_with_push_time(result(), pushed, {}).failed == []
    body = json.loads(json.dumps(compared.to_json()))
    assert body["push_time"]["auc"] == 0.95 and body["push_time_run"] == "run-1"


@pytest.fixture(scope="module")
def workspace(trained_home, tmp_path_factory):
    folder = tmp_path_factory.mktemp("evaluate")
    config_file = write_config(folder / "config.yaml", trained_home["config"])
    return {**trained_home, "folder": folder, "config_file": config_file}


def _monitor(workspace, config_file, labelled):
    from mlpipe.cli import main
    output = workspace["folder"] / f"report-{len(list(workspace['folder'].glob('*.json')))}.json"
    code = main(["monitor", "--config", str(config_file), "--home", workspace["base"],
                 "--input", str(workspace["csv"]), "--evaluate", str(labelled),
                 "--output", str(output)])
    return code, json.loads(output.read_text())["evaluation"]


@pytest.mark.e2e
def test_push_time_metrics_are_tfma_s_for_the_served_version(workspace, capsys):
    from mlpipe.report.loader import load_report
    config = workspace["config"]
    version = workspace["home"].pushed_versions()[-1].name
    report = load_report(workspace["home"], version, config.evaluation.main_metric,
                         config.evaluation.min_slice_size)
    code, evaluation = _monitor(workspace, workspace["config_file"], workspace["csv"])
    out = capsys.readouterr().out
    assert evaluation["version"] == int(version)
    assert evaluation["push_time"]["auc"] == report.candidate["auc"]
    assert evaluation["push_time"]["binary_accuracy"] == report.candidate["binary_accuracy"]
    assert evaluation["push_time_run"] == report.run_id
    assert evaluation["change"]["auc"] == pytest.approx(
        evaluation["metrics"]["auc"] - report.candidate["auc"])
    auc_line = next(line for line in out.splitlines() if line.strip().startswith("auc "))
    assert (f"{evaluation['metrics']['auc']:.4f}" in auc_line
            and f"{report.candidate['auc']:.4f}" in auc_line
            and f"{evaluation['change']['auc']:+.4f}" in auc_line), out
    assert code == 0 and evaluation["failed"] == [], out


@pytest.mark.e2e
def test_a_drop_since_push_beyond_max_regression_exits_4(workspace, capsys):
    """Labels flipped in every third row: AUC falls far below its push-time value while the
    KPI (set to 0 here) still passes, so only the regression check fires."""
    config = workspace["config"]
    relaxed = config.evaluation.model_copy(update={"kpi": {}, "max_regression": {"auc": 0.01}})
    config_file = write_config(workspace["folder"] / "relaxed.yaml", config, evaluation=relaxed)
    noisy = workspace["folder"] / "noisy.csv"
    with open(workspace["csv"], newline="") as source, open(noisy, "w", newline="") as sink:
        reader = csv.DictReader(source)
        writer = csv.DictWriter(sink, reader.fieldnames)
        writer.writeheader()
        for i, row in enumerate(reader):
            if i % 3 == 0 and float(row["fare"] or 0) > 0:  # big tipper <-> no tip
                big = float(row["tips"]) > 0.2 * float(row["fare"])
                row["tips"] = "0" if big else f"{float(row['fare']):.2f}"
            writer.writerow(row)
    code, evaluation = _monitor(workspace, config_file, noisy)
    out = capsys.readouterr().out
    assert code == EXIT_ALARM, out
    assert evaluation["change"]["auc"] < -0.01
    assert any(failure.startswith("auc dropped") for failure in evaluation["failed"])
    assert "Thresholds crossed: auc dropped" in out
