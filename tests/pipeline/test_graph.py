"""The graph `create_pipeline()` builds (fast: no run, no compile): the same nodes and edges for
local and cloud settings, differing only where the runner settings say."""

import mlpipe  # noqa: F401  (process environment before TensorFlow)
import pytest
from tfx import v1 as tfx

from mlpipe.config import PACKAGE_ROOT
from mlpipe.core.contract import SERVING_SIGNATURE
from mlpipe.pipeline import baseline
from mlpipe.pipeline.pipeline import create_pipeline
from mlpipe.pipeline.runner_settings import (RunnerSettings, StepResources, VertexPush,
                                             VertexTraining)

# The curated schema's text, as every runner's settings carry it.
SCHEMA_TEXT = (PACKAGE_ROOT / "schema" / "taxi" / "schema.pbtxt").read_bytes().decode()
CORE_NODES = {"CsvExampleGen", "StatisticsGen", "ImportSchemaGen", "ExampleValidator",
              "AnomalyGate", "Transform", "Trainer", "baseline_resolver", "Evaluator", "Pusher"}
LOCAL = RunnerSettings(pipeline_root="/runs/p/pipeline_root", serving_dir="/runs/p/serving",
                       schema_text=SCHEMA_TEXT, code_version="abc",
                       metadata_path="/runs/p/metadata.sqlite",
                       beam_args=["--direct_num_workers=1"])
CLOUD = RunnerSettings(
    pipeline_root="gs://b/mlpipe/p", serving_dir="gs://b/mlpipe/p/serving",
    schema_text=SCHEMA_TEXT, code_version="abc",
    data_path="gs://b/data/taxi/", beam_args=["--runner=DataflowRunner"],
    baseline="latest_blessed",
    vertex_training=VertexTraining(region="us-central1", job={"project": "p", "job_spec": {}}),
    vertex_push=VertexPush(region="us-central1", serving_image="serving.example/tf:1",
                           serving_args={"project_id": "p", "endpoint_name": "e"}))


def _graph(pipeline):
    """node id -> ids of the nodes it depends on."""
    return {node.id: {upstream.id for upstream in node.upstream_nodes}
            for node in pipeline.components}


def _nodes(pipeline):
    return {node.id: node for node in pipeline.components}


@pytest.fixture(scope="module")
def local(taxi_config):
    return create_pipeline(taxi_config, LOCAL)


@pytest.fixture(scope="module")
def cloud(taxi_config):
    return create_pipeline(taxi_config, CLOUD)


def test_local_graph_has_every_step_in_order(local):
    graph = _graph(local)
    assert CORE_NODES <= set(graph)
    assert graph["AnomalyGate"] >= {"ExampleValidator"}
    assert "AnomalyGate" in graph["Transform"], "nothing trains on data the gate did not pass"
    assert graph["Trainer"] >= {"Transform", "ImportSchemaGen"}
    assert graph["Evaluator"] >= {"Trainer", "baseline_resolver", "CsvExampleGen"}
    assert graph["Pusher"] == {"Trainer", "Evaluator"}


def test_cloud_graph_has_the_same_nodes_and_edges(local, cloud):
    """But one edge: the local baseline strategy also takes the candidate model, to exclude it
    (KFP v2 compiles only TFX's built-in strategy, which does not)."""
    local_graph, cloud_graph = _graph(local), _graph(cloud)
    assert local_graph["baseline_resolver"] == {"Trainer"}
    assert cloud_graph == {**local_graph, "baseline_resolver": set()}


def test_runner_settings_place_the_artifacts_and_data(local, cloud, taxi_config):
    assert local.pipeline_info.pipeline_root == LOCAL.pipeline_root
    assert cloud.pipeline_info.pipeline_root == CLOUD.pipeline_root
    assert local.metadata_connection_config is not None
    assert cloud.metadata_connection_config is None
    assert cloud.beam_pipeline_args == CLOUD.beam_args
    local_gen, cloud_gen = _nodes(local)["CsvExampleGen"], _nodes(cloud)["CsvExampleGen"]
    assert cloud_gen.exec_properties["input_base"] == "gs://b/data/taxi/"
    assert local_gen.exec_properties["input_base"] in taxi_config.data.path
    # The schema travels in the pipeline: the same text on every runner, no path to find.
    from mlpipe.components.embedded_schema import executor as schema_executor
    for pipeline in (local, cloud):
        schema_gen = _nodes(pipeline)["ImportSchemaGen"]
        assert schema_gen.executor_spec.executor_class is schema_executor.Executor
        assert schema_gen.exec_properties == {"schema_text": SCHEMA_TEXT}


def test_trainer_and_pusher_run_where_the_settings_say(local, cloud):
    from mlpipe.components.atomic_pusher import executor as atomic_pusher
    from tfx.components.trainer import executor as trainer_executor
    from tfx.extensions.google_cloud_ai_platform.pusher import executor as vertex_pusher
    from tfx.extensions.google_cloud_ai_platform.trainer import executor as vertex_trainer
    assert _nodes(local)["Trainer"].executor_spec.executor_class is trainer_executor.GenericExecutor
    assert _nodes(cloud)["Trainer"].executor_spec.executor_class is vertex_trainer.GenericExecutor
    assert _nodes(local)["Pusher"].executor_spec.executor_class is atomic_pusher.Executor
    assert _nodes(cloud)["Pusher"].executor_spec.executor_class is vertex_pusher.Executor


