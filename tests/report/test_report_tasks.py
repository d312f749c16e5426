"""`mlpipe report` for multiclass and regression problems.

Fast: the loader's readers of TFMA's per-class metrics, multi-class confusion matrix and
calibration buckets; slice ranking for lower-is-better main metrics; the text and HTML forms
(metrics of the task, per-class names, confusion matrix, predicted-vs-actual plot, "better" /
"worse" by the metric's direction in the baseline and --compare columns).

e2e: the penguin (`multiclass_home`) and taxi-fare (`regression_home`) runs through the real
command, with every JSON number compared with what TFMA's own loader reads from the same
Evaluator output; and a second fare run, evaluated against the first as its baseline.
"""

import io
import json
import math
import pathlib
import shutil
import subprocess

import pytest

import mlpipe  # noqa: F401  (process settings before TensorFlow)
from mlpipe.core.formats import number
from mlpipe.core.thresholds import ThresholdCheck
from mlpipe.report import html, terminal
from mlpipe.report import loader
from mlpipe.report.loader import Report, SliceRow, load_report
from tests.support.cli import run_mlpipe

CLASSES = ["Adelie", "Chinstrap", "Gentoo"]


def _report(**changes) -> Report:
    fields = dict(
        pipeline="p", run_id="2026-11-29T10:00:00.000001", main_metric="rmse", blessed=True,
        validation_ok=True, thresholds=[], candidate={}, baseline=None, slices=[], roc=[],
        pr=[], calibration=[], confusion={}, data=[], lineage={"pushed_to": None},
        evaluation_uri="/e", task="regression", lower_is_better=True)
    fields.update(changes)
    return Report(**fields)


def _slice(value, rmse, count=500, too_small=False, **metrics):
    return SliceRow("payment_type", value, count, {"rmse": rmse, "example_count": count,
                                                   **metrics}, too_small)


# ---------------------------------------------------------------------------------------------
# The loader's readers, on TFMA's structures as `tfma.load_eval_result` gives them.


def test_task_is_read_from_the_evaluations_prediction_key():
    import tensorflow_model_analysis as tfma
    for key, task in (("scores", "multiclass"), ("value", "regression"),
                      ("probability", "binary"), ("", "binary")):
        config = tfma.EvalConfig(model_specs=[tfma.ModelSpec(prediction_key=key)])
        assert loader.task_of(config) == task
    both = tfma.EvalConfig(model_specs=[
        tfma.ModelSpec(name="baseline", prediction_key="probability", is_baseline=True),
        tfma.ModelSpec(name="candidate", prediction_key="value")])
    assert loader.task_of(both) == "regression"


def test_per_class_metrics_come_from_the_class_id_sub_keys():
    overall = {"": {"": {"accuracy": {"doubleValue": 0.9}},
                    "classId:0": {"precision": {"doubleValue": 1.0},
                                  "recall": {"doubleValue": 0.5}},
                    "classId:2": {"precision": {"boundedValue": {"value": 0.25}},
                                  "recall": {"doubleValue": 0.75}}}}
    found = loader.per_class_metrics(overall)
    assert found == {0: {"precision": 1.0, "recall": 0.5}, 2: {"precision": 0.25, "recall": 0.75}}
    assert loader.class_names(None, found) == ["class 0", "class 1", "class 2"]
    assert loader.class_names(CLASSES, found) == CLASSES
    assert loader.class_names(None, {}) == []


def test_multiclass_confusion_matrix_fills_the_zeros_proto3_leaves_out():
    plots = {"": {"": {"multiClassConfusionMatrixAtThresholds": {"matrices": [{"entries": [
        {"numWeightedExamples": 40.0},                                # actual 0, predicted 0
        {"predictedClassId": 2, "numWeightedExamples": 2.0},          # actual 0, predicted 2
        {"actualClassId": 1, "predictedClassId": 1, "numWeightedExamples": 19.0},
        {"actualClassId": 2, "predictedClassId": 2, "numWeightedExamples": 49.0}]}]}}}}
    confusion = loader._curves(plots, "multiclass", CLASSES)["class_confusion"]
    assert confusion == {"threshold": 0.0, "classes": CLASSES, "predicted": CLASSES,
                         "matrix": [[40.0, 0.0, 2.0], [0.0, 19.0, 0.0], [0.0, 0.0, 49.0]]}
    unpredicted = {"": {"": {"multiClassConfusionMatrixAtThresholds": {"matrices": [{
        "threshold": 0.5, "entries": [{"predictedClassId": -1, "numWeightedExamples": 3.0},
                                      {"actualClassId": 1, "predictedClassId": 1,
                                       "numWeightedExamples": 5.0}]}]}}}}
    confusion = loader._curves(unpredicted, "multiclass", ["a", "b"])["class_confusion"]
    assert confusion["predicted"] == ["a", "b", "no prediction"]
    assert confusion["matrix"] == [[0.0, 0.0, 3.0], [0.0, 5.0, 0.0]]
    assert loader._curves({}, "multiclass", CLASSES)["class_confusion"] == {}


