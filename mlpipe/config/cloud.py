"""The `cloud:` section of a problem config: where and how the pipeline runs on Kubeflow /
Vertex AI.

Every field is optional in the file, because command-line flags may supply or override it
(`--project`, `--image`, ...). `resolve_cloud()` merges the flags into the section, re-validates
it, and checks that what the chosen target needs is there, before anything is compiled or sent.
Every problem is a `ConfigError` naming the field, so the CLI exits 2 with a one-line reason.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Dict, List, Literal, Mapping, Optional

from pydantic import Field, ValidationError, field_validator, model_validator

from mlpipe.config.base import ConfigError, Strict, describe
from mlpipe.config.span_pattern import span_kind

if TYPE_CHECKING:  # problem.py imports this module: the type only, for annotations
    from mlpipe.config.problem import ProblemConfig


Target = Literal["kubeflow", "vertex"]
TARGETS = ("kubeflow", "vertex")
GCS_PREFIX = "gs://"
# GCP label keys/values: lowercase letters, digits, '_' and '-', at most 63 characters.
_LABEL = re.compile(r"^[a-z0-9_-]{0,63}$")
_REGION = re.compile(r"^[a-z]+-[a-z]+[0-9]+$")
_BUCKET = re.compile(r"[a-z0-9][a-z0-9._-]{1,221}[a-z0-9]")
_HTTP_URL = re.compile(r"https?://.*", re.DOTALL)


def _gcs(value: Optional[str]) -> Optional[str]:
    if value is not None and not (value.startswith(GCS_PREFIX) and len(value) > len(GCS_PREFIX)):
        raise ValueError(f"must be a gs:// URI, got {value!r}")
    return value


def _matching(value: Optional[str], pattern: "re.Pattern", expected: str) -> Optional[str]:
    if value is not None and not pattern.fullmatch(value):
        raise ValueError(f"must be {expected}, got {value!r}")
    return value


class CloudBeamConfig(Strict):
    """How TFX's Beam components (ExampleGen, StatisticsGen, Transform, Evaluator) run."""

    runner: Literal["DataflowRunner", "DirectRunner"] = "DirectRunner"
    temp_location: Optional[str] = Field(
        None, description="gs:// folder for Dataflow staging/temp "
                          "(default <pipeline_root>/beam-tmp).")
    machine_type: Optional[str] = Field(None, description="Dataflow worker machine type.")
    max_num_workers: int = Field(4, ge=1)
    # Dataflow workers run the pipeline image (it has TFX, TF Transform and mlpipe, and Beam's
    # worker boot at /opt/apache/beam/boot), so nothing is staged or pip-installed at run time.
    use_pipeline_image: bool = True
    extra_args: List[str] = Field(default_factory=list)

    @field_validator("temp_location")
    @classmethod
    def _temp_is_gcs(cls, value: Optional[str]) -> Optional[str]:
        return _gcs(value)


class TrainingConfig(Strict):
    """Where the Trainer runs.

    `vertex_job: false` (default): in the Trainer's own pipeline step; an accelerator is attached
    to that step's container (KFP: e.g. `nvidia.com/gpu`; Vertex Pipelines: e.g. `NVIDIA_TESLA_T4`).
    `vertex_job: true`: as a Vertex AI CustomJob (TFX's google_cloud_ai_platform Trainer), with
    one chief worker pool and, when `replica_count > 1`, a second pool of `replica_count - 1`
    workers; TF_CONFIG then names every worker and the trainer uses MultiWorkerMirroredStrategy.
    """

    vertex_job: bool = False
    machine_type: str = "n1-standard-8"
    accelerator_type: Optional[str] = None
    accelerator_count: int = Field(0, ge=0)
    replica_count: int = Field(1, ge=1)
    cpu_limit: Optional[float] = Field(None, gt=0, description="vCPUs of the Trainer step.")
    memory_limit: Optional[float] = Field(None, gt=0,
                                          description="GB of memory of the Trainer step.")

    @model_validator(mode="after")
    def _consistent(self) -> "TrainingConfig":
        if (self.accelerator_type is None) != (self.accelerator_count == 0):
            raise ValueError("give accelerator_type and accelerator_count > 0 together")
        if self.replica_count > 1 and not self.vertex_job:
            raise ValueError("replica_count > 1 needs vertex_job: true (a pipeline step is "
                             "one container)")
        return self


