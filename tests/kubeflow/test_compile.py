"""`mlpipe compile`: the one graph compiled for Kubeflow / Vertex, offline, checked with the real
KFP PipelineSpec / PipelineJob protos and loaded by the real Vertex AI SDK.

The CLI runs in a subprocess with a clean environment (`offline_env`): no Google credentials, a
fresh HOME, proxies pointing at a closed port and the GCE metadata server disabled, so any attempt
to reach the network or find credentials would fail the compile.
"""

import json

import pytest
import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

from mlpipe.config import load_config
from mlpipe.core.code_version import trainer_code_version
from mlpipe.core.schema_io import schema_text
from tests.support.cli import offline_env, run_mlpipe
from tests.support.cloud import (BUCKET, CLOUD, IMAGE, PROJECT, REGION, SERVING_IMAGE,
                                 write_cloud_config)

NAME = "taxi-big-tipper"
ROOT = f"gs://{BUCKET}/mlpipe/{NAME}"
# Dependencies as wired in mlpipe.pipeline.pipeline.create_pipeline (AnomalyGate -> Transform
# is an explicit upstream edge; Evaluator's baseline comes from TFX's LatestBlessedModelStrategy).
EXPECTED_DEPENDENCIES = {
    "CsvExampleGen": set(),
    "ImportSchemaGen": set(),
    "StatisticsGen": {"CsvExampleGen"},
    "ExampleValidator": {"StatisticsGen", "ImportSchemaGen"},
    "AnomalyGate": {"ExampleValidator", "ImportSchemaGen"},
    "Transform": {"CsvExampleGen", "ImportSchemaGen", "AnomalyGate"},
    "Trainer": {"Transform", "ImportSchemaGen"},
    "Evaluator": {"CsvExampleGen", "Trainer", "baseline_resolver-model-resolver"},
    "Pusher": {"Trainer", "Evaluator"},
    "FeatureAttributions": {"CsvExampleGen", "Trainer"},  # beside the Evaluator
    "ModelCard": {"Pusher", "Trainer", "Evaluator", "StatisticsGen", "ImportSchemaGen",
                  "FeatureAttributions"},
}
RESOLVERS = {"baseline_resolver-model-resolver", "baseline_resolver-model-blessing-resolver"}
EXECUTORS = {
    "CsvExampleGen": "mlpipe.components.csv_example_gen.executor.Executor",
    "StatisticsGen": "tfx.components.statistics_gen.executor.Executor",
    "ImportSchemaGen": "mlpipe.components.embedded_schema.executor.Executor",
    "ExampleValidator": "tfx.components.example_validator.executor.Executor",
    "AnomalyGate": "mlpipe.components.anomaly_gate.executor.Executor",
    "Transform": "tfx.components.transform.executor.Executor",
    "Trainer": "tfx.components.trainer.executor.GenericExecutor",
    "Evaluator": "tfx.components.evaluator.executor.Executor",
    "Pusher": "mlpipe.components.atomic_pusher.executor.Executor",
    "FeatureAttributions": "mlpipe.components.attributions.executor.Executor",
    "ModelCard": "mlpipe.components.model_card.executor.Executor",
}


@pytest.fixture(scope="module")
def cli_compiled(tmp_path_factory):
    """Both targets compiled by the real CLI in a clean, credential-less environment."""
    folder = tmp_path_factory.mktemp("cli-compile")
    config = write_cloud_config(folder)
    env = offline_env(folder / "home")
    (folder / "home").mkdir()
    outputs = {}
    for target, name in (("kubeflow", "pipeline.yaml"), ("vertex", "pipeline.json")):
        result = run_mlpipe("compile", "--target", target, "--config", config,
                            "--output", folder / name, env=env, cwd=folder, timeout=300)
        assert result.returncode == 0, result.stderr[-3000:]
        assert str(folder / name) in result.stdout
        outputs[target] = folder / name
        outputs[f"{target} stderr"] = result.stderr
    return outputs


@pytest.mark.parametrize("target", ["kubeflow", "vertex"])
def test_compile_prints_no_tensorflow_start_up_noise(cli_compiled, target):
    """TF 2.16 writes "Unable to register cuFFT/cuDNN/cuBLAS factory" from C++ while it is
    imported (mlpipe.process leaves them out); nothing else of TensorFlow's reaches stderr."""
    stderr = cli_compiled[f"{target} stderr"]
    assert "Unable to register" not in stderr, stderr
    assert "absl::InitializeLog" not in stderr and "tensorflow" not in stderr.lower(), stderr


def _tasks(spec: dict) -> dict:
    return spec["root"]["dag"]["tasks"]


def _executor_args(spec: dict, task: str) -> list:
    return spec["deploymentSpec"]["executors"][f"{task}_executor"]["container"]["args"]


def _executor_class(spec: dict, task: str) -> str:
    args = _executor_args(spec, task)
    return args[args.index("--executor_class_path") + 1]


