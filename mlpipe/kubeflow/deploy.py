"""`mlpipe deploy --target vertex`: a pushed SavedModel -> Vertex AI Model Registry -> endpoint.

Uploads the model (gs:// SavedModel folder) with a prebuilt TensorFlow prediction container,
reuses the endpoint named in `cloud.deploy.endpoint` (or creates it), and deploys the model
there with the configured machine type, accelerator, replicas and traffic share. Each call has a
time limit and every failure is a `CloudCallError` naming the call.
"""

from __future__ import annotations

import dataclasses
import datetime
from typing import Dict, Optional

from mlpipe.config import ConfigError
from mlpipe.config.cloud import GCS_PREFIX, CloudConfig, DeployConfig
from mlpipe.kubeflow.submit import DEFAULT_TIMEOUT_S, init_vertex, vertex_call


@dataclasses.dataclass(frozen=True)
class Deployment:
    model: str
    endpoint: str
    endpoint_created: bool
    traffic_split: Dict[str, int]


def deploy_settings(cloud: CloudConfig) -> DeployConfig:
    deploy = cloud.deploy or DeployConfig()
    if not deploy.serving_image:
        raise ConfigError("cloud.deploy.serving_image is required: the prebuilt TensorFlow "
                          "prediction container Vertex AI serves the model with (or pass "
                          "--serving-image)")
    return deploy


def deploy_vertex(model_uri: str, cloud: CloudConfig, pipeline_name: str, *,
                  api_endpoint: Optional[str] = None,
                  timeout: float = DEFAULT_TIMEOUT_S) -> Deployment:
    if not model_uri.startswith(GCS_PREFIX):
        raise ConfigError(f"--model-uri: must be the gs:// folder of a pushed SavedModel, got "
                          f"{model_uri!r}")
    deploy = deploy_settings(cloud)
    from google.cloud import aiplatform
    resource_kwargs = init_vertex(cloud, api_endpoint)
    endpoint_name = deploy.endpoint or pipeline_name
    model_name = (deploy.model_display_name
                  or f"{pipeline_name}-{datetime.datetime.now().strftime('%Y%m%d%H%M%S')}")
    labels = dict(cloud.labels) or None

    def call(what: str, fn):
        return vertex_call(what, timeout, fn)

    model = call(f"upload model {model_uri}", lambda: aiplatform.Model.upload(
        display_name=model_name, artifact_uri=model_uri.rstrip("/"),
        serving_container_image_uri=deploy.serving_image, labels=labels,
        upload_request_timeout=timeout, sync=True, **resource_kwargs))
    found = call(f"find endpoint {endpoint_name}", lambda: aiplatform.Endpoint.list(
        filter=f'display_name="{endpoint_name}"', order_by="create_time desc",
        **resource_kwargs))
    created = not found
    endpoint = found[0] if found else call(
        f"create endpoint {endpoint_name}", lambda: aiplatform.Endpoint.create(
            display_name=endpoint_name, labels=labels, create_request_timeout=timeout,
            sync=True, **resource_kwargs))
    accelerator = ({"accelerator_type": deploy.accelerator_type,
                    "accelerator_count": deploy.accelerator_count}
                   if deploy.accelerator_type else {})
    call(f"deploy {model.resource_name} to {endpoint.resource_name}", lambda: model.deploy(
        endpoint=endpoint, deployed_model_display_name=model_name,
        traffic_percentage=deploy.traffic_percentage, machine_type=deploy.machine_type,
        min_replica_count=deploy.min_replicas, max_replica_count=deploy.max_replicas,
        service_account=cloud.service_account, deploy_request_timeout=timeout, sync=True,
        **accelerator))
    split = call("read endpoint", lambda: dict(endpoint.traffic_split or {}))
    return Deployment(model=model.resource_name, endpoint=endpoint.resource_name,
                      endpoint_created=created, traffic_split=split)