def test_predicted_vs_actual_is_the_mean_label_per_bucket_of_prediction():
    plots = {"": {"": {"calibrationHistogramBuckets": {"buckets": [
        {"upperThresholdExclusive": 0.0, "lowerThresholdInclusive": "-Infinity"},
        {"lowerThresholdInclusive": 0.0, "upperThresholdExclusive": 1.5,
         "numWeightedExamples": 4.0, "totalWeightedLabel": 6.0,
         "totalWeightedRefinedPrediction": 4.0},
        {"lowerThresholdInclusive": 60.0, "upperThresholdExclusive": "Infinity",
         "numWeightedExamples": 1.0, "totalWeightedLabel": 70.0,
         "totalWeightedRefinedPrediction": 64.0}]}}}}
    curves = loader._curves(plots, "regression")
    assert curves["predicted_vs_actual"] == [(1.0, 1.5, 4.0, 0.0, 1.5),
                                             (64.0, 70.0, 1.0, 60.0, math.inf)]
    assert curves["roc"] == [] and curves["calibration"] == [] and curves["confusion"] == {}


def test_slices_are_ranked_worst_first_by_the_main_metrics_direction():
    slicing = [((), {"": {"": {"rmse": {"doubleValue": 4.0}}}})] + [
        ((("payment_type", name),), {"": {"": {"rmse": {"doubleValue": rmse},
                                               "r_squared": {"doubleValue": r2},
                                               "example_count": {"doubleValue": count}}}})
        for name, rmse, r2, count in [("Cash", 3.0, 0.9, 600), ("Card", 5.0, 0.7, 300),
                                      ("Dispute", 9.0, 0.1, 2), ("Mobile", 4.0, 0.8, 200),
                                      ("Prcard", "NaN", "NaN", 150)]]
    by_rmse = loader._slices(slicing, "rmse", 100)
    assert [row.value for row in by_rmse] == ["Card", "Mobile", "Cash", "Prcard", "Dispute"]
    by_r2 = loader._slices(slicing, "r_squared", 100)
    assert [row.value for row in by_r2] == ["Card", "Mobile", "Cash", "Prcard", "Dispute"]
    by_count = loader._slices(slicing, "example_count", 1)  # no direction: ascending
    assert [row.value for row in by_count][0] == "Dispute"


# ---------------------------------------------------------------------------------------------
# Text and HTML of synthetic reports.


def test_better_and_worse_follow_the_metrics_direction():
    assert terminal.verdict_of_change("rmse", 0.5) == "worse"
    assert terminal.verdict_of_change("rmse", -0.5) == "better"
    assert terminal.verdict_of_change("log_loss", -0.01) == "better"
    assert terminal.verdict_of_change("accuracy", -0.01) == "worse"
    assert terminal.verdict_of_change("auc", 0.02) == "better"
    assert terminal.verdict_of_change("mean_label", 0.3) == ""  # no direction
    assert terminal.verdict_of_change("rmse", 0.0) == ""
    assert terminal.verdict_of_change("rmse", float("nan")) == ""


def _regression_report(**changes):
    fields = dict(
        candidate={"rmse": 4.5, "mean_squared_error": 20.25, "mean_absolute_error": 2.1,
                   "r_squared": 0.8, "mean_label": 12.9, "mean_prediction": 12.4,
                   "example_count": 1000.0, "loss": 20.25},
        baseline={"rmse": 4.0, "mean_squared_error": 16.0, "mean_absolute_error": 2.3,
                  "r_squared": 0.85, "mean_label": 12.9, "mean_prediction": 12.6,
                  "example_count": 1000.0},
        thresholds=[ThresholdCheck("rmse", "kpi", 4.5, 20.0, "<=", True, 15.5),
                    ThresholdCheck("rmse", "regression", 0.5, 1.0, "<=", True, 0.5)],
        slices=[_slice("Credit Card", 5.0, mean_absolute_error=2.7),
                _slice("Cash", 3.7, mean_absolute_error=1.9),
                _slice("Dispute", 9.0, count=2, too_small=True)],
        predicted_vs_actual=[(2.5, 4.9, 22.0, 0.0, 3.0), (30.0, 35.0, 14.0, 28.5, 30.0),
                             (64.0, 46.0, 1.0, 60.0, math.inf)])
    fields.update(changes)
    return _report(**fields)


