"""The model card of multiclass and regression models.

Fast: cards assembled from TFMA-shaped numbers (as `tfma.load_eval_result` gives them): the
task's overview, architecture and output format, its metrics in reading order, per-class
precision/recall by class name, the confusion matrix, the predicted-vs-actual plot, slices worst
first by a lower-is-better main metric, the charts.

e2e: the cards the ModelCard step wrote beside the penguin (`multiclass_home`) and taxi-fare
(`regression_home`) models: numbers equal to what TFMA's loader reads, the page's sections.
"""

import base64
import datetime
import json
import math
import pathlib
import shutil
import subprocess

import mlpipe  # noqa: F401  (process settings before TensorFlow)
import pytest

from mlpipe.components.model_card import CARD_HTML, CARD_JSON
from mlpipe.components.model_card import card as card_lib
from mlpipe.components.model_card import render
from mlpipe.components.model_card.spec import CardFacts
from mlpipe.config import ModelCardConfig
from mlpipe.core import lineage

CLASSES = ["Adelie", "Chinstrap", "Gentoo"]
TRAIN = {"epochs": 30, "batch_size": 32, "hidden_units": [64, 32], "learning_rate": 0.01,
         "seed": 0}
MULTICLASS_PROBLEM = CardFacts.model_validate({
    "name": "penguins",
    "label": {"name": "species_id", "task": "multiclass", "column": "species",
              "classes": CLASSES},
    "features": {"numeric": ["body_mass_g", "culmen_length_mm"], "categorical": [],
                 "bucketized": {}},
    "train": TRAIN,
    "evaluation": {"kpi": {"accuracy": {"min": 0.6}}, "max_regression": {},
                   "main_metric": "accuracy", "min_slice_size": 5, "slices": []},
    "data_path": "/data/penguins.csv",
})
REGRESSION_PROBLEM = CardFacts.model_validate({
    "name": "taxi-fare",
    "label": {"name": "fare_value", "task": "regression", "column": "fare"},
    "features": {"numeric": ["trip_miles", "trip_seconds"], "categorical": ["payment_type"],
                 "bucketized": {}},
    "train": TRAIN,
    "evaluation": {"kpi": {"rmse": {"max": 20.0}}, "max_regression": {"rmse": 1.0},
                   "main_metric": "rmse", "min_slice_size": 20, "slices": [["payment_type"]]},
    "data_path": "/data/taxi.csv",
})
MULTICLASS_OVERALL = {"": {
    "": {"accuracy": {"doubleValue": 0.95}, "log_loss": {"doubleValue": 0.12},
         "example_count": {"doubleValue": 116.0}},
    "classId:0": {"precision": {"doubleValue": 1.0}, "recall": {"doubleValue": 0.9}},
    "classId:1": {"precision": {"doubleValue": 0.8}, "recall": {"doubleValue": 1.0}},
    "classId:2": {"precision": {"doubleValue": 1.0}, "recall": {"doubleValue": 1.0}}}}
MULTICLASS_PLOTS = {"": {"": {"multiClassConfusionMatrixAtThresholds": {"matrices": [{"entries": [
    {"numWeightedExamples": 43.0}, {"predictedClassId": 1, "numWeightedExamples": 5.0},
    {"actualClassId": 1, "predictedClassId": 1, "numWeightedExamples": 19.0},
    {"actualClassId": 2, "predictedClassId": 2, "numWeightedExamples": 49.0}]}]}}}}


def _regression_slicing():
    def metrics(rmse, mae, count):
        return {"": {"": {"rmse": {"doubleValue": rmse}, "mean_absolute_error": {
            "doubleValue": mae}, "r_squared": {"doubleValue": 0.8},
            "example_count": {"doubleValue": count}}}}
    return [((), metrics(4.2, 2.2, 1031.0)),
            ((("payment_type", "Cash"),), metrics(3.75, 1.9, 674.0)),
            ((("payment_type", "Credit Card"),), metrics(4.98, 2.7, 350.0)),
            ((("payment_type", "No Charge"),), metrics(6.35, 4.5, 4.0))]


