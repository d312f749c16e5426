"""`mlpipe deploy --target vertex`: the real Vertex AI SDK uploads the model, creates or reuses the
endpoint and deploys, against a stand-in Vertex API on 127.0.0.1 that records the requests."""

import pytest

from mlpipe.kubeflow import deploy, submit
from mlpipe.config.cloud import resolve_deploy_cloud
from mlpipe import cli
from mlpipe.config import ConfigError
from tests.support.cli import run_mlpipe
from tests.support.cloud import CLOUD, PROJECT, REGION, SERVING_IMAGE, write_cloud_config

NAME = "taxi-big-tipper"
V1 = f"/v1/projects/{PROJECT}/locations/{REGION}"
PARENT = f"projects/{PROJECT}/locations/{REGION}"
MODEL_URI = "gs://demo-bucket/mlpipe/taxi-big-tipper/serving/1795912931"
DEPLOY = {"serving_image": SERVING_IMAGE, "endpoint": "taxi-endpoint",
          "machine_type": "n1-standard-8", "accelerator_type": "NVIDIA_TESLA_T4",
          "accelerator_count": 1, "min_replicas": 2, "max_replicas": 5, "traffic_percentage": 30}


def _done(response_type, response):
    """A finished long-running operation, as Vertex returns it."""
    return {"name": f"{PARENT}/operations/1", "done": True,
            "response": {"@type": f"type.googleapis.com/google.cloud.aiplatform.v1.{response_type}",
                         **response}}


def vertex_model_routes(existing_endpoint=False, fail=None):
    fail = fail or {}
    endpoint = {"name": f"{PARENT}/endpoints/e1", "displayName": "taxi-endpoint",
                "deployedModels": [], "trafficSplit": {}}
    if existing_endpoint:  # one model already serves all traffic
        endpoint.update(deployedModels=[{"id": "old"}], trafficSplit={"old": 100})
    model = {"name": f"{PARENT}/models/m1", "displayName": NAME,
             # What a model on a prebuilt TensorFlow container reports.
             "supportedDeploymentResourcesTypes": ["DEDICATED_RESOURCES"]}

    def guarded(name, handler):
        def serve(request, match):
            if name in fail:
                return fail[name], {"error": {"code": fail[name], "message": f"{name} refused",
                                              "status": "FAILED_PRECONDITION"}}
            return handler(request, match)
        return serve

    def deployed(request, match):
        # The new model takes its share; the others keep the rest, as Vertex would apply it.
        split = request.json()["trafficSplit"]
        endpoint["deployedModels"].append({"id": "new"})
        endpoint["trafficSplit"] = {("new" if k == "0" else k): v for k, v in split.items()}
        return 200, _done("DeployModelResponse", {"deployedModel": {"id": "new"}})

    return [
        ("POST", V1 + "/models:upload", guarded("upload", lambda r, m: (
            200, _done("UploadModelResponse", {"model": model["name"]})))),
        ("GET", V1 + "/models/m1", lambda r, m: (200, model)),
        ("GET", V1 + "/endpoints", guarded("list", lambda r, m: (
            200, {"endpoints": [endpoint]} if existing_endpoint else {}))),
        ("POST", V1 + "/endpoints", lambda r, m: (200, _done("Endpoint", endpoint))),
        ("GET", V1 + "/endpoints/e1", lambda r, m: (200, endpoint)),
        ("POST", V1 + "/endpoints/e1:deployModel", guarded("deploy", deployed)),
    ]


def _cloud(cloud_config, **deploy_changes):
    return resolve_deploy_cloud(cloud_config(deploy={**DEPLOY, **deploy_changes}))


