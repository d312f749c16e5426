"""`mlpipe compile` with data by span: each Kubeflow / Vertex run ingests the newest span (the
pattern reaches the ExampleGen as it is, no range pinned), the DriftGate is a step before
Transform whose baseline comes from TFX's LatestArtifactStrategy (a resolver KFP v2 compiles),
and a window of spans, which only the local runner can resolve, is refused naming data.window.

Compiled by the real CLI offline (see test_compile.py: no credentials, no network); the job is
checked against the real PipelineJob schema by `compile_vertex_offline`."""

import json

import pytest

from mlpipe.config import ConfigError
from mlpipe.errors import EXIT_BAD_INPUT
from tests.support.cli import offline_env, run_mlpipe
from tests.support.cloud import BUCKET, CLOUD, compile_vertex_offline
from tests.support.configs import write_config

CLOUD_SPANS = f"gs://{BUCKET}/data/taxi/span-{{SPAN}}/"


def _spans(raw):
    raw["data"]["path"] = "data/span-{SPAN}/"
    raw["cloud"]["data_path"] = CLOUD_SPANS


@pytest.fixture(scope="module")
def vertex_spec(tmp_path_factory) -> dict:
    return compile_vertex_offline(tmp_path_factory.mktemp("spans-compile"), _spans)


def _parameter(task, name):
    value = task["inputs"]["parameters"][name]["runtimeValue"]["constantValue"]
    return next(iter(value.values()))


def test_the_example_gen_takes_the_newest_span_of_the_pattern(vertex_spec):
    example_gen = vertex_spec["root"]["dag"]["tasks"]["CsvExampleGen"]
    assert _parameter(example_gen, "input_base") == f"gs://{BUCKET}/data/taxi"
    assert json.loads(_parameter(example_gen, "input_config"))["splits"][0]["pattern"] == \
        "span-{SPAN}/*"
    assert "range_config" not in example_gen["inputs"]["parameters"]


def test_the_drift_gate_is_a_step_before_transform(vertex_spec):
    tasks = vertex_spec["root"]["dag"]["tasks"]
    assert "DriftGate" in tasks["Transform"]["dependentTasks"]
    assert set(tasks["DriftGate"]["dependentTasks"]) == {
        "CsvExampleGen", "StatisticsGen", "drift_resolver"}
    baseline = tasks["DriftGate"]["inputs"]["artifacts"]["baseline"]["taskOutputArtifact"]
    assert baseline == {"producerTask": "drift_resolver", "outputArtifactKey": "reports"}
    spec = json.loads(_parameter(tasks["DriftGate"], "drift_spec"))
    assert spec["split"] == "train" and spec["pipeline"] == "taxi-big-tipper"
    assert _parameter(tasks["DriftGate"], "accept_drift") in ("0", 0)
    container = vertex_spec["deploymentSpec"]["executors"]["DriftGate_executor"]["container"]
    args = container["args"]
    assert (args[args.index("--executor_class_path") + 1]
            == "mlpipe.components.drift_gate.executor.Executor")


def test_the_baseline_resolver_queries_the_reports_by_their_own_type(vertex_spec):
    """TFX's LatestArtifactStrategy compiles to a query by schema title only: the report's type
    is TFX's `Statistics`, not a custom one (every custom type is `tfx.Artifact` there)."""
    executor = vertex_spec["deploymentSpec"]["executors"]["drift_resolver_executor"]
    query = executor["resolver"]["outputArtifactQueries"]["reports"]["filter"]
    assert query == 'schema_title="tfx.Statistics" AND state=LIVE'
    outputs = vertex_spec["components"]["DriftGate"]["outputDefinitions"]["artifacts"]
    assert outputs["report"]["artifactType"]["instanceSchema"].startswith("title: tfx.Statistics\n")


def test_a_window_is_refused_in_process(cloud_config):
    from mlpipe.kubeflow.compile import cloud_runner_settings
    config = cloud_config(data_path=CLOUD_SPANS)
    config = config.model_copy(update={"data": config.data.model_copy(
        update={"path": "/d/span-{SPAN}/", "window": 3})})
    with pytest.raises(ConfigError, match="data.window 3: Kubeflow Pipelines"):
        cloud_runner_settings(config, config.cloud)


@pytest.mark.parametrize("target", ["kubeflow", "vertex"])
def test_compile_with_a_window_exits_2_naming_data_window(tmp_path, target):
    def edit(raw):
        _spans(raw)
        raw["data"]["window"] = 2
    config = write_config(tmp_path / "cloud.yaml", cloud=CLOUD, edit=edit)
    (tmp_path / "home").mkdir()
    result = run_mlpipe("compile", "--target", target, "--config", config,
                        "--output", tmp_path / "out", env=offline_env(tmp_path / "home"),
                        cwd=tmp_path, timeout=120)
    assert result.returncode == EXIT_BAD_INPUT, result.stderr[-2000:]
    assert "data.window 2" in result.stderr and "needs the local runner" in result.stderr
    assert not (tmp_path / "out").exists()
