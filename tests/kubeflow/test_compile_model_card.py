"""`mlpipe compile --target vertex`: the ModelCard is a step of the compiled job, after the
Pusher, run from the pipeline image with the config's model_card section; with a fairness section
it also reads the FairnessGate's checks.

Compiled by the real CLI offline (see test_compile.py: no credentials, no network)."""

import json

import pytest

from tests.support.cloud import CLOUD, IMAGE, compile_vertex_offline

FAIRNESS = {"features": ["payment_type"], "metrics": {"fpr": {"max_gap": 0.2}}}


@pytest.fixture(scope="module")
def vertex_spec(tmp_path_factory) -> dict:
    return compile_vertex_offline(tmp_path_factory.mktemp("model-card-compile"))


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
    tasks = compile_vertex_offline(tmp_path, edit)["root"]["dag"]["tasks"]
    card = tasks["ModelCard"]
    assert "FairnessGate" in card["dependentTasks"]
    assert _producer(card, "fairness") == {"producerTask": "FairnessGate",
                                           "outputArtifactKey": "fairness"}