def _parameter(spec: dict, task: str, name: str):
    value = _tasks(spec)[task]["inputs"]["parameters"][name]["runtimeValue"]["constantValue"]
    return next(iter(value.values()))


def _check_graph(spec: dict, image: str = IMAGE) -> None:
    tasks = _tasks(spec)
    assert set(tasks) == set(EXPECTED_DEPENDENCIES) | RESOLVERS
    for task, upstream in EXPECTED_DEPENDENCIES.items():
        assert set(tasks[task].get("dependentTasks", [])) == upstream, task
    executors = spec["deploymentSpec"]["executors"]
    for task in EXPECTED_DEPENDENCIES:
        container = executors[f"{task}_executor"]["container"]
        assert container["image"] == image, task
        assert container["command"] == [
            "python", "-m", "tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor"]
    # Resolvers run in the orchestrator (built-in strategy), not in a container.
    for task in RESOLVERS:
        assert "resolver" in executors[f"{task}_executor"]
    # The image is the only one: no step falls back to TFX's default image.
    images = {e["container"]["image"] for e in executors.values() if "container" in e}
    assert images == {image}


def test_cli_compiles_kubeflow_spec_offline(cli_compiled):
    raw = yaml.safe_load(cli_compiled["kubeflow"].read_text())
    spec = pipeline_spec_pb2.PipelineSpec()
    json_format.ParseDict(raw, spec)  # the real KFP IR schema; unknown fields would fail
    assert spec.pipeline_info.name == NAME
    assert spec.default_pipeline_root == ROOT
    assert spec.sdk_version.startswith("tfx-1.16")
    _check_graph(raw)
    for task in EXPECTED_DEPENDENCIES:
        assert spec.root.dag.tasks[task].caching_options.enable_cache, task


def test_cli_compiles_vertex_job_offline(cli_compiled):
    raw = json.loads(cli_compiled["vertex"].read_text())
    job = pipeline_spec_pb2.PipelineJob()
    json_format.ParseDict(raw, job)
    assert job.display_name == NAME
    assert job.runtime_config.gcs_output_directory == ROOT
    spec = pipeline_spec_pb2.PipelineSpec()
    json_format.ParseDict(raw["pipelineSpec"], spec)
    _check_graph(raw["pipelineSpec"])
    pipeline_spec = raw["pipelineSpec"]
    for task, executor in EXECUTORS.items():
        assert _executor_class(pipeline_spec, task) == executor
    # Module code by dotted path (no module_file wheel uploaded at compile time), in the image.
    assert _parameter(pipeline_spec, "Transform", "preprocessing_fn") == \
        "mlpipe.trainer.preprocessing.preprocessing_fn"
    assert _parameter(pipeline_spec, "Trainer", "run_fn") == "mlpipe.trainer.model.run_fn"
    for task in ("Transform", "Trainer"):
        assert "module_file" not in _tasks(pipeline_spec)[task]["inputs"]["parameters"]
        custom = json.loads(_parameter(pipeline_spec, task, "custom_config"))
        assert custom["code_version"] == trainer_code_version()
    # The curated schema travels in the pipeline, as its text; data and pushed models on GCS.
    assert _parameter(pipeline_spec, "ImportSchemaGen", "schema_text") == schema_text(
        load_config().schema_path)
    assert set(_tasks(pipeline_spec)["ImportSchemaGen"]["inputs"]["parameters"]) == {
        "schema_text"}
    assert _parameter(pipeline_spec, "CsvExampleGen", "input_base") == f"gs://{BUCKET}/data/taxi/"
    push = json.loads(_parameter(pipeline_spec, "Pusher", "push_destination"))
    assert push["filesystem"]["base_directory"] == f"{ROOT}/serving"
    # DirectRunner by default: the Beam arguments reach every Beam component.
    assert "--direct_running_mode=in_memory" in _executor_args(pipeline_spec, "Transform")


def test_vertex_sdk_loads_the_compiled_job(cli_compiled):
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import aiplatform
    job = aiplatform.PipelineJob(display_name=NAME, template_path=str(cli_compiled["vertex"]),
                                 pipeline_root=ROOT, enable_caching=True, project=PROJECT,
                                 location=REGION, credentials=AnonymousCredentials())
    assert job._gca_resource.pipeline_spec["pipelineInfo"]["name"] == NAME
    assert job._gca_resource.runtime_config.gcs_output_directory == ROOT