class DeployConfig(Strict):
    """A Vertex AI endpoint serving the model (`mlpipe deploy`, or the Pusher when in_pipeline)."""

    endpoint: Optional[str] = Field(None, description="Endpoint display name (default: the "
                                                      "pipeline name); reused when it exists.")
    model_display_name: Optional[str] = None
    serving_image: Optional[str] = Field(
        None, description="A prebuilt TensorFlow prediction container image URI.")
    machine_type: str = "n1-standard-4"
    accelerator_type: Optional[str] = None
    accelerator_count: int = Field(0, ge=0)
    min_replicas: int = Field(1, ge=1)
    max_replicas: int = Field(1, ge=1)
    traffic_percentage: int = Field(100, ge=0, le=100,
                                    description="Share of the endpoint's traffic for the "
                                                "new model.")
    in_pipeline: bool = Field(False, description="The Pusher deploys each blessed model (Vertex "
                                                 "Pusher) instead of copying it to serving_dir.")

    @model_validator(mode="after")
    def _consistent(self) -> "DeployConfig":
        if (self.accelerator_type is None) != (self.accelerator_count == 0):
            raise ValueError("give accelerator_type and accelerator_count > 0 together")
        if self.max_replicas < self.min_replicas:
            raise ValueError(f"max_replicas ({self.max_replicas}) < min_replicas "
                             f"({self.min_replicas})")
        return self


class CloudConfig(Strict):
    project: Optional[str] = None
    region: Optional[str] = None
    bucket: Optional[str] = Field(None, description="GCS bucket name; pipeline_root defaults to "
                                                    "gs://<bucket>/mlpipe/<pipeline name>.")
    pipeline_root: Optional[str] = None
    image: Optional[str] = Field(
        None, description="The pipeline image (mlpipe/kubeflow/Dockerfile).")
    service_account: Optional[str] = None
    data_path: Optional[str] = Field(
        None, description="gs:// data file, folder (ending in /) or glob "
                          "read in the cloud instead of data.path.")
    serving_dir: Optional[str] = Field(
        None, description="gs:// folder the Pusher copies blessed "
                          "models to (default <pipeline_root>/serving).")
    network: Optional[str] = Field(None, description="VPC network for Vertex Pipelines, "
                                                     "projects/<number>/global/networks/<name>.")
    labels: Dict[str, str] = Field(default_factory=dict)
    enable_caching: bool = True
    experiment: Optional[str] = Field(None, description="KFP experiment (default: pipeline name).")
    kubeflow_host: Optional[str] = None
    beam: CloudBeamConfig = Field(default_factory=CloudBeamConfig)
    training: Optional[TrainingConfig] = None
    deploy: Optional[DeployConfig] = None

    @field_validator("pipeline_root", "data_path", "serving_dir")
    @classmethod
    def _is_gcs(cls, value: Optional[str]) -> Optional[str]:
        return _gcs(value)

    @field_validator("data_path")
    @classmethod
    def _span_pattern(cls, value: Optional[str]) -> Optional[str]:
        if value is not None:
            span_kind(value)  # ValueError naming what TFX would refuse
        return value

    @field_validator("bucket")
    @classmethod
    def _bucket_name(cls, value: Optional[str]) -> Optional[str]:
        return _matching(value, _BUCKET, "a bucket name without gs:// (e.g. my-bucket)")

    @field_validator("region")
    @classmethod
    def _region_name(cls, value: Optional[str]) -> Optional[str]:
        return _matching(value, _REGION, "a region such as us-central1")

    @field_validator("labels")
    @classmethod
    def _label_format(cls, labels: Dict[str, str]) -> Dict[str, str]:
        for key, value in labels.items():
            if not key or not _LABEL.fullmatch(key) or not _LABEL.fullmatch(value):
                raise ValueError(f"label {key}={value}: keys and values must be lowercase "
                                 "letters, digits, '_' or '-', at most 63 characters")
        return labels

    @field_validator("kubeflow_host")
    @classmethod
    def _host_url(cls, value: Optional[str]) -> Optional[str]:
        return _matching(value, _HTTP_URL, "an http(s):// URL")

    # ---- derived values (used once the section is resolved) ----

    def root_for(self, pipeline_name: str) -> str:
        if self.pipeline_root:
            return self.pipeline_root.rstrip("/")
        return f"{GCS_PREFIX}{self.bucket}/mlpipe/{pipeline_name}"

    def serving_dir_for(self, pipeline_name: str) -> str:
        return (self.serving_dir or f"{self.root_for(pipeline_name)}/serving").rstrip("/")

    @property
    def uses_gcp_services(self) -> bool:
        """Whether a step calls a GCP API itself (Dataflow, Vertex training or Vertex Pusher)."""
        return (self.beam.runner == "DataflowRunner"
                or bool(self.training and self.training.vertex_job)
                or bool(self.deploy and self.deploy.in_pipeline))


