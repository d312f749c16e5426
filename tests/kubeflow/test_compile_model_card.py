"""`mlpipe compile --target vertex`: the ModelCard is a step of the compiled job, after the
Pusher, run from the pipeline image with the config's model_card section; with a fairness section
it also reads the FairnessGate's checks.

Compiled by the real CLI offline (see test_compile.py: no credentials, no network)."""

import json

import pytest
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

from tests.support.cli import offline_env, run_mlpipe
from tests.support.cloud import CLOUD, IMAGE
from tests.support.configs import write_config

FAIRNESS = {"features": ["payment_type"], "metrics": {"fpr": {"max_gap": 0.2}}}


def _compile(folder, edit=None) -> dict:
    (folder / "home").mkdir()
    config = write_config(folder / "cloud.yaml", cloud=CLOUD, edit=edit)
    result = run_mlpipe("compile", "--target", "vertex", "--config", config,
                        "--output", folder / "pipeline.json", env=offline_env(folder / "home"),
                        cwd=folder, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    raw = json.loads((folder / "pipeline.json").read_text())
    json_format.ParseDict(raw, pipeline_spec_pb2.PipelineJob())  # the real Vertex job schema
    return raw["pipelineSpec"]


@pytest.fixture(scope="module")
def vertex_spec(tmp_path_factory) -> dict:
    return _compile(tmp_path_factory.mktemp("model-card-compile"))


def _producer(task: dict, key: str) -> dict:
    return task["inputs"]["artifacts"][key]["taskOutputArtifact"]


def test_the_model_card_is_a_step_after_the_pusher(vertex_spec):
    tasks = vertex_spec["root"]["dag"]["tasks"]
    card = tasks["ModelCard"]
    assert set(card["dependentTasks"]) == {"Pusher", "Trainer", "Evaluator", "StatisticsGen",
                                           "ImportSchemaGen", "FeatureAttributions"}
    assert _producer(card, "pushed_model") == {"producerTask": "Pusher",
                                               "outputArtifactKey": "pushed_model"}
    assert _producer(card, "evaluation")["producerTask"] == "Evaluator"
    assert _producer(card, "blessing") == {"producerTask": "Evaluator",
                                           "outputArtifactKey": "blessing"}
    assert _producer(card, "attributions")["producerTask"] == "FeatureAttributions"
    assert "fairness" not in card["inputs"]["artifacts"]  # no FairnessGate in this graph


def test_the_model_card_runs_from_the_pipeline_image_with_the_section(vertex_spec):
    container = vertex_spec["deploymentSpec"]["executors"]["ModelCard_executor"]["container"]
    assert container["image"] == IMAGE
    args = container["args"]
    assert (args[args.index("--executor_class_path") + 1]
            == "mlpipe.components.model_card.executor.Executor")
    parameters = vertex_spec["root"]["dag"]["tasks"]["ModelCard"]["inputs"]["parameters"]

    def value(name):
        return json.loads(next(iter(parameters[name]["runtimeValue"]["constantValue"].values())))
    assert value("card_config")["owners"][0]["name"] == "ML platform team"
    problem = value("problem")
    assert problem["name"] == "taxi-big-tipper"
    assert problem["data_path"] == CLOUD["data_path"]  # the data the cloud run trains on
    outputs = vertex_spec["components"]["ModelCard"]["outputDefinitions"]["artifacts"]
    # A custom type compiles to an instance schema titled with its type name.
    assert outputs["model_card"]["artifactType"]["instanceSchema"].startswith(
        "title: mlpipe.ModelCard\n")


def test_with_a_fairness_section_the_card_reads_the_gates_checks(tmp_path):
    def edit(raw):
        raw["evaluation"]["fairness"] = FAIRNESS
    tasks = _compile(tmp_path, edit)["root"]["dag"]["tasks"]
    card = tasks["ModelCard"]
    assert "FairnessGate" in card["dependentTasks"]
    assert _producer(card, "fairness") == {"producerTask": "FairnessGate",
                                           "outputArtifactKey": "fairness"}
