"""FeatureAttributions for multiclass and regression models: the metrics (accuracy of the argmax of
`scores`, RMSE of `value`, where a positive importance is a rise), the executor on small
SavedModels with the trainer's signatures of each task (fast), and the component in the real
penguin and taxi-fare runs of the `multiclass_home` / `regression_home` fixtures (e2e)."""

import json
import math
import os

import mlpipe  # noqa: F401  (process settings before TensorFlow)
import numpy as np
import pytest
import tensorflow as tf
from tfx.types import artifact_utils, standard_artifacts

from mlpipe.components.attributions import (ATTRIBUTIONS_KEY, NODE_ID, FeatureAttributions,
                                            FeatureAttributionsArtifact, attribution_metric,
                                            permutation_importance, read_attributions)
from mlpipe.components.attributions import spec
from mlpipe.components.attributions.executor import Executor, accuracy, rmse, task_of_metric
from mlpipe.core.contract import (CLASSES_KEY, SCORES_KEY, SERVING_SIGNATURE,
                                  TRANSFORM_SIGNATURE, VALUE_KEY)
from tests.support.examples import example_of

CLASSES = ["low", "middle", "high"]


def _example(**values) -> bytes:
    return example_of(values).SerializeToString()


def _rows(n=1500, seed=3):
    """`cause` decides the class (three bands) and the value (3 * cause + small noise); `noise`
    is independent of both."""
    rng = np.random.default_rng(seed)
    cause, noise = rng.normal(size=n), rng.normal(size=n)
    classes = np.digitize(cause, [-0.5, 0.5])
    values = 3 * cause + 0.1 * rng.normal(size=n)
    rows = [_example(cause=float(c), noise=float(z)) for c, z in zip(cause, noise)]
    return rows, classes, values


def _cause(rows):
    return np.array([tf.train.Example.FromString(row).features.feature["cause"]
                     .float_list.value[0] for row in rows])


def _scores_from_cause(rows):
    """A known multiclass model: softmax of 8 * (distance of cause to each band's centre)."""
    cause = _cause(rows)
    logits = -8 * np.abs(cause[:, None] - np.array([-1.0, 0.0, 1.0])[None, :])
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


def _value_from_cause(rows):
    return 3 * _cause(rows)


def test_accuracy_is_the_share_of_rows_whose_argmax_is_the_class():
    scores = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.2, 0.5, 0.3], [0.4, 0.4, 0.2]])
    assert accuracy([0, 2, 0, 0], scores) == 0.75  # a tie goes to the first class, as argmax
    assert accuracy(np.array([1.0, 1.0]), [[0.1, 0.9], [0.8, 0.2]]) == 0.5
    assert math.isnan(accuracy([], np.zeros((0, 3))))


def test_rmse_is_the_root_of_the_mean_squared_error():
    assert rmse([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]) == 0.0
    assert rmse([0.0, 0.0], [3.0, 4.0]) == pytest.approx(math.sqrt(12.5))
    assert math.isnan(rmse([], []))


def test_each_task_has_its_metric_and_its_fallback():
    assert attribution_metric("accuracy", "multiclass") == "accuracy"
    assert attribution_metric("log_loss", "multiclass") == "accuracy"
    assert attribution_metric("rmse", "regression") == "rmse"
    assert attribution_metric("mean_absolute_error", "regression") == "rmse"
    assert attribution_metric("auc", "binary") == "auc"
    assert attribution_metric("rmse", "binary") == "auc"  # not a binary metric
    assert attribution_metric("auc") == "auc"  # binary unless told
    assert (task_of_metric("accuracy"), task_of_metric("rmse"), task_of_metric("auc")) == \
        ("multiclass", "regression", "binary")
    with pytest.raises(ValueError, match="unknown task"):
        attribution_metric("rmse", "ranking")


