"""FeatureAttributions: the permutation-importance math on synthetic rows (fast), the executor on a
small SavedModel with the trainer's two signatures (fast), and the component in real pipeline
runs (e2e): a generated problem where one feature causes the label and another is noise, and the
taxi run of the shared `trained_home` fixture."""

import json
import math
import os
import pathlib

import mlpipe  # noqa: F401  (process settings before TensorFlow)
import numpy as np
import pytest
import tensorflow as tf
from tfx.types import artifact_utils, standard_artifacts

from mlpipe.components.attributions import (ATTRIBUTIONS_FILE, ATTRIBUTIONS_KEY, NODE_ID,
                                            FeatureAttributions, FeatureAttributionsArtifact,
                                            attribution_metric, permutation_importance,
                                            read_attributions)
from mlpipe.components.attributions import spec
from mlpipe.components.attributions.executor import (Executor, FeatureShuffler, auc,
                                                     binary_accuracy, to_json)
from mlpipe.core.contract import OUTPUT_KEY, SERVING_SIGNATURE, TRANSFORM_SIGNATURE
from tests.support.examples import example_of

# ---------------------------------------------------------------------------------------------
# Synthetic rows: `cause` decides the label, `noise` is independent of it, `sometimes` is missing
# in a third of the rows.


def _example(**values) -> bytes:
    return example_of(values).SerializeToString()


def _synthetic(n=2000, seed=1):
    rng = np.random.default_rng(seed)
    cause, noise = rng.normal(size=n), rng.normal(size=n)
    labels = (cause + 0.3 * rng.normal(size=n) > 0).astype(int)
    rows = [_example(cause=float(c), noise=float(z), sometimes=None if i % 3 == 0 else float(z),
                     colour=["red", "blue"][i % 2], outcome=int(y))
            for i, (c, z, y) in enumerate(zip(cause, noise, labels))]
    return rows, labels


def _value(example: tf.train.Example, name: str):
    feature = example.features.feature.get(name)
    if feature is None:
        return None
    kind = feature.WhichOneof("kind")
    return list(getattr(feature, kind).value)


def _predict_from_cause(rows):
    """A known model: P(label = 1) = sigmoid(4 * cause); it never reads `noise`."""
    cause = np.array([_value(tf.train.Example.FromString(row), "cause")[0] for row in rows])
    return 1 / (1 + np.exp(-4 * cause))


def test_binary_accuracy_thresholds_at_one_half():
    assert binary_accuracy([1, 0, 1, 0], [0.9, 0.1, 0.4, 0.6]) == 0.5
    assert binary_accuracy([0], [0.5]) == 1.0  # 0.5 is not above the threshold


def test_shuffle_moves_one_feature_with_its_missing_values_and_keeps_the_rest():
    rows, _ = _synthetic(60)
    order = np.random.default_rng(3).permutation(len(rows))
    shuffler = FeatureShuffler(rows)
    shuffled = shuffler.shuffled("sometimes", order)
    for i, row in enumerate(shuffled):
        got = tf.train.Example.FromString(row)
        original = tf.train.Example.FromString(rows[i])
        source = tf.train.Example.FromString(rows[order[i]])
        assert _value(got, "sometimes") == _value(source, "sometimes")  # None moves too
        for name in ("cause", "noise", "colour", "outcome"):
            assert _value(got, name) == _value(original, name)
    identity = shuffler.shuffled("colour", range(len(rows)))
    assert [tf.train.Example.FromString(r) for r in identity] == \
        [tf.train.Example.FromString(r) for r in rows]


def test_rows_in_another_wire_layout_are_canonicalized_first():
    from mlpipe.components.attributions.executor import _map_entries
    row = _example(cause=1.5, noise=0.25)
    entries = _map_entries(row)
    assert sorted(entries) == ["cause", "noise"]
    # The same example with its two fields sent as two Features messages (merged on parse).
    halves = [_example(cause=1.5), _example(noise=0.25)]
    assert _map_entries(b"".join(halves)).keys() == entries.keys()
    shuffled = FeatureShuffler([b"".join(halves), row]).shuffled("cause", [1, 0])
    assert tf.train.Example.FromString(shuffled[0]) == tf.train.Example.FromString(row)
    assert _map_entries(b"") == {}
    with pytest.raises(Exception):
        _map_entries(b"\x0a\x05ab")