def test_cloud_trainer_and_pusher_carry_the_vertex_settings(cloud):
    from tfx.utils import json_utils
    vertex = tfx.extensions.google_cloud_ai_platform
    trainer = json_utils.loads(_nodes(cloud)["Trainer"].exec_properties["custom_config"])
    assert trainer[vertex.ENABLE_VERTEX_KEY] is True
    assert trainer[vertex.VERTEX_REGION_KEY] == "us-central1"
    assert trainer[vertex.TRAINING_ARGS_KEY] == CLOUD.vertex_training.job
    assert trainer["code_version"] == "abc" and "problem" in trainer
    pusher = json_utils.loads(_nodes(cloud)["Pusher"].exec_properties["custom_config"])
    assert pusher[vertex.SERVING_ARGS_KEY] == CLOUD.vertex_push.serving_args
    assert pusher[vertex.VERTEX_CONTAINER_IMAGE_URI_KEY] == "serving.example/tf:1"


def test_local_pusher_copies_to_the_serving_dir(local):
    import json
    destination = json.loads(_nodes(local)["Pusher"].exec_properties["push_destination"])
    assert destination == {"filesystem": {"base_directory": LOCAL.serving_dir}}


def test_baseline_strategy_follows_the_settings(local, cloud):
    from mlpipe.pipeline.baseline import LatestOtherBlessedModelStrategy
    local_resolver = _nodes(local)["baseline_resolver"]
    cloud_resolver = _nodes(cloud)["baseline_resolver"]
    assert local_resolver.exec_properties["resolver_class"] is LatestOtherBlessedModelStrategy
    assert (cloud_resolver.exec_properties["resolver_class"]
            is tfx.dsl.experimental.LatestBlessedModelStrategy)


def test_step_resources_go_on_the_trainer_only(taxi_config):
    import dataclasses
    settings = dataclasses.replace(LOCAL, trainer_resources=StepResources(
        cpu_limit=4, memory_limit=16, accelerator_type="NVIDIA_TESLA_T4", accelerator_count=1))
    nodes = _nodes(create_pipeline(taxi_config, settings))
    resources = nodes["Trainer"].platform_config
    assert resources.accelerator.type == "NVIDIA_TESLA_T4" and resources.accelerator.count == 1
    assert resources.cpu_limit == 4 and resources.memory_limit == 16
    assert all(getattr(node, "platform_config", None) is None
               for name, node in nodes.items() if name != "Trainer")


def test_evaluator_reads_the_shared_signature_names(local):
    eval_config = _nodes(local)["Evaluator"].exec_properties["eval_config"]
    assert SERVING_SIGNATURE in eval_config


@pytest.mark.parametrize("settings", [LOCAL, CLOUD], ids=["local", "cloud"])
def test_warm_start_gives_the_trainer_the_latest_blessed_model(taxi_config, settings):
    warm = taxi_config.model_copy(update={
        "train": taxi_config.train.model_copy(update={"warm_start": True})})
    nodes = _nodes(create_pipeline(warm, settings))
    resolver = nodes["warm_start_resolver"]
    # Locally the base is never a model trained on this run's data (an unchanged re-run stays
    # cached); KFP v2 / Vertex compile only TFX's built-in strategy.
    assert resolver.exec_properties["resolver_class"] is (
        baseline.WarmStartModelStrategy if settings is LOCAL
        else tfx.dsl.experimental.LatestBlessedModelStrategy)
    blessing = resolver.raw_inputs["model_blessing"]
    assert (blessing.producer_component_id, blessing.output_key) == ("Evaluator", "blessing")
    assert "warm_start_resolver" in _graph(create_pipeline(warm, settings))["Trainer"]
    assert nodes["Trainer"].inputs["base_model"] is resolver.outputs["model"]


def test_no_warm_start_no_base_model(local):
    assert "warm_start_resolver" not in _nodes(local)
    assert "base_model" not in _nodes(local)["Trainer"].inputs


def test_missing_value_tokens_go_to_every_csv_example_gen(taxi_config):
    """Local and cloud alike: the ExampleGen (and the scoring one) read the data where it is,
    with the tokens in their custom_config; without tokens there is none."""
    from mlpipe.components.csv_example_gen import executor as csv_executor
    assert csv_executor.missing_values_of(
        _nodes(create_pipeline(taxi_config, LOCAL))["CsvExampleGen"].exec_properties) == ()
    data = taxi_config.data.model_copy(update={"missing_values": ["NA", "?"],
                                               "score_path": taxi_config.data.path})
    config = taxi_config.model_copy(update={"data": data})
    for settings in (LOCAL, CLOUD):
        nodes = _nodes(create_pipeline(config, settings))
        for node_id in ("CsvExampleGen", "UnlabelledExampleGen"):
            # The exec property as the executor gets it (the CustomConfig's JSON).
            assert csv_executor.missing_values_of(nodes[node_id].exec_properties) == ("NA", "?")
        assert nodes["CsvExampleGen"].exec_properties["input_base"] == (
            "gs://b/data/taxi/" if settings is CLOUD
            else taxi_config.data.path.rsplit("/", 1)[0])
