"""The real pipeline, end to end, on a 3,000-row slice of the taxi data (slow: a few minutes).

One run home is shared by the tests in file order: a cold run, an unchanged re-run, a model that
misses its KPI, the anomaly gate on bad data, and a re-run once the data is fixed.
"""

import io
import os
import pathlib
import shutil

import pytest

import mlpipe  # noqa: F401  (process settings before TensorFlow)
from mlpipe.config import Bound, load_config
from mlpipe.local.local_runner import PipelineFailed, run_local
from mlpipe.core.run_home import RunHome
from tests.support.cli import run_mlpipe
from tests.support.configs import write_config
from tests.support.examples import example_of

pytestmark = pytest.mark.e2e

SLICE_ROWS = 3000
UNLABELLED_ROWS = 200


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    default = load_config()
    data_dir = root / "data"
    data_dir.mkdir()
    score_dir = root / "unlabelled"
    score_dir.mkdir()
    with open(default.data.path) as source, open(data_dir / "data.csv", "w") as target, \
            open(score_dir / "trips.csv", "w") as unlabelled:
        header = next(source)
        tips = header.rstrip("\n").split(",").index("tips")
        target.write(header)
        unlabelled.write(_without(header, tips))
        for _, line in zip(range(SLICE_ROWS), source):
            target.write(line)
        for _, line in zip(range(UNLABELLED_ROWS), source):
            unlabelled.write(_without(line, tips))
    evaluation = default.evaluation.model_copy(update={"kpi": {"auc": Bound(min=0.85)}})
    config = default.model_copy(update={
        "data": default.data.model_copy(update={"path": str(data_dir / "data.csv"),
                                                "score_path": str(score_dir / "trips.csv")}),
        "evaluation": evaluation,
    })
    home = RunHome.for_pipeline(config.name, str(root / "runs"))
    return {"root": root, "config": config, "home": home, "csv": data_dir / "data.csv"}


def _without(line: str, column: int) -> str:
    fields = line.rstrip("\n").split(",")
    del fields[column]
    return ",".join(fields) + "\n"


def _states(result):
    return {component.name: component.state for component in result.components}


def test_cold_run_produces_every_artifact_and_a_blessed_pushed_model(workspace):
    result = run_local(workspace["config"], workspace["home"], out=io.StringIO())
    states = _states(result)
    assert states.pop("baseline_resolver") == "resolved"
    assert set(states.values()) == {"executed"}, states
    assert len(states) == 13  # with FeatureAttributions and ModelCard
    assert result.blessed is True
    assert result.metrics["auc"] >= 0.85
    assert result.data.rows == SLICE_ROWS

    root = workspace["home"].pipeline_root
    for produced in ["CsvExampleGen/examples", "StatisticsGen/statistics", "ImportSchemaGen/schema",
                     "ExampleValidator/anomalies", "Transform/transform_graph",
                     "Transform/transformed_examples", "Trainer/model", "Evaluator/evaluation",
                     "Evaluator/blessing", "Pusher/pushed_model"]:
        assert any((root / produced).rglob("*")), f"no output under {produced}"
    assert list((root / "Evaluator/blessing").rglob("BLESSED"))

    versions = workspace["home"].pushed_versions()
    assert [str(v) for v in versions] == [result.pushed_version]
    _assert_serves_raw_examples(versions[0])
    _assert_unlabelled_rows_scored(result.inference_uri)


def _assert_unlabelled_rows_scored(inference_uri: str) -> None:
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_log_pb2
    files = [str(p) for p in pathlib.Path(inference_uri).rglob("*") if p.is_file()]
    assert files, f"BulkInferrer wrote nothing under {inference_uri}"
    probabilities = []
    for record in tf.data.TFRecordDataset(files, compression_type="GZIP"):
        log = prediction_log_pb2.PredictionLog.FromString(record.numpy())
        output = log.predict_log.response.outputs["probability"]
        probabilities.extend(output.float_val)
    assert len(probabilities) == UNLABELLED_ROWS
    assert all(0.0 < p < 1.0 for p in probabilities)


def _assert_serves_raw_examples(model_dir: pathlib.Path) -> None:
    import tensorflow as tf
    model = tf.saved_model.load(str(model_dir))
    serve = model.signatures["serving_default"]
    example = example_of({"payment_type": "Credit Card", "fare": 12.5, "trip_start_hour": 19})
    # No label source ('tips') and most features missing: the Transform graph imputes them.
    probability = serve(examples=tf.constant([example.SerializeToString()]))["probability"]
    assert probability.shape == (1, 1)
    assert 0.0 < float(probability[0, 0]) < 1.0