def test_multiclass_importance_is_the_drop_in_accuracy():
    rows, classes, _ = _rows()
    result = permutation_importance(_scores_from_cause, rows, classes, ["noise", "cause"],
                                    "accuracy", repeats=3, seed=5)
    ranked = {row["feature"]: row for row in result["features"]}
    assert [row["feature"] for row in result["features"]] == ["cause", "noise"]
    assert result["metric"] == "accuracy" and result["lower_is_better"] is False
    assert result["unshuffled"] == pytest.approx(accuracy(classes, _scores_from_cause(rows)))
    assert result["unshuffled"] > 0.9
    # Shuffled cause: the predicted band is independent of the class (~1/3 right, a little
    # more since the middle band is the largest).
    assert ranked["cause"]["mean_drop"] > 0.4
    assert ranked["noise"]["mean_drop"] == 0.0 and ranked["noise"]["std_drop"] == 0.0


def test_regression_importance_is_the_rise_in_rmse_so_positive_still_means_needed():
    rows, _, values = _rows()
    result = permutation_importance(_value_from_cause, rows, values, ["noise", "cause"], "rmse",
                                    repeats=3, seed=5)
    ranked = {row["feature"]: row for row in result["features"]}
    assert result["lower_is_better"] is True
    assert [row["feature"] for row in result["features"]] == ["cause", "noise"]
    unshuffled = rmse(values, _value_from_cause(rows))
    assert result["unshuffled"] == pytest.approx(unshuffled) and unshuffled < 0.2
    # Shuffling cause: prediction and label independent, each of variance 9: RMSE ~ sqrt(18).
    assert ranked["cause"]["mean_drop"] == pytest.approx(math.sqrt(18) - unshuffled, rel=0.1)
    for drop in ranked["cause"]["drops"]:
        assert drop > 0  # shuffled RMSE minus unshuffled RMSE
    assert ranked["noise"]["mean_drop"] == 0.0


def test_scores_of_the_wrong_shape_are_refused():
    rows, classes, _ = _rows(30)
    with pytest.raises(ValueError, match="rows x classes"):
        permutation_importance(lambda r: np.zeros(len(r)), rows, classes, ["cause"], "accuracy",
                               1, 0)
    with pytest.raises(ValueError, match="2 predictions for 30 rows"):
        permutation_importance(lambda r: [1.0, 2.0], rows, classes, ["cause"], "rmse", 1, 0)


def test_component_takes_the_task_and_refuses_another_tasks_metric():
    from tfx import v1 as tfx
    examples = tfx.dsl.Channel(type=standard_artifacts.Examples)
    model = tfx.dsl.Channel(type=standard_artifacts.Model)
    component = FeatureAttributions(examples=examples, model=model, label_key="y",
                                    features=["a"], metric="rmse", task="regression")
    assert component.exec_properties[spec.TASK_KEY] == "regression"
    assert component.exec_properties[spec.METRIC_KEY] == "rmse"
    with pytest.raises(ValueError, match="regression model cannot use metric 'auc'"):
        FeatureAttributions(examples=examples, model=model, label_key="y", features=["a"],
                            metric="auc", task="regression")
    with pytest.raises(ValueError, match="multiclass model cannot use metric 'rmse'"):
        FeatureAttributions(examples=examples, model=model, label_key="y", features=["a"],
                            metric="rmse", task="multiclass")
    with pytest.raises(ValueError, match="unknown task"):
        FeatureAttributions(examples=examples, model=model, label_key="y", features=["a"],
                            metric="auc", task="ranking")


def test_pipeline_passes_the_task_and_its_metric(tmp_path):
    """create_pipeline() gives the FeatureAttributions node the label's task and its metric."""
    from mlpipe.config import load_config
    from mlpipe.pipeline.pipeline import _attributions
    from tests.support.problems import MULTICLASS_CONFIG, REGRESSION_CONFIG
    (tmp_path / "schema.pbtxt").write_text("")
    for task, text, metric in (("multiclass", MULTICLASS_CONFIG, "accuracy"),
                               ("regression", REGRESSION_CONFIG, "rmse")):
        path = tmp_path / f"{task}.yaml"
        path.write_text(text)
        config = load_config(str(path))
        from tfx import v1 as tfx

        class _Node:
            outputs = {"examples": tfx.dsl.Channel(type=standard_artifacts.Examples),
                       "model": tfx.dsl.Channel(type=standard_artifacts.Model)}
        node = _attributions(config, _Node, _Node)
        assert node.exec_properties[spec.TASK_KEY] == task
        assert node.exec_properties[spec.METRIC_KEY] == metric


