"""`mlpipe compile --target vertex` with a `tune:` section: the Tuner is a step between Transform
and the Trainer, which reads its best hyperparameters. With `training.vertex_job`, it is TFX's
Vertex Tuner, which runs the search as a CustomJob on the Trainer's chief machine.

Compiled by the real CLI offline (see test_compile.py: no credentials, no network)."""

import json

import pytest

from tests.support.cloud import IMAGE, compile_vertex_offline

TUNE = {"hidden_units": [[64, 32], [128, 64]], "learning_rate": [0.003, 0.01], "max_trials": 4}
TRAINING = {"vertex_job": True, "machine_type": "n1-highmem-8", "replica_count": 3}


@pytest.fixture(scope="module")
def vertex_spec(tmp_path_factory) -> dict:
    def edit(raw):
        raw["tune"] = TUNE
        raw["cloud"]["training"] = TRAINING
    return compile_vertex_offline(tmp_path_factory.mktemp("tune-compile"), edit)


def _parameter(spec: dict, task: str, name: str):
    value = spec["root"]["dag"]["tasks"][task]["inputs"]["parameters"][name]["runtimeValue"][
        "constantValue"]
    return next(iter(value.values()))


def test_the_tuner_is_a_step_before_the_trainer(vertex_spec):
    tasks = vertex_spec["root"]["dag"]["tasks"]
    assert set(tasks["Tuner"]["dependentTasks"]) == {"Transform", "ImportSchemaGen"}
    assert set(tasks["Trainer"]["dependentTasks"]) == {"Transform", "ImportSchemaGen", "Tuner"}
    assert tasks["Trainer"]["inputs"]["artifacts"]["hyperparameters"]["taskOutputArtifact"] == {
        "producerTask": "Tuner", "outputArtifactKey": "best_hyperparameters"}
    assert _parameter(vertex_spec, "Tuner", "tuner_fn") == "mlpipe.trainer.tuning.tuner_fn"


def test_the_vertex_tuner_runs_one_custom_job_on_the_chief_machine(vertex_spec):
    container = vertex_spec["deploymentSpec"]["executors"]["Tuner_executor"]["container"]
    assert container["image"] == IMAGE
    args = container["args"]
    assert (args[args.index("--executor_class_path") + 1]
            == "tfx.extensions.google_cloud_ai_platform.tuner.executor.Executor")
    config = json.loads(_parameter(vertex_spec, "Tuner", "custom_config"))
    assert config["ai_platform_enable_vertex"] is True
    assert config["tune"]["max_trials"] == 4
    pools = config["ai_platform_tuning_args"]["job_spec"]["worker_pool_specs"]
    assert len(pools) == 1 and pools[0]["replica_count"] == 1
    assert pools[0]["machine_spec"]["machine_type"] == "n1-highmem-8"
    trainer = json.loads(_parameter(vertex_spec, "Trainer", "custom_config"))
    assert len(trainer["ai_platform_training_args"]["job_spec"]["worker_pool_specs"]) == 2
    assert config["code_version"] == trainer["code_version"]