REGRESSION_PLOTS = {"": {"": {"calibrationHistogramBuckets": {"buckets": [
    {"lowerThresholdInclusive": "-Infinity", "upperThresholdExclusive": 0.0},
    {"lowerThresholdInclusive": 0.0, "upperThresholdExclusive": 1.5, "numWeightedExamples": 20.0,
     "totalWeightedLabel": 90.0, "totalWeightedRefinedPrediction": 25.0},
    {"lowerThresholdInclusive": 6.0, "upperThresholdExclusive": 7.5,
     "numWeightedExamples": 100.0, "totalWeightedLabel": 690.0,
     "totalWeightedRefinedPrediction": 670.0},
    {"lowerThresholdInclusive": 60.0, "upperThresholdExclusive": "Infinity",
     "numWeightedExamples": 1.0, "totalWeightedLabel": 46.0,
     "totalWeightedRefinedPrediction": 64.0}]}}}}


def _evaluation(task, slicing, plots, classes=None):
    return {
        "task": task,
        "performance_metrics": card_lib.performance_metrics(slicing),
        "confidence_intervals": {"computed": False, "level": None, "method": None},
        "roc_curve": [],
        "per_class_metrics": card_lib.per_class_metrics(
            next(m for k, m in slicing if k == ()), classes) if task == "multiclass" else [],
        "confusion_matrix": (card_lib.confusion_matrix(plots, classes or [])
                             if task == "multiclass" else {}),
        "predicted_vs_actual": (card_lib.predicted_vs_actual(plots)
                                if task == "regression" else []),
        "thresholds": [], "validation_ok": True, "baseline": None,
    }


def _card(problem, evaluation, attributions=None):
    return json.loads(card_lib.to_json(card_lib.assemble_card(
        version="1795959134", destination="/runs/p/serving/1795959134", blessed=True,
        evaluation=evaluation, evaluation_uri="/runs/p/pipeline_root/Evaluator/evaluation/10",
        model_uri="/runs/p/pipeline_root/Trainer/model/7", datasets={},
        input_format="Serialized tf.Example protos", attributions=attributions, fairness=None,
        card_config=ModelCardConfig(), problem=problem,
        written_at=datetime.datetime(2026, 11, 29, tzinfo=datetime.timezone.utc))))


def _multiclass_card():
    return _card(MULTICLASS_PROBLEM, _evaluation("multiclass", [((), MULTICLASS_OVERALL)],
                                                 MULTICLASS_PLOTS, CLASSES))


def _regression_card():
    attributions = {"metric": "rmse", "lower_is_better": True, "unshuffled": 4.2, "rows": 1031,
                    "repeats": 5, "split": "eval", "task": "regression", "features": [
                        {"feature": "trip_seconds", "mean_drop": 8.4, "std_drop": 0.2},
                        {"feature": "payment_type", "mean_drop": 0.04, "std_drop": 0.05}]}
    return _card(REGRESSION_PROBLEM, _evaluation("regression", _regression_slicing(),
                                                 REGRESSION_PLOTS), attributions)


def test_multiclass_card_describes_a_classifier_of_named_classes():
    card = _multiclass_card()
    details, parameters = card["model_details"], card["model_parameters"]
    assert details["overview"].startswith("Multiclass classifier for the 'penguins' problem")
    assert "Adelie, Chinstrap, Gentoo" in details["overview"]
    assert parameters["model_architecture"].startswith("Wide-and-deep multiclass classifier")
    assert "softmax" in parameters["model_architecture"]
    assert "'scores'" in parameters["output_format"] and "'classes'" in parameters[
        "output_format"] and "P(label = 1)" not in parameters["output_format"]
    assert card["evaluation"]["task"] == "multiclass"
    assert card["evaluation"]["lower_is_better"] is False
    assert card_lib.label_definition(MULTICLASS_PROBLEM.label) == \
        "species_id = the class in column 'species', one of 3: Adelie, Chinstrap, Gentoo"


