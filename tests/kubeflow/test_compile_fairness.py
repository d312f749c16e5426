"""`mlpipe compile --target vertex` with an `evaluation.fairness` section: the FairnessGate is a
step of the compiled job, between the Evaluator and the Pusher, run from the pipeline image.

Compiled by the real CLI offline (see test_compile.py: no credentials, no network)."""

import json

import pytest

from tests.support.cloud import IMAGE, compile_vertex_offline

FAIRNESS = {"features": ["payment_type"], "metrics": {"fpr": {"max": 0.3, "max_gap": 0.1}},
            "min_slice_size": 60}


@pytest.fixture(scope="module")
def vertex_spec(tmp_path_factory) -> dict:
    def edit(raw):
        raw["evaluation"]["fairness"] = FAIRNESS
    return compile_vertex_offline(tmp_path_factory.mktemp("fairness-compile"), edit)


def test_the_gate_is_a_step_between_evaluator_and_pusher(vertex_spec):
    tasks = vertex_spec["root"]["dag"]["tasks"]
    assert set(tasks["FairnessGate"]["dependentTasks"]) == {"Evaluator"}
    assert set(tasks["Pusher"]["dependentTasks"]) == {"Trainer", "FairnessGate"}
    # The Pusher's blessing is the gate's output, not the Evaluator's.
    blessing = tasks["Pusher"]["inputs"]["artifacts"]["model_blessing"]["taskOutputArtifact"]
    assert blessing == {"producerTask": "FairnessGate", "outputArtifactKey": "blessing"}
    gate_inputs = tasks["FairnessGate"]["inputs"]["artifacts"]
    assert gate_inputs["evaluation"]["taskOutputArtifact"]["producerTask"] == "Evaluator"
    assert gate_inputs["model_blessing"]["taskOutputArtifact"] == {
        "producerTask": "Evaluator", "outputArtifactKey": "blessing"}


def test_the_gate_runs_from_the_pipeline_image_with_the_section(vertex_spec):
    container = vertex_spec["deploymentSpec"]["executors"]["FairnessGate_executor"]["container"]
    assert container["image"] == IMAGE
    args = container["args"]
    assert (args[args.index("--executor_class_path") + 1]
            == "mlpipe.components.fairness_gate.executor.Executor")
    parameter = vertex_spec["root"]["dag"]["tasks"]["FairnessGate"]["inputs"]["parameters"][
        "fairness_spec"]["runtimeValue"]["constantValue"]
    assert json.loads(next(iter(parameter.values()))) == {
        "features": ["payment_type"], "min_slice_size": 60,
        "metrics": {"fpr": {"max": 0.3, "max_gap": 0.1}}}
    outputs = vertex_spec["components"]["FairnessGate"]["outputDefinitions"]["artifacts"]
    assert outputs["blessing"]["artifactType"]["instanceSchema"].startswith(
        "title: tfx.ModelBlessing\n")
    assert outputs["fairness"]["artifactType"]["instanceSchema"].startswith(
        "title: mlpipe.FairnessChecks\n")


def test_the_evaluator_computes_the_rate_metric_on_the_sensitive_slices(vertex_spec):
    parameter = vertex_spec["root"]["dag"]["tasks"]["Evaluator"]["inputs"]["parameters"][
        "eval_config"]["runtimeValue"]["constantValue"]
    eval_config = json.loads(next(iter(parameter.values())))
    classes = {metric["class_name"] for spec in eval_config["metrics_specs"]
               for metric in spec["metrics"]}
    assert "FPR" in classes
    assert {"feature_keys": ["payment_type"]} in eval_config["slicing_specs"]
