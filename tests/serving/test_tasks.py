"""`mlpipe serve` and `mlpipe predict` with the real multiclass (penguin species) and regression
(taxi fare) models of tests/support/problems.py: TF Serving's answers per task over real HTTP,
predict's columns, both equal to the SavedModel called directly; the request log of each task
read back by `mlpipe monitor`."""

import csv
import json

import httpx
import numpy as np
import pytest

import mlpipe  # noqa: F401  (process settings before TensorFlow)
from mlpipe.config.serving import ServingConfig
from mlpipe.serving.request_log import META_COLUMNS, log_files
from tests.support.cli import ServerProcess
from tests.support.configs import write_config
from tests.support.examples import example_of_checked

pytestmark = pytest.mark.e2e

PENGUIN_CLASSES = ["Adelie", "Chinstrap", "Gentoo"]
ROWS_SENT = 7


class Problem:
    """One trained problem: its CSV rows as JSON instances, and the pushed model called
    directly on tf.Examples built with protobuf (the reference)."""

    def __init__(self, home, folder):
        import tensorflow as tf
        from mlpipe.serving.examples import encoder_for_schema
        self.home, self.folder, self.config = home, folder, home["config"]
        self.encoder = encoder_for_schema(self.config.schema_path,
                                          self.config.data.missing_values)
        self.version = home["home"].pushed_versions()[-1].name
        self.signature = tf.saved_model.load(
            str(home["home"].pushed_versions()[-1])).signatures["serving_default"]
        with open(home["csv"], newline="") as source:
            self.csv_rows = list(csv.DictReader(source))

    def checked(self, rows):
        return [self.encoder.check_csv_row(row, f"row {i}") for i, row in enumerate(rows)]

    def instances(self, count=ROWS_SENT, step=37):
        """`count` rows spread over the file, as a client would send them."""
        chosen = self.csv_rows[::step][:count]
        return [{name: values[0].decode() if isinstance(values[0], bytes) else values[0]
                 for name, values in checked.items()} for checked in self.checked(chosen)]

    def direct(self, checked_rows):
        import tensorflow as tf
        examples = [example_of_checked(row, self.encoder).SerializeToString()
                    for row in checked_rows]
        outputs = self.signature(examples=tf.constant(examples))
        return {name: value.numpy() for name, value in outputs.items()}

    def direct_on_instances(self, instances):
        return self.direct([self.encoder.check_json_row(row, "") for row in instances])

    def server(self):
        config_file = write_config(
            self.folder / "config.yaml", self.config,
            serving=ServingConfig(log_dir=str(self.folder / "log"), log_flush_seconds=0.2))
        self.config_file = config_file
        return ServerProcess(config_file, self.home["base"])


@pytest.fixture(scope="module")
def penguins(multiclass_home, tmp_path_factory):
    return Problem(multiclass_home, tmp_path_factory.mktemp("serve-multiclass"))


@pytest.fixture(scope="module")
def fares(regression_home, tmp_path_factory):
    return Problem(regression_home, tmp_path_factory.mktemp("serve-regression"))


@pytest.fixture(scope="module")
def penguin_server(penguins):
    server = penguins.server()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def fare_server(fares):
    server = fares.server()
    yield server
    server.stop()


def _columns(instances):
    return {name: [row.get(name) for row in instances] for name in set().union(*instances)}


# ---- multiclass ----------------------------------------------------------------------------