def test_multiclass_card_has_per_class_metrics_by_name_and_the_confusion_matrix():
    card = _multiclass_card()
    quantitative = card["quantitative_analysis"]
    assert [(e["class"], e["type"], e["value"]) for e in quantitative["per_class_metrics"]] == [
        ("Adelie", "precision", 1.0), ("Adelie", "recall", 0.9),
        ("Chinstrap", "precision", 0.8), ("Chinstrap", "recall", 1.0),
        ("Gentoo", "precision", 1.0), ("Gentoo", "recall", 1.0)]
    assert quantitative["confusion_matrix"]["matrix"] == [[43.0, 5.0, 0.0], [0.0, 19.0, 0.0],
                                                          [0.0, 0.0, 49.0]]
    assert "predicted_vs_actual" not in quantitative
    # The overall metrics are the slice's own, not the per-class ones.
    assert list(render.overall_metrics(card)) == ["accuracy", "example_count", "log_loss"]
    page = render.render_html(card)
    assert "id='per-class'" in page and "id='confusion-matrix'" in page
    assert "<td>Chinstrap</td><td>0.8000</td><td>1.0000</td>" in page
    assert page.index("<td>accuracy</td>") < page.index("<td>log_loss</td>") < \
        page.index("<td>example_count</td>")
    assert "id='roc'" not in page and "auc" not in page
    text = render.render_text(card)
    assert "Per class (one-vs-rest):" in text
    assert any(line.split() == ["Chinstrap", "0.8000", "1.0000"] for line in text.splitlines())
    assert any(line.split() == ["Adelie", "43", "5", "0"] for line in text.splitlines())
    names = [chart["name"] for chart in quantitative["graphics"]["collection"]]
    assert names == ["Confusion matrix (overall)", "accuracy by slice"]


def test_regression_card_has_its_metrics_the_plot_and_ranks_slices_by_highest_rmse():
    card = _regression_card()
    parameters = card["model_parameters"]
    assert card["model_details"]["overview"].startswith("Regression model for the 'taxi-fare'")
    assert parameters["model_architecture"].startswith("Wide-and-deep regression model")
    assert parameters["output_format"].startswith("'value': the predicted value")
    assert card["evaluation"]["lower_is_better"] is True
    points = card["quantitative_analysis"]["predicted_vs_actual"]
    assert [(p["mean_prediction"], p["mean_label"], p["examples"]) for p in points] == [
        (1.25, 4.5, 20.0), (6.7, 6.9, 100.0), (64.0, 46.0, 1.0)]
    assert points[-1]["upper"] is None and points[0]["lower"] == 0.0
    rows = render.slice_rows(card)
    assert [row["slice"] for row in rows] == ["payment_type = Credit Card",
                                              "payment_type = Cash", "payment_type = No Charge"]
    assert rows[-1]["too_small"]
    page = render.render_html(card)
    assert "id='predicted-vs-actual'" in page and page.count("class='bucket'") == 3
    assert "Slices, worst first by rmse (lower is better)" in page
    assert "<th>mean_absolute_error</th>" in page
    assert "mean rise" in page and "the rise in rmse" in page
    # The slice bars span [0, the largest rmse], so 6.35 is not cut at 1.
    widths = [float(part.split("width='")[1].split("'")[0])
              for part in page.split("class='slice-bar'")[1:]]
    assert max(widths) == pytest.approx(560 - 190 - 120) and min(widths) > 100
    text = render.render_text(card)
    assert "Slices, worst first by rmse (lower is better):" in text
    assert "Predicted vs actual" in text and "rise in rmse when a feature is shuffled" in text
    names = [chart["name"] for chart in card["quantitative_analysis"]["graphics"]["collection"]]
    assert names == ["Predicted vs actual (overall)", "rmse by slice", "Feature attributions"]
    svg = base64.b64decode(card["quantitative_analysis"]["graphics"]["collection"][0]["image"])
    assert svg.startswith(b"<svg xmlns='http://www.w3.org/2000/svg'")


def test_cards_written_before_the_task_field_are_binary_and_judged_by_the_metric():
    card = _regression_card()
    del card["evaluation"]["lower_is_better"], card["evaluation"]["task"]
    assert render.lower_is_better(card) and render.task(card) == "binary"
    assert render.slice_rows(card)[0]["slice"] == "payment_type = Credit Card"


# ---------------------------------------------------------------------------------------------
# e2e: the cards the pipeline's ModelCard step wrote.

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--disable-quic", "--host-resolver-rules=MAP * ~NOTFOUND"]


def _written(problem):
    folder = problem["home"].serving_dir / pathlib.Path(problem["pushed"]).name
    assert (folder / CARD_JSON).is_file() and (folder / CARD_HTML).is_file()
    return folder, json.loads((folder / CARD_JSON).read_text()), (folder / CARD_HTML).read_text()


def _tfma(card):
    import tensorflow_model_analysis as tfma
    uri = card["evaluation"]["uri"]
    return tfma.load_eval_result(uri, model_name=lineage.candidate_model_name(uri))