def test_regression_text_has_its_metrics_and_the_direction_of_each_change():
    text = terminal.render_text(_regression_report())
    lines = text.splitlines()
    assert "Overall metrics (regression):" in text
    for name in ("rmse", "mean_squared_error", "mean_absolute_error", "r_squared", "mean_label",
                 "mean_prediction", "example_count"):
        assert any(line.split()[:1] == [name] for line in lines), name
    assert "auc" not in text and "binary_accuracy" not in text
    rmse = next(line for line in lines if line.split()[:1] == ["rmse"])
    assert "+0.5000" in rmse and rmse.rstrip().endswith("worse")  # rmse up: worse
    mae = next(line for line in lines if line.split()[:1] == ["mean_absolute_error"])
    assert mae.rstrip().endswith("better")  # down: better
    r2 = next(line for line in lines if line.split()[:1] == ["r_squared"])
    assert r2.rstrip().endswith("worse")  # down: worse
    mean_prediction = next(line for line in lines if line.split()[:1] == ["mean_prediction"])
    assert not mean_prediction.rstrip().endswith(("better", "worse"))
    start = lines.index("Slices, worst first by rmse (lower is better):")
    assert "mean_absolute_error" in lines[start + 1]
    assert lines[start + 2].lstrip().startswith("payment_type = Credit Card")
    assert "Predicted vs actual" in text and "4.9000" in text


def test_comparison_says_which_run_is_better_by_direction():
    a = _regression_report(baseline=None)
    b = _regression_report(baseline=None, candidate={**a.candidate, "rmse": 3.5, "r_squared": 0.9},
                           slices=[_slice("Credit Card", 5.5), _slice("Cash", 3.0)])
    text = terminal.render_comparison(a, b)
    rmse = next(line for line in text.splitlines() if line.split()[:1] == ["rmse"])
    assert "-1.0000" in rmse and rmse.rstrip().endswith("better")
    r2 = next(line for line in text.splitlines() if line.split()[:1] == ["r_squared"])
    assert r2.rstrip().endswith("better")
    assert "Per slice (rmse, lower is better):" in text
    card = next(line for line in text.splitlines() if "Credit Card" in line)
    cash = next(line for line in text.splitlines() if "Cash" in line)
    assert card.rstrip().endswith("worse") and cash.rstrip().endswith("better")
    both = json.loads(terminal.render_json(a, b))
    assert both["b"]["candidate"]["rmse"] == 3.5 and both["a"]["task"] == "regression"


def test_regression_html_draws_predicted_vs_actual_and_scales_slice_bars():
    page = html.render_html(_regression_report())
    assert "id='predicted-vs-actual'" in page and page.count("class='bucket'") == 3
    assert "id='roc'" not in page and "id='confusion'" not in page
    assert "Overall metrics (regression)" in page and "lower is better, worst first" in page
    assert "<td class='worse'>worse</td>" in page and "<td class='better'>better</td>" in page
    # Slice bars on [0, largest rmse]: 9.0 spans the whole width, no bar beyond it.
    widths = [float(part.split("'")[0]) for part in page.split("<rect x='150' y='")[1:]
              for part in [part.split("width='")[1]]]
    assert max(widths) == pytest.approx(520 - 150 - 110)
    assert "http://" not in page.replace("http://www.w3.org", "") and "<script" not in page


def _multiclass_report(**changes):
    fields = dict(
        main_metric="accuracy", lower_is_better=False, task="multiclass",
        candidate={"accuracy": 0.95, "log_loss": 0.2, "example_count": 116.0},
        classes=CLASSES, per_class={"Adelie": {"precision": 1.0, "recall": 0.9},
                                    "Chinstrap": {"precision": 0.8, "recall": 1.0},
                                    "Gentoo": {"precision": 1.0, "recall": 1.0}},
        class_confusion={"threshold": 0.0, "classes": CLASSES, "predicted": CLASSES,
                         "matrix": [[45.0, 3.0, 0.0], [0.0, 19.0, 0.0], [0.0, 0.0, 49.0]]})
    fields.update(changes)
    return _report(**fields)