def test_the_cause_ranks_first_and_the_unused_noise_scores_zero():
    rows, labels = _synthetic()
    result = permutation_importance(_predict_from_cause, rows, labels,
                                    ["noise", "cause", "sometimes", "colour"], "auc",
                                    repeats=4, seed=7)
    ranked = {row["feature"]: row for row in result["features"]}
    assert result["features"][0]["feature"] == "cause"
    assert result["unshuffled"] == pytest.approx(auc(labels, _predict_from_cause(rows)))
    assert result["unshuffled"] > 0.9
    # Shuffled cause: the model ranks at random, AUC ~0.5, so the drop is ~unshuffled - 0.5.
    assert ranked["cause"]["mean_drop"] == pytest.approx(result["unshuffled"] - 0.5, abs=0.05)
    assert ranked["cause"]["std_drop"] > 0
    for unused in ("noise", "sometimes", "colour"):
        assert ranked[unused]["mean_drop"] == 0.0 and ranked[unused]["std_drop"] == 0.0
    assert len(ranked["cause"]["drops"]) == 4
    assert ranked["cause"]["mean_drop"] == pytest.approx(np.mean(ranked["cause"]["drops"]))
    assert ranked["cause"]["std_drop"] == pytest.approx(np.std(ranked["cause"]["drops"]))
    assert (result["metric"], result["rows"], result["repeats"], result["seed"]) == \
        ("auc", len(rows), 4, 7)
    means = [row["mean_drop"] for row in result["features"]]
    assert means == sorted(means, reverse=True)


def test_same_seed_same_numbers_and_accuracy_works_too():
    rows, labels = _synthetic(500)
    first = permutation_importance(_predict_from_cause, rows, labels, ["cause", "noise"],
                                   "binary_accuracy", repeats=3, seed=11)
    again = permutation_importance(_predict_from_cause, rows, labels, ["cause", "noise"],
                                   "binary_accuracy", repeats=3, seed=11)
    assert first == again
    assert first["features"][0]["feature"] == "cause"
    assert first["features"][0]["mean_drop"] > 0.3


def test_bad_arguments_are_refused():
    rows, labels = _synthetic(20)
    with pytest.raises(ValueError, match="metric 'calibration'"):
        permutation_importance(_predict_from_cause, rows, labels, ["cause"], "calibration", 2, 0)
    with pytest.raises(ValueError, match="20 rows but 19 labels"):
        permutation_importance(_predict_from_cause, rows, labels[:19], ["cause"], "auc", 2, 0)
    with pytest.raises(ValueError, match="2 predictions for 20 rows"):
        permutation_importance(lambda r: [0.5, 0.5], rows, labels, ["cause"], "auc", 2, 0)


def test_main_metric_is_used_when_attributions_support_it():
    assert attribution_metric("binary_accuracy") == "binary_accuracy"
    assert attribution_metric("auc") == "auc"
    assert attribution_metric("calibration") == "auc"


def test_one_class_labels_give_null_not_nan_in_the_json():
    rows, _ = _synthetic(30)
    result = permutation_importance(_predict_from_cause, rows, np.ones(30), ["cause"], "auc", 2, 0)
    data = json.loads(to_json(result))
    assert data["unshuffled"] is None and data["features"][0]["mean_drop"] is None


# ---------------------------------------------------------------------------------------------
# The executor on a small SavedModel with the trainer's two signatures, and ExampleGen's layout.

LABEL = "caused"