def test_multiclass_answers_scores_and_class_names_in_tf_serving_shapes(penguins,
                                                                         penguin_server):
    url = penguin_server.url
    assert "predict: POST" in penguin_server.output()
    assert "(multiclass: Adelie, Chinstrap, Gentoo)" in penguin_server.output()
    metadata = httpx.get(f"{url}/metadata").json()
    outputs = metadata["metadata"]["signature_def"]["signature_def"]["serving_default"][
        "outputs"]
    assert outputs["scores"]["dtype"] == "DT_FLOAT" and outputs["classes"]["dtype"] == \
        "DT_STRING"

    instances = penguins.instances()
    expected = penguins.direct_on_instances(instances)["scores"]
    rows = httpx.post(f"{url}:predict", json={"instances": instances})
    assert rows.status_code == 200, rows.text
    assert rows.headers["x-model-version"] == penguins.version
    predictions = rows.json()["predictions"]
    assert len(predictions) == ROWS_SENT
    assert all(set(p) == {"scores", "classes"} for p in predictions)
    assert all(p["classes"] == PENGUIN_CLASSES for p in predictions)
    np.testing.assert_allclose([p["scores"] for p in predictions], expected, rtol=1e-6)
    np.testing.assert_allclose(np.sum(expected, axis=1), 1.0, rtol=1e-5)

    columnar = httpx.post(f"{url}:predict", json={"inputs": _columns(instances)})
    assert columnar.status_code == 200, columnar.text
    body = columnar.json()["outputs"]
    assert body["classes"] == [PENGUIN_CLASSES] * ROWS_SENT
    np.testing.assert_allclose(body["scores"], expected, rtol=1e-6)

    classify = httpx.post(f"{url}/versions/{penguins.version}:classify",
                          json={"examples": instances})
    assert classify.status_code == 200, classify.text
    result = classify.json()["result"]
    assert [[name for name, _ in pairs] for pairs in result] == [PENGUIN_CLASSES] * ROWS_SENT
    np.testing.assert_allclose([[score for _, score in pairs] for pairs in result], expected,
                               rtol=1e-6)


def test_multiclass_refuses_regress_and_bad_requests_and_keeps_serving(penguins,
                                                                       penguin_server):
    url = penguin_server.url
    instances = penguins.instances(2)
    regress = httpx.post(f"{url}:regress", json={"examples": instances})
    assert regress.status_code == 400
    assert "multiclass model: use :predict or :classify" in regress.json()["error"]
    wrong = httpx.post(f"{url}:predict", json={"instances": [{**instances[0],
                                                              "species": "Adelie"}]})
    assert wrong.status_code == 400 and wrong.json()["field"] == "species"
    missing = httpx.post(f"{url}:classify", json={"examples": [{"body_mass_g": 0.3}]})
    assert missing.status_code == 400 and "missing required feature" in missing.json()["error"]
    assert httpx.post(f"{url}:predict", json={"instances": instances}).status_code == 200


def test_multiclass_request_log_has_the_predicted_class_and_monitor_reads_it(penguins,
                                                                             penguin_server,
                                                                             capsys):
    instances = penguins.instances()
    for _ in range(3):
        assert httpx.post(f"{penguin_server.url}:predict",
                          json={"instances": instances}).status_code == 200
    assert penguin_server.stop() == 0
    with open(log_files(penguins.folder / "log")[0], newline="") as source:
        header = next(csv.reader(source))
    assert header[-6:] == META_COLUMNS + [f"_score_{name}" for name in PENGUIN_CLASSES]
    logged = [row for path in log_files(penguins.folder / "log")
              for row in csv.DictReader(open(path, newline=""))]
    last = logged[-ROWS_SENT:]
    scores = penguins.direct_on_instances(instances)["scores"]
    assert [row["_prediction"] for row in last] == [PENGUIN_CLASSES[i]
                                                    for i in scores.argmax(axis=1)]
    np.testing.assert_allclose([[float(row[f"_score_{name}"]) for name in PENGUIN_CLASSES]
                                for row in last], scores, rtol=1e-5)
    _monitor_reads_the_log(penguins, len(logged), capsys)


def _monitor_reads_the_log(problem, rows, capsys):
    """`mlpipe monitor` with the request log as its input: the log's own columns are not taken
    for features (no anomaly, no drift row for them)."""
    from mlpipe.cli import main
    output = problem.folder / "monitor.json"
    code = main(["monitor", "--config", str(problem.config_file), "--home",
                 problem.home["base"], "--output", str(output)])
    out = capsys.readouterr().out
    assert code == 0, out
    report = json.loads(output.read_text())
    assert report["environment"] == "SERVING" and report["rows"] == rows
    assert report["anomalies"] == []
    assert {d["feature"] for d in report["drift"]} <= set(problem.config.features.raw_columns)


# ---- regression ----------------------------------------------------------------------------