def resolve_cloud(config: ProblemConfig, target: str, overrides: Optional[Mapping[str, Any]] = None
                  ) -> CloudConfig:
    """The config's `cloud:` section with flag values merged in, checked for `target`.

    `overrides` maps CloudConfig field names to values; None values are ignored (flag not given).
    Raises ConfigError naming the field (`cloud.<field>`) and the flag that can supply it.
    """
    if target not in TARGETS:
        raise ConfigError(f"--target: must be one of {', '.join(TARGETS)}, got {target!r}")
    base = config.cloud.model_dump() if config.cloud is not None else {}
    merged = {**base, **{k: v for k, v in (overrides or {}).items() if v is not None}}
    cloud = _validate(merged, config)
    _require(cloud, config, target)
    return cloud


def resolve_deploy_cloud(config: ProblemConfig, overrides: Optional[Mapping[str, Any]] = None,
                         deploy_overrides: Optional[Mapping[str, Any]] = None) -> CloudConfig:
    """The cloud section for `mlpipe deploy`: project and region are all it needs."""
    base = config.cloud.model_dump() if config.cloud is not None else {}
    merged = {**base, **{k: v for k, v in (overrides or {}).items() if v is not None}}
    deploy = {**(merged.get("deploy") or {}),
              **{k: v for k, v in (deploy_overrides or {}).items() if v is not None}}
    merged["deploy"] = deploy
    cloud = _validate(merged, config)
    for field in ("project", "region"):
        if not getattr(cloud, field):
            raise _missing(field, "for Vertex AI")
    return cloud


def _validate(merged: Dict[str, Any], config: ProblemConfig) -> CloudConfig:
    try:
        return CloudConfig.model_validate(merged)
    except ValidationError as err:
        raise ConfigError(f"{config.source or 'config'}: invalid cloud settings:\n"
                          f"{describe(err, prefix='cloud.')}") from err


_FLAGS = {"project": "--project", "region": "--region", "image": "--image",
          "bucket": "--bucket", "pipeline_root": "--pipeline-root", "data_path": "--data-path"}


def _missing(field: str, why: str) -> Exception:
    return ConfigError(f"cloud.{field} is required {why}: set it in the config's cloud: section "
                       f"or pass {_FLAGS.get(field, '--' + field.replace('_', '-'))}")


def check_window(config: ProblemConfig) -> None:
    """KFP v2 / Vertex run only TFX's built-in resolvers (latest artifact, latest blessed
    model), none of which selects several spans: a window compiled as one span would silently
    train on less data than the config says, so it is refused."""
    if config.data.window > 1:
        raise ConfigError(
            f"{config.source or 'config'}: data.window {config.data.window}: Kubeflow "
            "Pipelines (v2) and Vertex AI run only TFX's latest-artifact and "
            "latest-blessed-model resolvers, so a pipeline there trains on one span per run "
            "(the newest its ExampleGen finds); a window of spans needs the local runner "
            "(mlpipe run). Set data.window: 1 to compile for them")


def _require(cloud: CloudConfig, config: ProblemConfig, target: str) -> None:
    check_window(config)
    if not cloud.image:
        raise _missing("image", "(the pipeline image every step runs in)")
    if target == "vertex" or cloud.uses_gcp_services:
        why = ("for Vertex AI" if target == "vertex" else
               "for Dataflow / Vertex training / the Vertex Pusher")
        for field in ("project", "region"):
            if not getattr(cloud, field):
                raise _missing(field, why)
    if not cloud.pipeline_root and not cloud.bucket:
        raise ConfigError("cloud.bucket (or cloud.pipeline_root) is required: the pipeline root "
                          "must be a gs:// folder every step can reach; pass --bucket or "
                          "--pipeline-root")
    data_path = cloud.data_path or config.data.path
    if not data_path.startswith(GCS_PREFIX):
        raise ConfigError(f"cloud.data_path is required: data.path {config.data.path} is local "
                          "and the cloud steps cannot read it; copy the data to GCS and set "
                          "cloud.data_path (or pass --data-path gs://...)")
    if cloud.deploy is not None and cloud.deploy.in_pipeline and not cloud.deploy.serving_image:
        raise ConfigError("cloud.deploy.serving_image is required when deploy.in_pipeline is "
                          "true (the prediction container Vertex serves the model with)")