def test_multiclass_text_and_html_name_the_classes():
    report = _multiclass_report()
    text = terminal.render_text(report)
    lines = text.splitlines()
    assert "Overall metrics (multiclass):" in text and "log_loss" in text
    assert next(line for line in lines if line.strip().startswith("Chinstrap")).split() == \
        ["Chinstrap", "0.8000", "1.0000"]
    header = lines.index("Confusion matrix (rows: actual class, columns: predicted class):")
    assert lines[header + 1].split() == CLASSES
    assert lines[header + 2].split() == ["Adelie", "45", "3", "0"]
    page = html.render_html(report)
    assert "id='per-class'" in page and "id='class-confusion'" in page
    for name in CLASSES:
        assert f"<td>{name}</td>" in page and f"<th>{name}</th>" in page
    assert ">45</td>" in page and "id='roc'" not in page
    assert "no slices configured" in page


# ---------------------------------------------------------------------------------------------
# e2e: the real runs, through the command, against TFMA's own loader.

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--disable-quic", "--host-resolver-rules=MAP * ~NOTFOUND"]


def _cli(problem, *args):
    return run_mlpipe("report", "--config", problem["config_path"], "--home", problem["base"],
                      *args, timeout=300)


def _tfma(evaluation_uri, model_name=None):
    import tensorflow_model_analysis as tfma
    return tfma.load_eval_result(evaluation_uri, model_name=model_name)


def _value(entry):
    return entry["doubleValue"] if "doubleValue" in entry else entry["boundedValue"]["value"]


def _scalars(metrics, sub_key=""):
    return {name: float(_value(value)) for name, value in metrics[""][sub_key].items()
            if "doubleValue" in value or "boundedValue" in value}


def _same(got, expected):
    """JSON numbers against TFMA's: equal to 1e-9; NaN in TFMA is null in the JSON."""
    if isinstance(expected, float) and math.isnan(expected):
        return got is None
    return got == pytest.approx(expected, abs=1e-9)


def _report_files(problem, tmp_path):
    html_file, json_file = tmp_path / "report.html", tmp_path / "report.json"
    completed = _cli(problem, "--html", str(html_file), "--json", str(json_file))
    assert completed.returncode == 0, completed.stderr[-3000:]
    return completed.stdout, json.loads(json_file.read_text()), html_file


def _check_common(data, result):
    overall = next(metrics for key, metrics in result.slicing_metrics if key == ())
    expected = _scalars(overall)
    assert set(data["candidate"]) == set(expected)
    for name, value in expected.items():
        assert _same(data["candidate"][name], value), name
    by_key = {tuple(str(part) for pair in key for part in pair): metrics
              for key, metrics in result.slicing_metrics if key != ()}
    assert len(data["slices"]) == len(by_key)
    for row in data["slices"]:
        metrics = _scalars(by_key[(row["feature"], row["value"])])
        assert set(row["metrics"]) == set(metrics)
        for name, value in metrics.items():
            assert _same(row["metrics"][name], value), (row["value"], name)
        assert row["example_count"] == metrics["example_count"]