class _ToyModel(tf.Module):
    """serving_default reads `cause` and `noise` (not the label's source); transform_features
    derives the label from `outcome`, as a derived label would be."""

    def __init__(self):
        super().__init__()
        self.weights = tf.Variable([4.0, 0.0])

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serve(self, examples):
        parsed = tf.io.parse_example(examples, {
            "cause": tf.io.FixedLenFeature([1], tf.float32, default_value=[0.0]),
            "noise": tf.io.FixedLenFeature([1], tf.float32, default_value=[0.0])})
        logit = self.weights[0] * parsed["cause"] + self.weights[1] * parsed["noise"]
        return {OUTPUT_KEY: tf.sigmoid(logit)}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def transform(self, examples):
        parsed = tf.io.parse_example(examples, {
            "outcome": tf.io.FixedLenFeature([1], tf.int64, default_value=[0]),
            "cause": tf.io.FixedLenFeature([1], tf.float32, default_value=[0.0])})
        return {LABEL: tf.reshape(tf.cast(parsed["outcome"] > 0, tf.int64), [-1]),
                "cause_z": parsed["cause"]}


@pytest.fixture(scope="module")
def toy_artifacts(tmp_path_factory):
    root = tmp_path_factory.mktemp("attributions")
    rows, labels = _synthetic(900)
    examples = standard_artifacts.Examples()
    examples.uri = str(root / "examples")
    examples.split_names = artifact_utils.encode_split_names(["train", "eval"])
    for split, part in (("train", rows[:300]), ("eval", rows[300:])):
        folder = root / "examples" / f"Split-{split}"
        folder.mkdir(parents=True)
        for shard in range(2):  # two files, as ExampleGen may write
            with tf.io.TFRecordWriter(str(folder / f"data_tfrecord-0000{shard}-of-00002.gz"),
                                      options="GZIP") as writer:
                for row in part[shard::2]:
                    writer.write(row)
    model = standard_artifacts.Model()
    model.uri = str(root / "model")
    toy = _ToyModel()
    tf.saved_model.save(toy, str(root / "model" / "Format-Serving"), signatures={
        SERVING_SIGNATURE: toy.serve, TRANSFORM_SIGNATURE: toy.transform})
    return {"root": root, "examples": examples, "model": model, "eval_labels": labels[300:]}


def _run_executor(toy_artifacts, folder, **properties):
    output = FeatureAttributionsArtifact()
    output.uri = str(toy_artifacts["root"] / folder)
    os.makedirs(output.uri)
    exec_properties = {spec.LABEL_KEY: LABEL, spec.FEATURES_KEY: json.dumps(["noise", "cause"]),
                       spec.METRIC_KEY: "auc", spec.REPEATS_KEY: 3, spec.MAX_ROWS_KEY: 5000,
                       spec.SEED_KEY: 0, spec.SPLIT_KEY: "eval", **properties}
    Executor().Do({spec.EXAMPLES_KEY: [toy_artifacts["examples"]],
                   spec.MODEL_KEY: [toy_artifacts["model"]]},
                  {spec.ATTRIBUTIONS_KEY: [output]}, exec_properties)
    return read_attributions(output.uri), output.uri


def test_executor_reads_the_eval_split_and_the_models_signatures(toy_artifacts):
    result, uri = _run_executor(toy_artifacts, "out-all")
    assert os.path.isfile(os.path.join(uri, ATTRIBUTIONS_FILE))
    assert result["rows"] == 600 and result["split"] == "eval"
    assert [row["feature"] for row in result["features"]] == ["cause", "noise"]
    # Labels from transform_features (derived from `outcome`), predictions from serving_default:
    # the unshuffled AUC is the known model's AUC on the eval rows against `outcome`.
    folder = toy_artifacts["root"] / "examples" / "Split-eval"
    rows = [record.numpy() for path in sorted(folder.iterdir())
            for record in tf.data.TFRecordDataset(str(path), compression_type="GZIP")]
    outcomes = [_value(tf.train.Example.FromString(row), "outcome")[0] for row in rows]
    assert sorted(outcomes) == sorted(toy_artifacts["eval_labels"].tolist())
    expected = auc(outcomes, _predict_from_cause(rows))
    assert result["unshuffled"] == pytest.approx(expected, abs=1e-6)
    noise = next(row for row in result["features"] if row["feature"] == "noise")
    assert noise["mean_drop"] == 0.0  # the model's weight on noise is 0


