"""A complete `cloud:` section (made-up project, bucket and images) and a config file with it."""

import json
import pathlib

from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

from tests.support.cli import offline_env, run_mlpipe
from tests.support.configs import write_config

PROJECT, REGION, BUCKET = "demo-project", "us-central1", "demo-bucket"
IMAGE = "europe-docker.example/demo-project/mlpipe/mlpipe:0.1.0-test"
SERVING_IMAGE = "serving.example/prediction/tf2-cpu.2-15:latest"

# Everything a cloud run needs, as a config's `cloud:` section would give it.
CLOUD = {
    "project": PROJECT, "region": REGION, "bucket": BUCKET, "image": IMAGE,
    "service_account": f"pipelines@{PROJECT}.iam.gserviceaccount.com",
    "data_path": f"gs://{BUCKET}/data/taxi/",
    "labels": {"team": "ml", "problem": "taxi"},
}


def write_cloud_config(folder, **cloud_changes) -> pathlib.Path:
    """folder/cloud.yaml: the shipped taxi config with CLOUD (plus `cloud_changes`) as `cloud:`."""
    return write_config(pathlib.Path(folder) / "cloud.yaml", cloud={**CLOUD, **cloud_changes})


def compile_vertex_offline(folder, edit=None) -> dict:
    """`mlpipe compile --target vertex` of the shipped config with CLOUD and `edit(raw)` applied,
    run offline (`offline_env`); the compiled PipelineSpec, checked against the real PipelineJob
    schema."""
    folder = pathlib.Path(folder)
    (folder / "home").mkdir()
    config = write_config(folder / "cloud.yaml", cloud=CLOUD, edit=edit)
    result = run_mlpipe("compile", "--target", "vertex", "--config", config,
                        "--output", folder / "pipeline.json", env=offline_env(folder / "home"),
                        cwd=folder, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    raw = json.loads((folder / "pipeline.json").read_text())
    json_format.ParseDict(raw, pipeline_spec_pb2.PipelineJob())  # the real Vertex job schema
    return raw["pipelineSpec"]


def failing_as_told(fail):
    """route(name, handler) -> a stand-in handler that answers `fail[name]` (an HTTP status)
    with an error body when the test asks that route to fail, else calls `handler`."""
    def route(name, handler):
        def serve(request, match):
            if name in fail:
                return fail[name], {"error": f"stand-in {name} failure", "code": fail[name]}
            return handler(request, match)
        return serve
    return route


# The Cloud Storage calls the Vertex AI SDK makes before creating a pipeline job or schedule (with
# STORAGE_EMULATOR_HOST pointing at the stand-in): no bucket yet, so the SDK creates it and grants
# the service account access. An existing bucket would make the SDK check its owner through Cloud
# Resource Manager, which has no endpoint override.
NO_BUCKET_YET = [
        ("GET", "/storage/v1/b/([^/]+)", lambda r, m: (404, {"error": {"code": 404,
                                                                       "message": "no bucket"}})),
        ("POST", "/storage/v1/b", lambda r, m: (200, r.json())),
        ("GET", "/storage/v1/b/([^/]+)/iam", lambda r, m: (200, {"bindings": [], "etag": "CAE="})),
        ("PUT", "/storage/v1/b/([^/]+)/iam", lambda r, m: (200, r.json())),
]