@pytest.fixture(scope="module")
def extended(cloud_config, tmp_path_factory):
    """In-process compile with Dataflow, a Vertex training job with GPUs and the Vertex Pusher."""
    from mlpipe.kubeflow.compile import compile_pipeline
    from mlpipe.config.cloud import resolve_cloud
    config = cloud_config(
        beam={"runner": "DataflowRunner", "machine_type": "n1-highmem-4", "max_num_workers": 8},
        training={"vertex_job": True, "machine_type": "n1-standard-16",
                  "accelerator_type": "NVIDIA_TESLA_T4", "accelerator_count": 2,
                  "replica_count": 3},
        deploy={"in_pipeline": True, "serving_image": SERVING_IMAGE, "endpoint": "taxi-endpoint",
                "machine_type": "n1-standard-4", "min_replicas": 1, "max_replicas": 4,
                "traffic_percentage": 50},
        enable_caching=False)
    cloud = resolve_cloud(config, "vertex")
    out = tmp_path_factory.mktemp("extended") / "job.json"
    compiled = compile_pipeline(config, cloud, "vertex", out)
    return json.loads(out.read_text())["pipelineSpec"], compiled


def test_vertex_training_job_worker_pools(extended):
    spec, _ = extended
    _check_graph(spec)
    assert _executor_class(spec, "Trainer") == \
        "tfx.extensions.google_cloud_ai_platform.trainer.executor.GenericExecutor"
    custom = json.loads(_parameter(spec, "Trainer", "custom_config"))
    assert custom["ai_platform_enable_vertex"] is True
    assert custom["ai_platform_vertex_region"] == REGION
    job = custom["ai_platform_training_args"]
    assert job["project"] == PROJECT
    pools = job["job_spec"]["worker_pool_specs"]
    assert [pool["replica_count"] for pool in pools] == [1, 2]  # chief + 2 workers
    for pool in pools:
        assert pool["machine_spec"] == {"machine_type": "n1-standard-16",
                                        "accelerator_type": "NVIDIA_TESLA_T4",
                                        "accelerator_count": 2}
        assert pool["container_spec"] == {"image_uri": IMAGE}
    assert job["job_spec"]["service_account"] == CLOUD["service_account"]
    assert "problem" in custom and "code_version" in custom  # the trainer's own config survives


def test_vertex_pusher_serving_args(extended):
    spec, _ = extended
    assert _executor_class(spec, "Pusher") == \
        "tfx.extensions.google_cloud_ai_platform.pusher.executor.Executor"
    custom = json.loads(_parameter(spec, "Pusher", "custom_config"))
    assert custom["ai_platform_enable_vertex"] is True
    assert custom["ai_platform_vertex_region"] == REGION
    assert custom["ai_platform_vertex_container_image_uri"] == SERVING_IMAGE
    assert custom["ai_platform_serving_args"] == {
        "project_id": PROJECT, "endpoint_name": "taxi-endpoint", "machine_type": "n1-standard-4",
        "min_replica_count": 1, "max_replica_count": 4, "traffic_percentage": 50,
        "labels": CLOUD["labels"]}


def test_dataflow_beam_args_and_caching_off(extended):
    spec, _ = extended
    for task in ("CsvExampleGen", "StatisticsGen", "Transform", "Evaluator"):
        args = _executor_args(spec, task)
        assert "--runner=DataflowRunner" in args
        assert f"--project={PROJECT}" in args and f"--region={REGION}" in args
        assert f"--temp_location={ROOT}/beam-tmp" in args
        assert f"--sdk_container_image={IMAGE}" in args
        assert "--machine_type=n1-highmem-4" in args and "--max_num_workers=8" in args
        assert f"--service_account_email={CLOUD['service_account']}" in args
    for task in EXPECTED_DEPENDENCIES:
        assert not _tasks(spec)[task].get("cachingOptions", {}).get("enableCache"), task


def test_gpu_on_the_trainer_step_for_kubeflow(cloud_config, tmp_path):
    from mlpipe.kubeflow.compile import compile_pipeline
    from mlpipe.config.cloud import resolve_cloud
    config = cloud_config(training={"accelerator_type": "nvidia.com/gpu", "accelerator_count": 1,
                                    "cpu_limit": 8, "memory_limit": 32})
    out = tmp_path / "gpu.yaml"
    compile_pipeline(config, resolve_cloud(config, "kubeflow"), "kubeflow", out)
    raw = yaml.safe_load(out.read_text())
    spec = pipeline_spec_pb2.PipelineSpec()
    json_format.ParseDict(raw, spec)
    trainer = spec.deployment_spec.fields["executors"].struct_value.fields["Trainer_executor"]
    resources = json_format.MessageToDict(trainer)["container"]["resources"]
    assert resources["accelerator"] == {"type": "nvidia.com/gpu", "count": "1"}
    assert resources["cpuLimit"] == 8 and resources["memoryLimit"] == 32
    # The plain Trainer runs in that step; no other step asks for an accelerator.
    assert _executor_class(raw, "Trainer") == EXECUTORS["Trainer"]
    others = [name for name, e in raw["deploymentSpec"]["executors"].items()
              if "resources" in e.get("container", {}) and name != "Trainer_executor"]
    assert others == []