def test_executor_samples_at_most_max_rows_reproducibly(toy_artifacts):
    first, _ = _run_executor(toy_artifacts, "out-sample-1", **{spec.MAX_ROWS_KEY: 250})
    again, _ = _run_executor(toy_artifacts, "out-sample-2", **{spec.MAX_ROWS_KEY: 250})
    assert first["rows"] == 250 and first == again


def test_component_refuses_a_metric_it_cannot_compute():
    from tfx import v1 as tfx
    examples = tfx.dsl.Channel(type=standard_artifacts.Examples)
    model = tfx.dsl.Channel(type=standard_artifacts.Model)
    with pytest.raises(ValueError, match="calibration"):
        FeatureAttributions(examples=examples, model=model, label_key="y", features=["a"],
                            metric="calibration")
    component = FeatureAttributions(examples=examples, model=model, label_key="y",
                                    features=["a", "b"], metric="auc")
    assert json.loads(component.exec_properties[spec.FEATURES_KEY]) == ["a", "b"]
    assert component.outputs[ATTRIBUTIONS_KEY].type is FeatureAttributionsArtifact
    assert component.id == NODE_ID


# ---------------------------------------------------------------------------------------------
# Real pipeline runs.

CAUSE_NOISE_ROWS = 4000
SCHEMA = """
feature { name: "cause" type: FLOAT value_count { min: 1 max: 1 } presence { min_fraction: 1.0 } }
feature { name: "noise" type: FLOAT value_count { min: 1 max: 1 } presence { min_fraction: 1.0 } }
feature {
  name: "label" type: INT int_domain { min: 0 max: 1 }
  value_count { min: 1 max: 1 } presence { min_fraction: 1.0 }
  not_in_environment: "SERVING"
}
default_environment: "TRAINING"
default_environment: "SERVING"
"""
CONFIG = """
name: cause-and-noise
data: {path: data.csv, format: csv, split: {train: 2, eval: 1}}
label: {name: caused, column: label}
features: {numeric: [cause, noise]}
schema: schema.pbtxt
train: {epochs: 6, batch_size: 128, hidden_units: [8], learning_rate: 0.02}
evaluation:
  kpi: {auc: {min: 0.7}}
  main_metric: auc
"""


@pytest.fixture(scope="module")
def cause_and_noise(tmp_path_factory):
    """A generated problem: label = [cause + small noise > 0]; `noise` is independent of both."""
    import io

    from mlpipe.config import load_config
    from mlpipe.core.run_home import RunHome
    from mlpipe.local.local_runner import run_local
    root = tmp_path_factory.mktemp("cause-and-noise")
    rng = np.random.default_rng(42)
    cause, noise = rng.normal(size=CAUSE_NOISE_ROWS), rng.normal(size=CAUSE_NOISE_ROWS)
    label = (cause + 0.3 * rng.normal(size=CAUSE_NOISE_ROWS) > 0).astype(int)
    with open(root / "data.csv", "w") as sink:
        sink.write("cause,noise,label\n")
        sink.writelines(f"{c:.5f},{z:.5f},{y}\n" for c, z, y in zip(cause, noise, label))
    (root / "schema.pbtxt").write_text(SCHEMA)
    (root / "config.yaml").write_text(CONFIG)
    config = load_config(root / "config.yaml")
    home = RunHome.for_pipeline(config.name, str(root / "runs"))
    result = run_local(config, home, out=io.StringIO())
    return {"root": root, "config": config, "home": home, "result": result}


def _attributions_of_latest_run(home):
    from mlpipe.core import lineage
    with lineage.open_store(home.metadata_path) as store:
        run = lineage.pipeline_runs(store)[-1]
        execution = lineage.executions_by_node(store, run.id)[NODE_ID]
        artifact = lineage.outputs_of(store, execution.id)[ATTRIBUTIONS_KEY]
        seconds = (execution.last_update_time_since_epoch
                   - execution.create_time_since_epoch) / 1000
        return read_attributions(artifact.uri), seconds


