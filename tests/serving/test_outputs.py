"""A model's outputs by task (serving/outputs.py) and what serve, predict and the request log make
of them, with stand-in models (no trained model needed; tests/serving/test_tasks.py does the
same with the real multiclass and regression models)."""

import csv

import numpy as np
import pytest

import mlpipe  # noqa: F401  (process settings before TensorFlow)
from mlpipe.config.problem import LabelConfig
from mlpipe.core.schema_io import FeatureInfo
from mlpipe.serving import outputs
from mlpipe.serving.examples import ExampleEncoder, RequestError, as_json_predictions
from mlpipe.serving.outputs import ModelTask, TaskMismatchError
from mlpipe.serving.predict import score_csv
from mlpipe.serving.request_log import RequestLog, is_meta_column, log_files

CLASSES = ["Adelie", "Chinstrap", "Gentoo"]
SCORES = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.2, 0.5, 0.3]], np.float32)
MULTICLASS_OUTPUTS = {"classes": np.array([[c.encode() for c in CLASSES]] * 3, dtype=object),
                      "scores": SCORES}
REGRESSION_OUTPUTS = {"value": np.array([[12.5], [3.25], [40.0]], np.float32)}
BINARY_OUTPUTS = {"probability": np.array([[0.25], [0.5], [0.75]], np.float32)}
MULTICLASS = ModelTask("multiclass", tuple(CLASSES))
REGRESSION = ModelTask("regression")


def test_the_task_is_read_from_the_outputs_and_checked_against_the_label():
    assert ModelTask.of_outputs(MULTICLASS_OUTPUTS) == MULTICLASS
    assert ModelTask.of_outputs(REGRESSION_OUTPUTS) == REGRESSION
    assert ModelTask.of_outputs(BINARY_OUTPUTS) == ModelTask("binary")
    label = LabelConfig(name="species", task="multiclass", column="species", classes=CLASSES)
    MULTICLASS.check(label, "version 1")
    with pytest.raises(TaskMismatchError, match=r"version 1 is a regression model .* "
                                                r"label.task is multiclass"):
        REGRESSION.check(label, "version 1")
    reordered = LabelConfig(name="species", task="multiclass", column="species",
                            classes=["Gentoo", "Adelie", "Chinstrap"])
    with pytest.raises(TaskMismatchError, match=r"answers the classes \['Adelie', 'Chinstrap', "
                                                r"'Gentoo'\], but the config's label.classes"):
        MULTICLASS.check(reordered, "version 1")
    MULTICLASS.check(None, "anything")   # no label: nothing to check


def test_multiclass_answers_have_tf_serving_multi_output_shapes_with_class_names():
    rows = as_json_predictions(MULTICLASS_OUTPUTS, columnar=False)
    assert rows["predictions"][0] == {"classes": CLASSES,
                                      "scores": pytest.approx([0.7, 0.2, 0.1])}
    assert len(rows["predictions"]) == 3
    columns = as_json_predictions(MULTICLASS_OUTPUTS, columnar=True)["outputs"]
    assert columns["classes"] == [CLASSES] * 3
    np.testing.assert_allclose(columns["scores"], SCORES)
    assert as_json_predictions(REGRESSION_OUTPUTS, columnar=False) == {
        "predictions": [[12.5], [3.25], [40.0]]}


def test_classify_and_regress_bodies_and_which_task_may_use_them():
    result = outputs.classify_result(MULTICLASS, MULTICLASS_OUTPUTS, 3)["result"]
    assert [name for name, _ in result[1]] == CLASSES
    np.testing.assert_allclose([score for _, score in result[1]], SCORES[1])
    binary = outputs.classify_result(ModelTask("binary"), BINARY_OUTPUTS, 3)["result"]
    assert binary[0] == [["0", 0.75], ["1", 0.25]]
    assert outputs.regress_result(REGRESSION_OUTPUTS, 3) == {"result": [12.5, 3.25, 40.0]}
    assert outputs.verb_refusal("classify", MULTICLASS) is None
    assert outputs.verb_refusal("regress", REGRESSION) is None
    assert "use :predict or :classify" in outputs.verb_refusal("regress", MULTICLASS)
    assert "use :predict or :regress" in outputs.verb_refusal("classify", REGRESSION)


def test_a_classify_request_merges_its_context_into_every_example():
    encoder = ExampleEncoder({"x": FeatureInfo("x", "FLOAT", True, 1),
                              "island": FeatureInfo("island", "BYTES", False, 1)})
    rows = encoder.rows_from_examples_request(
        {"examples": [{"x": 1.0}, {"x": 2}], "context": {"island": "Dream"}}, "classify")
    assert rows == [{"x": [1.0], "island": [b"Dream"]}, {"x": [2.0], "island": [b"Dream"]}]
    for body, field, words in [
            ({"instances": [{"x": 1.0}]}, "instances", "unknown request key 'instances'"),
            ({"examples": []}, "examples", "non-empty list"),
            ({"examples": [{"x": 1.0}], "context": {"x": 2.0}}, "x", "also in 'context'"),
            ({"examples": [{"island": "Dream"}]}, "x", "missing required feature 'x'")]:
        with pytest.raises(RequestError, match=words) as refused:
            encoder.rows_from_examples_request(body, "classify")
        assert refused.value.field == field