# ---------------------------------------------------------------------------------------------
# The executor on SavedModels with the trainer's signatures of each task.

LABEL = "target"


class _MulticlassModel(tf.Module):
    """serving_default answers `scores` (softmax over the three bands) and `classes` (names);
    transform_features gives the label as the class index (int64), as the trainer's does."""

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serve(self, examples):
        parsed = tf.io.parse_example(examples, {
            "cause": tf.io.FixedLenFeature([1], tf.float32, default_value=[0.0])})
        logits = -8.0 * tf.abs(parsed["cause"] - tf.constant([[-1.0, 0.0, 1.0]]))
        rows = tf.shape(examples)[0]
        return {SCORES_KEY: tf.nn.softmax(logits),
                CLASSES_KEY: tf.tile(tf.constant([CLASSES]), [rows, 1])}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def transform(self, examples):
        parsed = tf.io.parse_example(examples, {
            "cause": tf.io.FixedLenFeature([1], tf.float32, default_value=[0.0])})
        cause = tf.reshape(parsed["cause"], [-1])
        index = tf.cast(cause >= -0.5, tf.int64) + tf.cast(cause >= 0.5, tf.int64)
        return {LABEL: index}


class _RegressionModel(tf.Module):
    """serving_default answers `value` = 3 * cause; the label is 3 * cause exactly."""

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serve(self, examples):
        parsed = tf.io.parse_example(examples, {
            "cause": tf.io.FixedLenFeature([1], tf.float32, default_value=[0.0])})
        return {VALUE_KEY: 3.0 * parsed["cause"]}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def transform(self, examples):
        parsed = tf.io.parse_example(examples, {
            "cause": tf.io.FixedLenFeature([1], tf.float32, default_value=[0.0])})
        return {LABEL: tf.reshape(3.0 * parsed["cause"], [-1])}


def _artifacts(root, module):
    rows, _, _ = _rows(600)
    examples = standard_artifacts.Examples()
    examples.uri = str(root / "examples")
    examples.split_names = artifact_utils.encode_split_names(["train", "eval"])
    for split in ("train", "eval"):
        folder = root / "examples" / f"Split-{split}"
        folder.mkdir(parents=True)
        with tf.io.TFRecordWriter(str(folder / "data_tfrecord-00000-of-00001.gz"),
                                  options="GZIP") as writer:
            for row in rows:
                writer.write(row)
    model = standard_artifacts.Model()
    model.uri = str(root / "model")
    tf.saved_model.save(module, str(root / "model" / "Format-Serving"), signatures={
        SERVING_SIGNATURE: module.serve, TRANSFORM_SIGNATURE: module.transform})
    return examples, model


@pytest.mark.parametrize("task, module, metric", [
    ("multiclass", _MulticlassModel, "accuracy"), ("regression", _RegressionModel, "rmse")])
def test_executor_scores_each_tasks_output(tmp_path, task, module, metric):
    examples, model = _artifacts(tmp_path, module())
    output = FeatureAttributionsArtifact()
    output.uri = str(tmp_path / "out")
    os.makedirs(output.uri)
    Executor().Do({spec.EXAMPLES_KEY: [examples], spec.MODEL_KEY: [model]},
                  {ATTRIBUTIONS_KEY: [output]},
                  {spec.LABEL_KEY: LABEL, spec.FEATURES_KEY: json.dumps(["noise", "cause"]),
                   spec.METRIC_KEY: metric, spec.TASK_KEY: task, spec.REPEATS_KEY: 2,
                   spec.MAX_ROWS_KEY: 5000, spec.SEED_KEY: 0, spec.SPLIT_KEY: "eval"})
    result = read_attributions(output.uri)
    assert (result["task"], result["metric"], result["rows"]) == (task, metric, 600)
    assert [row["feature"] for row in result["features"]] == ["cause", "noise"]
    assert result["features"][0]["mean_drop"] > 0.3
    assert result["features"][1]["mean_drop"] == 0.0
    # The model is exact on its own labels: accuracy 1 (bands), RMSE ~0 (float32 rounding).
    expected = 1.0 if task == "multiclass" else 0.0
    assert result["unshuffled"] == pytest.approx(expected, abs=1e-5)