@pytest.mark.e2e
def test_multiclass_report_json_equals_tfma_and_names_the_classes(multiclass_home, tmp_path):
    stdout, data, html_file = _report_files(multiclass_home, tmp_path)
    result = _tfma(data["evaluation_uri"])
    _check_common(data, result)
    assert data["task"] == "multiclass" and data["main_metric"] == "accuracy"
    assert data["lower_is_better"] is False and data["classes"] == CLASSES
    overall = next(metrics for key, metrics in result.slicing_metrics if key == ())
    for index, name in enumerate(CLASSES):
        expected = _scalars(overall, f"classId:{index}")
        assert set(data["per_class"][name]) == {"precision", "recall"} == set(expected)
        for metric, value in expected.items():
            assert _same(data["per_class"][name][metric], value), (name, metric)
    plots = next(p for key, p in result.plots if key == ())[""][""]
    [matrix] = plots["multiClassConfusionMatrixAtThresholds"]["matrices"]
    expected = [[0.0] * 3 for _ in CLASSES]
    for entry in matrix["entries"]:
        expected[entry.get("actualClassId", 0)][entry.get("predictedClassId", 0)] += \
            entry["numWeightedExamples"]
    assert data["class_confusion"]["matrix"] == expected
    assert data["class_confusion"]["classes"] == CLASSES
    assert sum(map(sum, expected)) == data["candidate"]["example_count"]
    assert data["roc"] == [] and data["predicted_vs_actual"] == []
    # The terminal form: the task's metrics and the classes by name.
    accuracy = f"{data['candidate']['accuracy']:.4f}"
    assert "Overall metrics (multiclass):" in stdout and accuracy in stdout
    assert "log_loss" in stdout and "auc" not in stdout.split("Lineage:")[0]
    for name in CLASSES:
        line = next(line for line in stdout.splitlines() if line.strip().startswith(name))
        assert f"{data['per_class'][name]['precision']:.4f}" in line
    assert "Confusion matrix (rows: actual class, columns: predicted class):" in stdout
    page = html_file.read_text()
    assert "id='per-class'" in page and "id='class-confusion'" in page and accuracy in page
    _check_in_chromium(html_file, tmp_path, [accuracy, *CLASSES, "Per class"],
                       ["id=\"per-class\"", "id=\"class-confusion\"", "id=\"attributions-chart\""])


@pytest.mark.e2e
def test_regression_report_json_equals_tfma_and_ranks_slices_by_rmse(regression_home,
                                                                     tmp_path):
    stdout, data, html_file = _report_files(regression_home, tmp_path)
    result = _tfma(data["evaluation_uri"])
    _check_common(data, result)
    assert data["task"] == "regression" and data["main_metric"] == "rmse"
    assert data["lower_is_better"] is True
    for name in ("rmse", "mean_squared_error", "mean_absolute_error", "r_squared"):
        assert name in data["candidate"], name
    plots = next(p for key, p in result.plots if key == ())[""][""]
    buckets = [b for b in plots["calibrationHistogramBuckets"]["buckets"]
               if b.get("numWeightedExamples", 0) > 0]
    assert len(data["predicted_vs_actual"]) == len(buckets) > 5
    for (prediction, label, count, low, high), bucket in zip(data["predicted_vs_actual"],
                                                            buckets):
        n = bucket["numWeightedExamples"]
        assert _same(count, n)
        assert _same(prediction, bucket["totalWeightedRefinedPrediction"] / n)
        assert _same(label, bucket["totalWeightedLabel"] / n)
    assert sum(point[2] for point in data["predicted_vs_actual"]) == \
        data["candidate"]["example_count"]
    # The plot spans evaluation.plot_range in 40 buckets, plus TFMA's under- and overflow.
    inner = [point for point in data["predicted_vs_actual"] if point[3] is not None
             and point[4] is not None]
    assert all(0.0 <= point[3] < point[4] <= 60.0 for point in inner)
    # Worst first for a lower-is-better metric: the highest RMSE first.
    trusted = [row["metrics"]["rmse"] for row in data["slices"] if not row["too_small"]]
    assert len(trusted) >= 2 and trusted == sorted(trusted, reverse=True)
    rmse = f"{data['candidate']['rmse']:.4f}"
    assert "Slices, worst first by rmse (lower is better):" in stdout and rmse in stdout
    assert "Overall metrics (regression):" in stdout and "r_squared" in stdout
    assert "rise in rmse when a feature is shuffled" in stdout
    assert "binary_accuracy" not in stdout
    page = html_file.read_text()
    assert "id='predicted-vs-actual'" in page and rmse in page
    _check_in_chromium(html_file, tmp_path, [rmse, "Predicted vs actual", "payment_type"],
                       ["id=\"predicted-vs-actual\"", "class=\"bucket\"",
                        "class=\"slice-chart\"", "id=\"attributions-chart\""])


@pytest.mark.e2e
@pytest.mark.parametrize("fixture", ["multiclass_home", "regression_home"])
def test_report_attributions_are_the_components_own(fixture, request, tmp_path):
    from mlpipe.components.attributions import ATTRIBUTIONS_KEY, NODE_ID, read_attributions
    from mlpipe.core import lineage
    problem = request.getfixturevalue(fixture)
    _, data, _ = _report_files(problem, tmp_path)
    with lineage.open_store(problem["home"].metadata_path) as store:
        run = lineage.pipeline_runs(store)[-1]
        execution = lineage.executions_by_node(store, run.id)[NODE_ID]
        artifact = lineage.outputs_of(store, execution.id)[ATTRIBUTIONS_KEY]
    assert data["attributions"] == read_attributions(artifact.uri)


