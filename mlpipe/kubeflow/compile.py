"""Compiles `create_pipeline()` for Kubeflow Pipelines or Vertex AI Pipelines, offline.

The graph is the one every runner uses; only `RunnerSettings` differ (gs:// pipeline root, the
schema as a path inside the pipeline image, Beam arguments, no local metadata store, TFX's
built-in `latest_blessed` baseline strategy), plus two optional cloud extensions applied to the
built graph: where the Trainer runs (GPU step or Vertex AI CustomJob) and a Vertex Pusher.

Module code is referenced by dotted path and the image holds the package, so compiling writes
nothing to GCS and needs no credentials or network (`module_file=` would upload a wheel).

Outputs:
- `--target vertex`: the PipelineJob JSON TFX's KubeflowV2DagRunner writes (what
  `aiplatform.PipelineJob(template_path=...)` takes);
- `--target kubeflow`: its PipelineSpec as YAML, with `defaultPipelineRoot` set (what the KFP
  API server takes on upload).
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
from typing import Any, Dict, List, Optional

import yaml

from mlpipe.kubeflow.settings import CloudConfig, image_schema_file
from mlpipe.pipeline.settings import RunnerSettings

TRAINER_ID = "Trainer"
PUSHER_ID = "Pusher"


@dataclasses.dataclass(frozen=True)
class CompiledPipeline:
    path: pathlib.Path
    target: str
    pipeline_name: str
    pipeline_root: str
    job: Dict[str, Any]  # the PipelineJob as TFX built it (pipelineSpec + runtimeConfig)

    @property
    def spec(self) -> Dict[str, Any]:
        return self.job["pipelineSpec"]


def default_output(config, target: str) -> pathlib.Path:
    suffix = "yaml" if target == "kubeflow" else "json"
    return pathlib.Path(f"{config.name}-{target}.{suffix}")


def cloud_data_path(config, cloud: CloudConfig) -> str:
    return cloud.data_path or config.data.path


def cloud_runner_settings(config, cloud: CloudConfig) -> RunnerSettings:
    from mlpipe.pipeline.local_runner import trainer_code_version
    root = cloud.root_for(config.name)
    return RunnerSettings(
        pipeline_root=root,
        serving_dir=cloud.serving_dir_for(config.name),
        schema_file=image_schema_file(config, cloud),
        code_version=trainer_code_version(),
        metadata_path=None,  # the orchestrator's own ML Metadata store
        beam_args=beam_args(config, cloud),
        enable_cache=cloud.enable_caching,
        # KFP v2 / Vertex compile only TFX's built-in resolver strategies.
        baseline="latest_blessed",
    )


def beam_args(config, cloud: CloudConfig) -> List[str]:
    beam = cloud.beam
    if beam.runner == "DataflowRunner":
        args = ["--runner=DataflowRunner", f"--project={cloud.project}",
                f"--region={cloud.region}",
                f"--temp_location={beam.temp_location or cloud.root_for(config.name) + '/beam-tmp'}",
                f"--max_num_workers={beam.max_num_workers}"]
        if beam.machine_type:
            args.append(f"--machine_type={beam.machine_type}")
        if cloud.service_account:
            args.append(f"--service_account_email={cloud.service_account}")
        if beam.use_pipeline_image:
            # Workers run the pipeline image: same TFX/TFT/mlpipe as the launcher, nothing staged.
            args += [f"--sdk_container_image={cloud.image}", "--sdk_location=container",
                     "--experiments=use_runner_v2"]
    else:
        args = [f"--direct_running_mode={config.beam.direct_running_mode}",
                f"--direct_num_workers={config.beam.direct_num_workers}",
                # As in the local runner: a dependency flag stops TFX from building an sdist of
                # itself for remote workers that the DirectRunner does not have.
                "--sdk_container_image=none-direct-runner"]
    return [*args, *beam.extra_args]


def build_cloud_pipeline(config, cloud: CloudConfig, target: str):
    """`create_pipeline()` with cloud settings, plus the configured Trainer / Pusher extensions."""
    from mlpipe.pipeline.pipeline import create_pipeline
    cloud_config = config.model_copy(update={
        "data": config.data.model_copy(update={"path": cloud_data_path(config, cloud)})})
    pipeline = create_pipeline(cloud_config, cloud_runner_settings(config, cloud))
    nodes = {node.id: node for node in pipeline.components}
    if cloud.training is not None:
        _configure_trainer(nodes[TRAINER_ID], cloud)
    if cloud.deploy is not None and cloud.deploy.in_pipeline:
        _configure_vertex_pusher(nodes[PUSHER_ID], config, cloud)
    return pipeline


def compile_pipeline(config, cloud: CloudConfig, target: str,
                     output: Optional[pathlib.Path] = None) -> CompiledPipeline:
    from tfx.orchestration.kubeflow.v2 import kubeflow_v2_dag_runner as v2
    output = pathlib.Path(output) if output else default_output(config, target)
    pipeline = build_cloud_pipeline(config, cloud, target)
    runner = v2.KubeflowV2DagRunner(
        config=v2.KubeflowV2DagRunnerConfig(display_name=config.name, default_image=cloud.image),
        output_dir=str(output.parent.resolve()), output_filename=output.name)
    job = runner.run(pipeline, write_out=False)
    output.parent.mkdir(parents=True, exist_ok=True)
    root = cloud.root_for(config.name)
    if target == "kubeflow":
        spec = dict(job["pipelineSpec"], defaultPipelineRoot=root)
        text = yaml.safe_dump(spec, sort_keys=True)
    else:
        text = json.dumps(job, sort_keys=True, indent=1)
    partial = output.with_name(output.name + ".partial")
    partial.write_text(text)
    partial.replace(output)
    return CompiledPipeline(path=output, target=target, pipeline_name=config.name,
                            pipeline_root=root, job=job)


def _configure_trainer(trainer, cloud: CloudConfig) -> None:
    training = cloud.training
    if training.vertex_job:
        from tfx.extensions.google_cloud_ai_platform import constants
        from tfx.extensions.google_cloud_ai_platform.trainer import component as vertex_trainer
        from tfx.extensions.google_cloud_ai_platform.trainer import executor as vertex_executor
        trainer.executor_spec = vertex_trainer.Trainer.EXECUTOR_SPEC.copy()
        _update_custom_config(trainer, {
            constants.ENABLE_VERTEX_KEY: True,
            constants.VERTEX_REGION_KEY: cloud.region,
            vertex_executor.TRAINING_ARGS_KEY: vertex_training_job(cloud),
        })
        return
    from kfp.pipeline_spec import pipeline_spec_pb2
    resources = pipeline_spec_pb2.PipelineDeploymentConfig.PipelineContainerSpec.ResourceSpec()
    if training.cpu_limit:
        resources.cpu_limit = training.cpu_limit
    if training.memory_limit:
        resources.memory_limit = training.memory_limit
    if training.accelerator_type:
        resources.accelerator.type = training.accelerator_type
        resources.accelerator.count = training.accelerator_count
    if resources.ByteSize():
        trainer.with_platform_config(resources)


def vertex_training_job(cloud: CloudConfig) -> Dict[str, Any]:
    """The CustomJob TFX's Vertex Trainer launches: chief pool, then `replica_count - 1` workers."""
    training = cloud.training
    machine_spec: Dict[str, Any] = {"machine_type": training.machine_type}
    if training.accelerator_type:
        machine_spec.update(accelerator_type=training.accelerator_type,
                            accelerator_count=training.accelerator_count)
    pool = {"machine_spec": machine_spec, "container_spec": {"image_uri": cloud.image}}
    pools = [{**pool, "replica_count": 1}]
    if training.replica_count > 1:
        pools.append({**pool, "replica_count": training.replica_count - 1})
    job_spec: Dict[str, Any] = {"worker_pool_specs": pools}
    if cloud.service_account:
        job_spec["service_account"] = cloud.service_account
    if cloud.network:
        job_spec["network"] = cloud.network
    return {"project": cloud.project, "job_spec": job_spec, "labels": dict(cloud.labels)}


