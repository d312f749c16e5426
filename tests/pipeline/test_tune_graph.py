"""With a `tune:` section, TFX's Tuner sits between Transform and the Trainer, which reads its
best hyperparameters; on Vertex training it is TFX's Vertex Tuner on the Trainer's chief machine.
Without one, the graph is unchanged (fast: no run, no compile)."""

import dataclasses
import json

import mlpipe  # noqa: F401  (process environment before TensorFlow)
import pytest
from tfx import v1 as tfx

from mlpipe.pipeline.pipeline import TUNER_FN, create_pipeline
from mlpipe.pipeline.runner_settings import StepResources, VertexTraining
from tests.pipeline.test_graph import CLOUD, LOCAL, _graph, _nodes

TUNE = {"hidden_units": [[64, 32], [32]], "learning_rate": {"min": 0.001, "max": 0.1},
        "epochs": [4, 8], "max_trials": 4}
POOL = {"machine_spec": {"machine_type": "n1-standard-8"}, "replica_count": 1}


@pytest.fixture(scope="module")
def tuned_config(taxi_config):
    return taxi_config.model_validate({**taxi_config.model_dump(by_alias=True), "tune": TUNE})


def _custom_config(node) -> dict:
    return json.loads(node.exec_properties["custom_config"])


def test_tuner_between_transform_and_trainer(tuned_config):
    pipeline = create_pipeline(tuned_config, LOCAL)
    graph, nodes = _graph(pipeline), _nodes(pipeline)
    assert graph["Tuner"] == {"Transform", "ImportSchemaGen"}
    assert graph["Trainer"] == {"Transform", "ImportSchemaGen", "Tuner"}
    tuner, trainer = nodes["Tuner"], nodes["Trainer"]
    assert trainer.inputs["hyperparameters"].producer_component_id == "Tuner"
    assert trainer.inputs["hyperparameters"].output_key == "best_hyperparameters"
    assert tuner.exec_properties["tuner_fn"] == TUNER_FN == "mlpipe.trainer.tuning.tuner_fn"
    assert set(tuner.inputs) == {"examples", "transform_graph", "schema"}
    # The Tuner reads the same splits and problem as the Trainer, plus the tune: section; the
    # code version is in both, so a change to the tuning code re-runs it.
    trainer_config = _custom_config(trainer)
    assert _custom_config(tuner) == {**trainer_config, "tune": tuned_config.tune.model_dump()}
    assert trainer_config["code_version"] == LOCAL.code_version
    for key in ("train_args", "eval_args"):
        assert tuner.exec_properties[key] == trainer.exec_properties[key]
    order = [node.id for node in pipeline.components]
    assert order.index("Transform") < order.index("Tuner") < order.index("Trainer")


def test_without_a_section_there_is_no_tuner(taxi_config):
    pipeline = create_pipeline(taxi_config, LOCAL)
    assert "Tuner" not in _graph(pipeline)
    assert "hyperparameters" not in _nodes(pipeline)["Trainer"].inputs


def test_tuner_gets_the_trainer_s_step_resources(tuned_config):
    resources = StepResources(cpu_limit=4.0, accelerator_type="NVIDIA_TESLA_T4",
                              accelerator_count=1)
    nodes = _nodes(create_pipeline(tuned_config,
                                   dataclasses.replace(LOCAL, trainer_resources=resources)))
    assert nodes["Tuner"].platform_config == nodes["Trainer"].platform_config
    assert nodes["Tuner"].platform_config.accelerator.count == 1


def test_vertex_training_tunes_in_a_custom_job_on_the_chief_machine(tuned_config):
    vertex = tfx.extensions.google_cloud_ai_platform
    job = {"project": "p", "labels": {"team": "ml"},
           "job_spec": {"worker_pool_specs": [POOL, {**POOL, "replica_count": 3}]}}
    settings = dataclasses.replace(CLOUD, vertex_training=VertexTraining(region="europe-west4",
                                                                         job=job))
    pipeline = create_pipeline(tuned_config, settings)
    nodes = _nodes(pipeline)
    assert type(nodes["Tuner"]) is vertex.Tuner
    config = _custom_config(nodes["Tuner"])
    assert config[vertex.ENABLE_VERTEX_KEY] is True
    assert config[vertex.VERTEX_REGION_KEY] == "europe-west4"
    assert config[vertex.experimental.TUNING_ARGS_KEY] == {
        "project": "p", "labels": {"team": "ml"}, "job_spec": {"worker_pool_specs": [POOL]}}
    assert config["tune"] == tuned_config.tune.model_dump()
    # The local and cloud graphs differ only in the baseline resolver's candidate edge.
    assert _graph(pipeline) == {**_graph(create_pipeline(tuned_config, LOCAL)),
                                "baseline_resolver": set()}