def test_deploy_uploads_creates_endpoint_and_deploys(stand_in, cloud_config):
    server = stand_in(vertex_model_routes())
    result = deploy.deploy_vertex(MODEL_URI, _cloud(cloud_config, traffic_percentage=100), NAME,
                                  api_endpoint=server.url, timeout=20)
    assert result.model == f"{PARENT}/models/m1"
    assert result.endpoint == f"{PARENT}/endpoints/e1" and result.endpoint_created

    upload, = server.find("POST", V1 + "/models:upload")
    model = upload.json()["model"]
    assert model["artifactUri"] == MODEL_URI
    assert model["containerSpec"]["imageUri"] == SERVING_IMAGE
    assert model["labels"] == CLOUD["labels"]
    listed, = server.find("GET", V1 + "/endpoints")
    assert listed.query["filter"] == ['display_name="taxi-endpoint"']
    created, = server.find("POST", V1 + "/endpoints")
    assert created.json()["displayName"] == "taxi-endpoint"

    sent, = server.find("POST", V1 + "/endpoints/e1:deployModel")
    body = sent.json()
    assert body["deployedModel"]["model"] == f"{PARENT}/models/m1"
    assert body["deployedModel"]["serviceAccount"] == CLOUD["service_account"]
    resources = body["deployedModel"]["dedicatedResources"]
    assert resources["machineSpec"]["machineType"] == "n1-standard-8"
    assert resources["machineSpec"]["acceleratorCount"] == 1
    # The REST transport sends enums as numbers ($alt=json;enum-encoding=int): 5 = NVIDIA_TESLA_T4.
    assert resources["machineSpec"]["acceleratorType"] in (5, "NVIDIA_TESLA_T4")
    assert (resources["minReplicaCount"], resources["maxReplicaCount"]) == (2, 5)
    assert body["trafficSplit"] == {"0": 100}
    assert result.traffic_split == {"new": 100}


def test_cli_deploy_reuses_endpoint_and_splits_traffic(stand_in, tmp_path):
    """The real `mlpipe deploy` in its own process, as a user runs it.

    (In one long-lived process, after an earlier deploy, aiplatform 1.165's Endpoint.list
    dropped the existing public endpoint: its private_service_connect_config read as set.)
    """
    server = stand_in(vertex_model_routes(existing_endpoint=True))
    config = write_cloud_config(tmp_path, deploy=DEPLOY)
    result = run_mlpipe("deploy", "--target", "vertex", "--config", config, "--model-uri",
                        MODEL_URI, "--api-endpoint", server.url, "--endpoint", "taxi-endpoint",
                        cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"Endpoint: {PARENT}/endpoints/e1 (reused)" in result.stdout
    assert "new=30%" in result.stdout and "old=70%" in result.stdout
    assert not server.find("POST", V1 + "/endpoints")
    sent, = server.find("POST", V1 + "/endpoints/e1:deployModel")
    assert sent.json()["trafficSplit"] == {"0": 30, "old": 70}
    upload, = server.find("POST", V1 + "/models:upload")
    assert upload.json()["model"]["artifactUri"] == MODEL_URI


@pytest.mark.parametrize("failing, status", [("upload", 403), ("deploy", 500), ("list", 400)])
def test_deploy_http_errors(stand_in, cloud_config, failing, status):
    server = stand_in(vertex_model_routes(fail={failing: status}))
    with pytest.raises(submit.CloudCallError) as raised:
        deploy.deploy_vertex(MODEL_URI, _cloud(cloud_config, traffic_percentage=100), NAME,
                             api_endpoint=server.url, timeout=20)
    assert f"HTTP {status}" in str(raised.value) and f"{failing} refused" in str(raised.value)
    if failing != "deploy":
        assert not server.find("POST", V1 + "/endpoints/e1:deployModel")


def test_deploy_unreachable(cloud_config, closed_port_url):
    with pytest.raises(submit.CloudCallError, match="upload model"):
        deploy.deploy_vertex(MODEL_URI, _cloud(cloud_config), NAME, api_endpoint=closed_port_url,
                             timeout=5)


def test_deploy_bad_input(cloud_config, base_config):
    with pytest.raises(ConfigError, match="--model-uri"):
        deploy.deploy_vertex("/local/model", _cloud(cloud_config), NAME)
    with pytest.raises(ConfigError, match="serving_image"):
        deploy.deploy_vertex(MODEL_URI, _cloud(cloud_config, serving_image=None), NAME)
    with pytest.raises(ConfigError, match="cloud.project"):
        resolve_deploy_cloud(base_config)
    with pytest.raises(ConfigError, match=r"cloud\.deploy: .*max_replicas \(2\) < min_replicas"):
        resolve_deploy_cloud(base_config, {"project": PROJECT, "region": REGION},
                             {"min_replicas": 3, "max_replicas": 2})


def test_cli_deploy_bad_model_uri_exits_2(capsys, tmp_path):
    config = write_cloud_config(tmp_path, deploy=DEPLOY)
    code = cli.main(["deploy", "--target", "vertex", "--config", str(config), "--model-uri",
                     "runs/serving/1"])
    assert code == 2 and "--model-uri" in capsys.readouterr().err