def test_the_request_log_keeps_the_predicted_class_and_a_score_column_per_class(tmp_path):
    log = RequestLog(tmp_path, {"x": "FLOAT"}, flush_rows=1, classes=["Adelie", "Chin, strap"])
    predictions, scores = outputs.logged_predictions(
        ModelTask("multiclass", ("Adelie", "Chin, strap")),
        {"scores": np.array([[0.75, 0.25], [0.125, 0.875]], np.float32),
         "classes": np.array([[b"Adelie", b"Chin, strap"]] * 2, dtype=object)}, 2)
    assert predictions == ["Adelie", "Chin, strap"]
    log.log([{"x": [1.5]}, {"x": [2.5]}], predictions, version=3, scores=scores)
    log.close()
    with open(log_files(tmp_path)[0], newline="") as source:
        rows = list(csv.DictReader(source))
    assert list(rows[0]) == ["x", "_model_version", "_prediction", "_logged_at",
                             "_score_Adelie", "_score_Chin, strap"]
    assert [row["_prediction"] for row in rows] == ["Adelie", "Chin, strap"]
    assert [row["_score_Chin, strap"] for row in rows] == ["0.25", "0.875"]
    assert all(is_meta_column(name) for name in list(rows[0])[1:])
    assert not is_meta_column("x")

    values, none = outputs.logged_predictions(REGRESSION, REGRESSION_OUTPUTS, 3)
    assert values == [12.5, 3.25, 40.0] and none is None


class ScoreModel:
    """multiclass stand-in: scores from the example's x (softmax of [x, 2x, 3x] / 10)."""
    version = 4
    task = MULTICLASS

    def predict(self, serialized):
        import tensorflow as tf
        x = np.array([tf.train.Example.FromString(s).features.feature["x"].float_list.value[0]
                      for s in serialized])
        logits = np.stack([x, 2 * x, 3 * x], axis=1) / 10
        scores = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        return {"scores": scores.astype(np.float32),
                "classes": np.array([[c.encode() for c in CLASSES]] * len(x), dtype=object)}


class ValueModel:
    version = 5
    task = REGRESSION

    def predict(self, serialized):
        return {"value": np.array([[len(s) * 1.5] for s in serialized], np.float32)}


@pytest.mark.parametrize("model, added", [
    (ScoreModel(), ["predicted_class", "score_Adelie", "score_Chinstrap", "score_Gentoo"]),
    (ValueModel(), ["value"])])
def test_predict_adds_the_task_s_columns(tmp_path, model, added):
    source = tmp_path / "in.csv"
    source.write_text("x,note\n-20,a\n0.5,\"b, c\"\n20,d\n")
    encoder = ExampleEncoder({"x": FeatureInfo("x", "FLOAT", True, 1)})
    score_csv(model, encoder, source, tmp_path / "out.csv", batch_size=2)
    with open(tmp_path / "out.csv", newline="") as scored:
        rows = list(csv.DictReader(scored))
    assert list(rows[0]) == ["x", "note"] + added
    assert rows[1]["note"] == "b, c"
    if isinstance(model, ScoreModel):
        assert [row["predicted_class"] for row in rows] == ["Adelie", "Gentoo", "Gentoo"]
        assert all(len(row["score_Adelie"].split(".")[1]) == 6 for row in rows)
        assert sum(float(rows[0][name]) for name in added[1:]) == pytest.approx(1, abs=1e-5)
    else:
        assert all(float(row["value"]) > 0 for row in rows)


def test_an_input_column_named_like_an_output_column_is_refused(tmp_path):
    from mlpipe.serving.predict import InputError
    source = tmp_path / "in.csv"
    source.write_text("x,score_Gentoo\n1,2\n")
    encoder = ExampleEncoder({"x": FeatureInfo("x", "FLOAT", True, 1)})
    with pytest.raises(InputError, match="already has a 'score_Gentoo' column"):
        score_csv(ScoreModel(), encoder, source, tmp_path / "out.csv")


def test_predict_help_documents_the_columns_of_every_task(capsys):
    from mlpipe.cli import main
    with pytest.raises(SystemExit):
        main(["predict", "--help"])
    out = capsys.readouterr().out
    for words in ("probability", "predicted_class", "score_<class>", "score_Adelie", "value"):
        assert words in out, out