def _check_in_chromium(html_file: pathlib.Path, tmp_path: pathlib.Path, must_contain,
                       elements):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "chromium is installed by `make test` (apt package 'chromium')"
    dom = subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                          "--dump-dom", html_file.resolve().as_uri()],
                         capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    for text in [*must_contain, *elements]:
        assert text in dom.stdout, text


# ---------------------------------------------------------------------------------------------
# e2e: two fare runs in one home, the second evaluated against the first.


@pytest.fixture(scope="module")
def fare_history(tmp_path_factory, regression_home):
    """The regression problem of `regression_home` in a home of its own: a first run, then one
    trained for fewer epochs (only the Trainer and what follows re-run), compared with it."""
    from mlpipe.config import load_config
    from mlpipe.core.run_home import RunHome
    from mlpipe.local.local_runner import run_local
    from tests.support.configs import write_config
    root = tmp_path_factory.mktemp("fare-history")
    for name in ("taxi.csv", "schema.pbtxt", "regression.yaml"):
        shutil.copy(regression_home["root"] / name, root / name)
    config = load_config(str(root / "regression.yaml"))
    home = RunHome.for_pipeline(config.name, str(root / "runs"))
    first = run_local(config, home, out=io.StringIO())
    shorter = config.model_copy(update={"train": config.train.model_copy(update={"epochs": 2})})
    second = run_local(shorter, home, out=io.StringIO())
    return {"root": root, "config": config, "home": home, "first": first, "second": second,
            "config_file": write_config(root / "config.yaml", config)}


@pytest.mark.e2e
def test_baseline_change_of_rmse_is_judged_lower_is_better(fare_history):
    assert fare_history["first"].blessed is True
    report = load_report(fare_history["home"], None, "rmse", 20)
    assert report.baseline is not None and report.task == "regression"
    candidate = _scalars(next(m for k, m in _tfma(report.evaluation_uri, "candidate")
                              .slicing_metrics if k == ()))
    baseline = _scalars(next(m for k, m in _tfma(report.evaluation_uri, "baseline")
                             .slicing_metrics if k == ()))
    for name in ("rmse", "mean_absolute_error", "r_squared"):
        assert _same(report.candidate[name], candidate[name])
        assert _same(report.baseline[name], baseline[name])
    change = candidate["rmse"] - baseline["rmse"]
    check = next(c for c in report.thresholds if c.kind == "regression" and c.metric == "rmse")
    # max_regression rmse 1.0: the candidate may be at most 1.0 higher than the baseline.
    assert check.comparison == "<=" and check.bound == pytest.approx(1.0)
    assert check.value == pytest.approx(change) and check.passed is (change <= 1.0)
    assert report.blessed is fare_history["second"].blessed is (change <= 1.0)
    text = terminal.render_text(report)
    line = next(line for line in text.splitlines() if line.split()[:1] == ["rmse"])
    assert line.rstrip().endswith("worse" if change > 0 else "better"), line
    page = html.render_html(report)
    verdict = "worse" if change > 0 else "better"
    assert f"<td>rmse</td><td>{number(candidate['rmse'])}</td>" in page
    assert f"<td class='{verdict}'>{verdict}</td>" in page


@pytest.mark.e2e
def test_compare_two_fare_runs_by_rmse(fare_history, tmp_path):
    from mlpipe.core import lineage
    with lineage.open_store(fare_history["home"].metadata_path) as store:
        first, second = [run.name for run in lineage.pipeline_runs(store)][-2:]
    json_file = tmp_path / "compare.json"
    completed = run_mlpipe("report", "--config", fare_history["config_file"], "--home",
                           fare_history["home"].root.parent, "--compare", first, second,
                           "--json", str(json_file), timeout=300)
    assert completed.returncode == 0, completed.stderr[-3000:]
    data = json.loads(json_file.read_text())
    change = data["b"]["candidate"]["rmse"] - data["a"]["candidate"]["rmse"]
    line = next(line for line in completed.stdout.splitlines() if line.split()[:1] == ["rmse"])
    assert f"{change:+.4f}" in line
    assert line.rstrip().endswith("worse" if change > 0 else "better"), line
    assert "Per slice (rmse, lower is better):" in completed.stdout