def test_regression_answers_the_value_in_tf_serving_shapes(fares, fare_server):
    url = fare_server.url
    instances = fares.instances()
    expected = fares.direct_on_instances(instances)["value"]
    assert expected.shape == (ROWS_SENT, 1)
    rows = httpx.post(f"{url}:predict", json={"instances": instances})
    assert rows.status_code == 200, rows.text
    np.testing.assert_allclose(rows.json()["predictions"], expected, rtol=1e-6)
    assert np.array(rows.json()["predictions"]).shape == (ROWS_SENT, 1)
    columnar = httpx.post(f"{url}:predict", json={"inputs": _columns(instances)})
    np.testing.assert_allclose(columnar.json()["outputs"], expected, rtol=1e-6)
    shared = {"payment_type": instances[0]["payment_type"]}
    regress = httpx.post(f"{url}:regress", json={
        "context": shared, "examples": [{k: v for k, v in instances[0].items()
                                         if k != "payment_type"}]})
    assert regress.status_code == 200, regress.text
    np.testing.assert_allclose(regress.json()["result"], expected[:1, 0], rtol=1e-6)
    classify = httpx.post(f"{url}:classify", json={"examples": instances})
    assert classify.status_code == 400
    assert "regression model: use :predict or :regress" in classify.json()["error"]
    assert httpx.post(f"{url}:predict", json={"instances": instances}).status_code == 200


def test_regression_request_log_has_the_value_and_monitor_reads_it(fares, fare_server, capsys):
    instances = fares.instances()
    assert httpx.post(f"{fare_server.url}:predict",
                      json={"instances": instances}).status_code == 200
    assert fare_server.stop() == 0
    logged = [row for path in log_files(fares.folder / "log")
              for row in csv.DictReader(open(path, newline=""))]
    assert list(logged[0])[-3:] == META_COLUMNS
    np.testing.assert_allclose([float(row["_prediction"]) for row in logged[-ROWS_SENT:]],
                               fares.direct_on_instances(instances)["value"][:, 0], rtol=1e-5)
    _monitor_reads_the_log(fares, len(logged), capsys)


# ---- mlpipe predict ------------------------------------------------------------------------

@pytest.mark.parametrize("task", ["multiclass", "regression"])
def test_predict_writes_the_task_s_columns_equal_to_the_model_called_directly(
        task, penguins, fares, tmp_path, capsys):
    from mlpipe.cli import main
    problem = penguins if task == "multiclass" else fares
    output = tmp_path / "scored.csv"
    code = main(["predict", "--config", str(problem.home["config_path"]), "--home",
                 problem.home["base"], "--input", str(problem.home["csv"]), "--output",
                 str(output), "--batch-size", "100"])
    assert code == 0, capsys.readouterr().err
    with open(output, newline="") as scored_file:
        scored = list(csv.DictReader(scored_file))
    inputs = problem.csv_rows
    assert len(scored) == len(inputs)
    assert all(row[name] == source[name] for row, source in zip(scored, inputs)
               for name in inputs[0])
    direct = problem.direct(problem.checked(inputs))
    if task == "multiclass":
        assert list(scored[0]) == list(inputs[0]) + ["predicted_class"] + [
            f"score_{name}" for name in PENGUIN_CLASSES]
        np.testing.assert_allclose(
            [[float(row[f"score_{name}"]) for name in PENGUIN_CLASSES] for row in scored],
            direct["scores"], atol=1e-6)
        assert [row["predicted_class"] for row in scored] == [
            PENGUIN_CLASSES[i] for i in direct["scores"].argmax(axis=1)]
    else:
        assert list(scored[0]) == list(inputs[0]) + ["value"]
        # float32 values up to ~100, computed in batches of another size: a few ulps apart.
        np.testing.assert_allclose([float(row["value"]) for row in scored],
                                   direct["value"][:, 0], atol=1e-5, rtol=1e-5)


def test_a_model_that_does_not_fit_the_config_s_label_is_refused(penguins):
    from mlpipe.config.problem import LabelConfig
    from mlpipe.serving.model import LoadedModel, resolve_version
    from mlpipe.serving.outputs import TaskMismatchError
    version, path = resolve_version(penguins.home["home"])
    reordered = LabelConfig(name="species", task="multiclass", column="species",
                            classes=["Gentoo", "Adelie", "Chinstrap"])
    with pytest.raises(TaskMismatchError, match="label.classes are"):
        LoadedModel.load(version, path, label=reordered)
    binary = LabelConfig(name="species", column="species", positive_class="Gentoo")
    with pytest.raises(TaskMismatchError, match="is a multiclass model"):
        LoadedModel.load(version, path, label=binary)