def test_unchanged_rerun_is_served_from_cache_and_pushes_nothing_new(workspace):
    before = workspace["home"].pushed_versions()
    result = run_local(workspace["config"], workspace["home"], out=io.StringIO(), recheck=True)
    states = _states(result)
    assert states.pop("baseline_resolver") == "resolved"
    assert set(states.values()) == {"cached"}, states
    assert result.blessed is True
    assert result.unchanged_since is None
    assert workspace["home"].pushed_versions() == before
    workspace["cached"] = result


def test_unchanged_rerun_is_answered_without_tfx_and_writes_nothing(workspace):
    """The re-run above went through TFX's cache; this one is recognised before TFX is loaded
    and answers with that run's outcome, leaving the metadata store byte for byte as it was."""
    home, cached = workspace["home"], workspace["cached"]
    store, pushed = home.metadata_path.read_bytes(), home.pushed_versions()
    result = run_local(workspace["config"], home, out=io.StringIO())
    assert set(_states(result).values()) == {"unchanged"}
    assert [(c.name, c.execution_id) for c in result.components] == \
        [(c.name, c.execution_id) for c in cached.components]
    assert result.unchanged_since
    for field in ("blessed", "pushed_version", "evaluation_uri", "inference_uri", "metrics"):
        assert getattr(result, field) == getattr(cached, field), field
    assert home.metadata_path.read_bytes() == store
    assert "Unchanged since run" in result.log_file.read_text()

    # The same through the CLI, which then imports neither TensorFlow nor TFX nor Beam.
    config_file = write_config(workspace["root"] / "e2e.yaml", workspace["config"])
    command = ["run", "--config", config_file, "--home", workspace["root"] / "runs"]
    first = run_mlpipe(*command, timeout=300)  # another config file: TFX's cache decides
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    second = run_mlpipe(*command, env={**os.environ, "PYTHONPROFILEIMPORTTIME": "1"})
    assert second.returncode == 0, second.stdout[-2000:] + second.stderr[-2000:]
    assert "none ran (--recheck asks TFX's cache)" in second.stdout
    imported = {line.rsplit("|", 1)[-1].strip() for line in second.stderr.splitlines()
                if line.startswith("import time:")}
    assert "mlpipe.local.unchanged_run" in imported
    assert not imported & {"tensorflow", "tfx", "apache_beam"}
    assert home.pushed_versions() == pushed


def test_model_missing_its_kpi_is_not_pushed(workspace):
    before = workspace["home"].pushed_versions()
    config = workspace["config"]
    strict = config.model_copy(update={"evaluation": config.evaluation.model_copy(
        update={"kpi": {"auc": Bound(min=0.999)}})})
    result = run_local(strict, workspace["home"], out=io.StringIO())
    states = _states(result)
    assert states["Trainer"] == "cached" and states["Evaluator"] == "executed"
    assert result.blessed is False
    assert result.pushed_version is None
    assert workspace["home"].pushed_versions() == before


def test_gate_stops_data_that_breaks_the_schema_and_keeps_the_pushed_model(workspace):
    before = workspace["home"].pushed_versions()
    original = workspace["csv"].read_text()
    lines = original.splitlines(keepends=True)
    header = lines[0].rstrip("\n").split(",")
    hour = header.index("trip_start_hour")
    broken = [lines[0]]
    for i, line in enumerate(lines[1:]):
        fields = line.rstrip("\n").split(",")
        if i % 3 == 0:
            fields[hour] = "31"
        broken.append(",".join(fields) + "\n")
    shutil.copy(workspace["csv"], workspace["root"] / "good.csv")
    workspace["csv"].write_text("".join(broken))

    out = io.StringIO()
    with pytest.raises(PipelineFailed) as failure:
        run_local(workspace["config"], workspace["home"], out=out)
    assert failure.value.component == "AnomalyGate"
    assert "trip_start_hour" in str(failure.value.error)
    assert "[0, 23]" in str(failure.value.error)
    assert "Transform" not in out.getvalue()
    assert workspace["home"].pushed_versions() == before
    assert failure.value.log_file.exists()


def test_fixed_data_reruns_cleanly_through_the_cli(workspace):
    shutil.copy(workspace["root"] / "good.csv", workspace["csv"])
    config_file = write_config(workspace["root"] / "config.yaml", workspace["config"])
    completed = run_mlpipe("run", "--config", config_file,
                           "--home", workspace["home"].root.parent, timeout=900)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "Model:        BLESSED" in completed.stdout
    for component in ["CsvExampleGen", "Transform", "Trainer", "Evaluator", "Pusher"]:
        assert component in completed.stdout
    # TensorFlow/Beam chatter went to the log file, not the terminal.
    assert "struct2tensor" not in completed.stdout + completed.stderr
    assert len(workspace["home"].pushed_versions()) >= 1
