"""Compiles `create_pipeline()` for Kubeflow Pipelines or Vertex AI Pipelines, offline.

The graph is the one every runner uses; only `RunnerSettings` differ (gs:// pipeline root and
data, Beam arguments, no local metadata store, TFX's built-in `latest_blessed` baseline
strategy, and where the Trainer and Pusher run: a step with GPUs, a Vertex AI CustomJob, a
Vertex AI endpoint). This module turns the `cloud:` section
into those settings; `create_pipeline()` builds the graph from them.

With data by span each run ingests the newest span its ExampleGen finds; the DriftGate's
baseline comes from TFX's LatestArtifactStrategy, and a span window (`data.window` > 1) is
refused (only mlpipe's own resolver, run locally, selects several spans).

Module code is referenced by dotted path and the image holds the package, so compiling writes
nothing to GCS and needs no credentials or network (`module_file=` would upload a wheel). What is
the problem's own travels in the compiled pipeline: the curated schema's text (the
ImportSchemaGen step writes it, mlpipe.components.embedded_schema), the config's sections in the
components' parameters and custom_config (missing-value tokens included), so a problem made by
`mlpipe init` anywhere compiles without being added to the image.

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

from mlpipe.config import ProblemConfig
from mlpipe.config.cloud import CloudConfig, TrainingConfig, check_window
from mlpipe.core.code_version import trainer_code_version
from mlpipe.core.schema_io import schema_text
from mlpipe.pipeline.pipeline import create_pipeline
from mlpipe.pipeline.runner_settings import (RunnerSettings, StepResources, VertexPush,
                                             VertexTraining, direct_runner_args)


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


def default_output(config: ProblemConfig, target: str) -> pathlib.Path:
    suffix = "yaml" if target == "kubeflow" else "json"
    return pathlib.Path(f"{config.name}-{target}.{suffix}")


def cloud_runner_settings(config: ProblemConfig, cloud: CloudConfig,
                          accept_drift: bool = False) -> RunnerSettings:
    """`accept_drift`: the compiled DriftGate lets a crossing through (for the one run that
    `mlpipe submit --accept-drift` starts from it)."""
    check_window(config)  # resolve_cloud checks it too; a caller may build the cloud section
    training = cloud.training
    on_vertex = bool(training and training.vertex_job)
    return RunnerSettings(
        pipeline_root=cloud.root_for(config.name),
        serving_dir=cloud.serving_dir_for(config.name),
        schema_text=schema_text(config.schema_path),
        code_version=trainer_code_version(),
        data_path=cloud.data_path or config.data.path,
        metadata_path=None,  # the orchestrator's own ML Metadata store
        beam_args=beam_args(config, cloud),
        enable_cache=cloud.enable_caching,
        # KFP v2 / Vertex compile only TFX's built-in resolver strategies.
        baseline="latest_blessed",
        drift_baseline="latest",
        span=None,  # data by span: each run ingests the newest span it finds
        accept_drift=accept_drift,
        trainer_resources=_step_resources(training) if training and not on_vertex else None,
        vertex_training=(VertexTraining(region=cloud.region, job=vertex_training_job(cloud))
                         if on_vertex else None),
        vertex_push=(VertexPush(region=cloud.region, serving_image=cloud.deploy.serving_image,
                                serving_args=vertex_serving_args(config, cloud))
                     if cloud.deploy and cloud.deploy.in_pipeline else None),
    )


def _step_resources(training: TrainingConfig) -> Optional[StepResources]:
    """GPUs, CPUs and memory of the Trainer's own step; None when the config asks for none."""
    resources = StepResources(cpu_limit=training.cpu_limit, memory_limit=training.memory_limit,
                              accelerator_type=training.accelerator_type,
                              accelerator_count=training.accelerator_count)
    return None if resources == StepResources() else resources


def beam_args(config: ProblemConfig, cloud: CloudConfig) -> List[str]:
    beam = cloud.beam
    if beam.runner == "DataflowRunner":
        args = ["--runner=DataflowRunner", f"--project={cloud.project}",
                f"--region={cloud.region}",
                "--temp_location="
                f"{beam.temp_location or cloud.root_for(config.name) + '/beam-tmp'}",
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
        args = direct_runner_args(config.beam)
    return [*args, *beam.extra_args]


def compile_pipeline(config: ProblemConfig, cloud: CloudConfig, target: str,
                     output: Optional[pathlib.Path] = None,
                     accept_drift: bool = False) -> CompiledPipeline:
    from tfx.orchestration.kubeflow.v2 import kubeflow_v2_dag_runner as v2
    output = pathlib.Path(output) if output else default_output(config, target)
    pipeline = create_pipeline(config, cloud_runner_settings(config, cloud, accept_drift))
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


def vertex_serving_args(config: ProblemConfig, cloud: CloudConfig) -> Dict[str, Any]:
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