def vertex_serving_args(config, cloud: CloudConfig) -> Dict[str, Any]:
    deploy = cloud.deploy
    args: Dict[str, Any] = {
        "project_id": cloud.project,
        "endpoint_name": deploy.endpoint or config.name,
        "machine_type": deploy.machine_type,
        "min_replica_count": deploy.min_replicas,
        "max_replica_count": deploy.max_replicas,
        "traffic_percentage": deploy.traffic_percentage,
    }
    if deploy.accelerator_type:
        args.update(accelerator_type=deploy.accelerator_type,
                    accelerator_count=deploy.accelerator_count)
    if cloud.labels:
        args["labels"] = dict(cloud.labels)
    return args


def _configure_vertex_pusher(pusher, config, cloud: CloudConfig) -> None:
    from tfx.extensions.google_cloud_ai_platform import constants
    from tfx.extensions.google_cloud_ai_platform.pusher import component as vertex_pusher
    pusher.executor_spec = vertex_pusher.Pusher.EXECUTOR_SPEC.copy()
    _update_custom_config(pusher, {
        constants.ENABLE_VERTEX_KEY: True,
        constants.VERTEX_REGION_KEY: cloud.region,
        constants.VERTEX_CONTAINER_IMAGE_URI_KEY: cloud.deploy.serving_image,
        constants.SERVING_ARGS_KEY: vertex_serving_args(config, cloud),
    })


def _update_custom_config(component, changes: Dict[str, Any]) -> None:
    from tfx.utils import json_utils
    current = json_utils.loads(component.exec_properties.get("custom_config") or "null") or {}
    component.exec_properties["custom_config"] = json_utils.dumps({**current, **changes})