@pytest.mark.e2e
def test_pipeline_ranks_the_cause_first_and_the_noise_near_zero(cause_and_noise):
    result = cause_and_noise["result"]
    assert result.blessed is True
    states = {component.name: component for component in result.components}
    assert states[NODE_ID].state == "executed"
    attributions, _ = _attributions_of_latest_run(cause_and_noise["home"])
    print(f"\ncause-and-noise: {NODE_ID} ran {states[NODE_ID].seconds:.1f}s; "
          f"{json.dumps(attributions['features'], indent=1)}")
    ranked = {row["feature"]: row for row in attributions["features"]}
    assert [row["feature"] for row in attributions["features"]] == ["cause", "noise"]
    assert attributions["metric"] == "auc" and attributions["repeats"] == 5
    # The eval split (about a third of the rows), all of it: fewer rows than max_rows.
    assert 0.25 * CAUSE_NOISE_ROWS < attributions["rows"] < 0.42 * CAUSE_NOISE_ROWS
    # The unshuffled AUC is the Evaluator's, computed by TFMA on the same rows.
    assert attributions["unshuffled"] == pytest.approx(result.metrics["auc"], abs=2e-3)
    assert ranked["cause"]["mean_drop"] > 0.3
    assert ranked["cause"]["mean_drop"] > 10 * ranked["cause"]["std_drop"]
    assert abs(ranked["noise"]["mean_drop"]) < 0.01


@pytest.mark.e2e
def test_report_shows_the_same_attributions_as_the_artifact(cause_and_noise):
    from tests.support.cli import run_mlpipe
    from mlpipe.core import captions
    from mlpipe.report import html
    from mlpipe.report.loader import load_report
    home = cause_and_noise["home"]
    attributions, _ = _attributions_of_latest_run(home)
    completed = run_mlpipe("report", "--config", cause_and_noise["root"] / "config.yaml",
                           "--home", home.root.parent, "--json", "-", timeout=300)
    assert completed.returncode == 0, completed.stderr[-3000:]
    text, _, json_text = completed.stdout.partition("\n{\n")
    assert json.loads("{\n" + json_text)["attributions"] == attributions
    assert "Feature attributions, drop in auc when a feature is shuffled" in text
    cause_line = next(line for line in text.splitlines() if line.strip().startswith("cause "))
    cause = attributions["features"][0]
    assert f"{cause['mean_drop']:+.4f}" in cause_line and f"±{cause['std_drop']:.4f}" in cause_line
    page = html.render_html(load_report(home, None, "auc", 100))
    assert "id='attributions-chart'" in page and page.count("class='attribution'") == 2
    assert f"{cause['mean_drop']:+.4f} ± {cause['std_drop']:.4f}" in page
    assert "http://" not in page and "https://" not in page and "<script" not in page
    assert "Feature attributions: none recorded" in "\n".join(captions.attribution_lines({}))


@pytest.mark.e2e
def test_taxi_run_has_attributions_for_every_raw_feature(trained_home):
    config = trained_home["config"]
    attributions, seconds = _attributions_of_latest_run(trained_home["home"])
    features = [row["feature"] for row in attributions["features"]]
    print(f"\ntaxi ({attributions['rows']} eval rows, unshuffled {attributions['metric']} "
          f"{attributions['unshuffled']:.4f}): {NODE_ID} ran {seconds:.1f}s")
    for row in attributions["features"]:
        print(f"  {row['feature']:<24} {row['mean_drop']:+.4f} ± {row['std_drop']:.4f}")
    assert sorted(features) == sorted(config.features.raw_columns)
    assert attributions["metric"] == config.evaluation.main_metric
    assert attributions["repeats"] == 5 and attributions["rows"] > 0
    assert all(math.isfinite(row["mean_drop"]) for row in attributions["features"])
    assert attributions["features"][0]["mean_drop"] > 0.01  # the model relies on something
    assert pathlib.Path(trained_home["home"].pipeline_root / NODE_ID).is_dir()