def test_executor_refuses_a_metric_of_another_task(tmp_path):
    examples, model = _artifacts(tmp_path, _RegressionModel())
    output = FeatureAttributionsArtifact()
    output.uri = str(tmp_path / "out")
    os.makedirs(output.uri)
    with pytest.raises(ValueError, match="regression model cannot use metric 'auc'"):
        Executor().Do({spec.EXAMPLES_KEY: [examples], spec.MODEL_KEY: [model]},
                      {ATTRIBUTIONS_KEY: [output]},
                      {spec.LABEL_KEY: LABEL, spec.FEATURES_KEY: json.dumps(["cause"]),
                       spec.METRIC_KEY: "auc", spec.TASK_KEY: "regression"})


# ---------------------------------------------------------------------------------------------
# The real runs (tests/support/problems.py).


def _attributions_and_metrics(problem):
    from mlpipe.core import lineage
    from mlpipe.report.loader import load_evaluation
    home = problem["home"]
    with lineage.open_store(home.metadata_path) as store:
        run = lineage.pipeline_runs(store)[-1]
        nodes = lineage.executions_by_node(store, run.id)
        artifact = lineage.outputs_of(store, nodes[NODE_ID].id)[ATTRIBUTIONS_KEY]
        evaluation = lineage.outputs_of(store, nodes["Evaluator"].id)["evaluation"]
    return read_attributions(artifact.uri), load_evaluation(evaluation.uri)["candidate"]


@pytest.mark.e2e
def test_penguin_attributions_use_accuracy_and_every_measurement_counts(multiclass_home):
    attributions, metrics = _attributions_and_metrics(multiclass_home)
    print(f"\npenguins: {json.dumps(attributions['features'], indent=1)}")
    config = multiclass_home["config"]
    assert (attributions["task"], attributions["metric"]) == ("multiclass", "accuracy")
    assert attributions["lower_is_better"] is False
    assert sorted(row["feature"] for row in attributions["features"]) == \
        sorted(config.features.raw_columns)
    # The same eval rows as the Evaluator (fewer than max_rows): the same accuracy.
    assert attributions["rows"] == metrics["example_count"]
    assert attributions["unshuffled"] == pytest.approx(metrics["accuracy"], abs=1e-6)
    means = [row["mean_drop"] for row in attributions["features"]]
    assert means == sorted(means, reverse=True)
    assert means[0] > 0.05  # the species is told apart by its measurements
    assert all(math.isfinite(mean) for mean in means)


@pytest.mark.e2e
def test_fare_attributions_rank_the_trip_length_first(regression_home):
    attributions, metrics = _attributions_and_metrics(regression_home)
    print(f"\ntaxi fare: {json.dumps(attributions['features'], indent=1)}")
    assert (attributions["task"], attributions["metric"]) == ("regression", "rmse")
    assert attributions["lower_is_better"] is True
    assert attributions["rows"] == metrics["example_count"]
    assert attributions["unshuffled"] == pytest.approx(metrics["rmse"], rel=1e-4)
    top_two = [row["feature"] for row in attributions["features"][:2]]
    assert {"trip_miles", "trip_seconds"} & set(top_two), top_two
    # A rise in RMSE: the fare needs the trip's length, by a wide margin.
    assert attributions["features"][0]["mean_drop"] > 1.0
    assert attributions["features"][0]["mean_drop"] > 5 * attributions["features"][0]["std_drop"]