def _check_overall_and_slices(card, result):
    entries = {(e["slice"], e["type"]): e
               for e in card["quantitative_analysis"]["performance_metrics"]}
    compared = 0
    for key, metrics in result.slicing_metrics:
        for name, value in lineage.metric_values(metrics).items():
            entry = entries[(card_lib.slice_name(key), name)]
            if math.isnan(value):
                assert entry["value"] is None
            else:
                assert entry["value"] == pytest.approx(value, abs=1e-9), (key, name)
            compared += 1
    assert compared == len(entries)


def _open_in_chromium(page: pathlib.Path, tmp_path, expected):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        pytest.skip("chromium is not installed (`make browser` installs Debian's chromium)")
    dom = subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                          "--dump-dom", page.resolve().as_uri()],
                         capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    for text in expected:
        assert text in dom.stdout, text


@pytest.mark.e2e
def test_e2e_multiclass_card(multiclass_home, tmp_path):
    folder, card, page = _written(multiclass_home)
    result = _tfma(card)
    _check_overall_and_slices(card, result)
    assert card["evaluation"]["task"] == "multiclass"
    assert card["evaluation"]["main_metric"] == "accuracy"
    assert card["evaluation"]["lower_is_better"] is False
    overall = next(m for k, m in result.slicing_metrics if k == ())
    per_class = card["quantitative_analysis"]["per_class_metrics"]
    assert {entry["class"] for entry in per_class} == set(CLASSES)
    for entry in per_class:
        expected = overall[""][f"classId:{entry['class_id']}"][entry["type"]]["doubleValue"]
        assert entry["class"] == CLASSES[entry["class_id"]]
        assert entry["value"] == pytest.approx(expected, abs=1e-9)
    confusion = card["quantitative_analysis"]["confusion_matrix"]
    assert confusion["classes"] == CLASSES
    assert sum(map(sum, confusion["matrix"])) == \
        render.overall_metrics(card)["example_count"]["value"]
    accuracy = render.number(render.overall_metrics(card)["accuracy"]["value"])
    for expected in (f"<td>accuracy</td><td>{accuracy}</td>", "<td>log_loss</td>",
                     "id='per-class'", "id='confusion-matrix'", "Multiclass classifier",
                     "&#x27;scores&#x27;", "drop in accuracy"):
        assert expected in page, expected
    assert "<td>auc</td>" not in page and "id='roc'" not in page
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    _open_in_chromium(folder / CARD_HTML, tmp_path, [accuracy, *CLASSES, "Per class"])


@pytest.mark.e2e
def test_e2e_regression_card(regression_home, tmp_path):
    folder, card, page = _written(regression_home)
    result = _tfma(card)
    _check_overall_and_slices(card, result)
    assert card["evaluation"]["task"] == "regression"
    assert card["evaluation"]["main_metric"] == "rmse"
    assert card["evaluation"]["lower_is_better"] is True
    plots = next(p for k, p in result.plots if k == ())[""][""]
    buckets = [b for b in plots["calibrationHistogramBuckets"]["buckets"]
               if b.get("numWeightedExamples", 0) > 0]
    points = card["quantitative_analysis"]["predicted_vs_actual"]
    assert len(points) == len(buckets) > 5
    for point, bucket in zip(points, buckets):
        n = bucket["numWeightedExamples"]
        assert point["examples"] == n
        assert point["mean_label"] == pytest.approx(bucket["totalWeightedLabel"] / n, abs=1e-9)
    rows = [row for row in render.slice_rows(card) if not row["too_small"]]
    values = [row["metrics"]["rmse"]["value"] for row in rows]
    assert len(values) >= 2 and values == sorted(values, reverse=True)
    kpi = next(c for c in card["thresholds"] if c["metric"] == "rmse" and c["kind"] == "kpi")
    assert kpi["comparison"] == "<=" and kpi["passed"] is True
    rmse = render.number(render.overall_metrics(card)["rmse"]["value"])
    for expected in (f"<td>rmse</td><td>{rmse}</td>", "<td>r_squared</td>",
                     "<td>mean_absolute_error</td>", "id='predicted-vs-actual'",
                     "Slices, worst first by rmse (lower is better)", "Regression model",
                     "&#x27;value&#x27;", "rise in rmse"):
        assert expected in page, expected
    assert "<td>auc</td>" not in page and "id='roc'" not in page
    top_two = [row["feature"] for row in card["feature_attributions"]["features"][:2]]
    assert {"trip_miles", "trip_seconds"} & set(top_two)
    _open_in_chromium(folder / CARD_HTML, tmp_path, [rmse, "Predicted vs actual",
                                                     "payment_type = Credit Card"])
