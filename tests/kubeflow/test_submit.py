"""`mlpipe submit`: the real kfp.Client (kfp 2.5) and the real Vertex AI SDK against stand-in
servers on 127.0.0.1 that implement just the endpoints used and record what they receive.

The package submitted is compiled once by `mlpipe compile` logic (in process) for each target.
"""

import json
import time

import pytest
import yaml

from mlpipe.kubeflow import submit
from mlpipe.config.cloud import resolve_cloud
from mlpipe import cli
from tests.support.configs import write_config
from tests.support.cloud import (BUCKET, CLOUD, IMAGE, NO_BUCKET_YET, PROJECT, REGION,
                                 failing_as_told, write_cloud_config)

NAME = "taxi-big-tipper"
API = "/apis/v2beta1"


# ------------------------------------------------------------------ Kubeflow Pipelines


def kfp_routes(existing_pipeline=None, fail=None):
    """A KFP v2beta1 API: `fail` maps a route name to an HTTP status it answers with."""
    route = failing_as_told(fail or {})

    def list_pipelines(request, match):
        return 200, ({"pipelines": [{"pipeline_id": existing_pipeline, "display_name": NAME}],
                      "total_size": 1} if existing_pipeline else {})

    return [
        ("GET", API + "/healthz", route("healthz", lambda r, m: (200, {"multi_user": False}))),
        ("GET", API + "/pipelines", route("list_pipelines", list_pipelines)),
        ("POST", API + "/pipelines/upload", route("upload", lambda r, m: (
            200, {"pipeline_id": "pl-1", "display_name": r.query["name"][0]}))),
        ("GET", API + "/pipelines/([^/]+)/versions", route("list_versions", lambda r, m: (
            200, {"pipeline_versions": [{"pipeline_id": m.group(1),
                                         "pipeline_version_id": "pv-default"}]}))),
        ("POST", API + "/pipelines/upload_version", route("upload_version", lambda r, m: (
            200, {"pipeline_id": r.query["pipelineid"][0], "pipeline_version_id": "pv-2",
                  "display_name": r.query["name"][0]}))),
        ("GET", API + "/experiments", route("list_experiments", lambda r, m: (200, {}))),
        ("POST", API + "/experiments", route("create_experiment", lambda r, m: (
            200, {"experiment_id": "ex-1", **r.json()}))),
        ("POST", API + "/runs", route("create_run", lambda r, m: (
            200, {"run_id": "run-42", **r.json()}))),
    ]


def test_kubeflow_new_pipeline_upload_and_run(stand_in, packages):
    server = stand_in(kfp_routes())
    package = packages["kubeflow"].path
    result = submit.submit_kubeflow(package, server.url, NAME, experiment="taxi-exp",
                                    run_name="run-a", pipeline_root=f"gs://{BUCKET}/r",
                                    enable_caching=False, timeout=20)
    assert result.run_id == "run-42"
    assert result.run_url == f"{server.url}/#/runs/details/run-42"
    assert (result.pipeline_id, result.pipeline_version_id) == ("pl-1", "pv-default")

    upload, = server.find("POST", API + "/pipelines/upload")
    assert upload.query["name"] == [NAME]
    sent = upload.multipart_files()["uploadfile"]
    assert sent == package.read_bytes()  # the compiled spec itself, byte for byte
    assert yaml.safe_load(sent)["deploymentSpec"]["executors"]["Trainer_executor"][
        "container"]["image"] == IMAGE
    experiment, = server.find("POST", API + "/experiments")
    assert experiment.json()["display_name"] == "taxi-exp"
    run, = server.find("POST", API + "/runs")
    body = run.json()
    assert body["experiment_id"] == "ex-1" and body["display_name"] == "run-a"
    assert body["pipeline_version_reference"] == {"pipeline_id": "pl-1",
                                                  "pipeline_version_id": "pv-default"}
    assert body["runtime_config"]["pipeline_root"] == f"gs://{BUCKET}/r"
    assert not server.find("POST", API + "/pipelines/upload_version")


def test_kubeflow_existing_pipeline_gets_a_new_version(stand_in, packages):
    server = stand_in(kfp_routes(existing_pipeline="pl-7"))
    result = submit.submit_kubeflow(packages["kubeflow"].path, server.url, NAME,
                                    version_name="v-2024", timeout=20)
    assert (result.pipeline_id, result.pipeline_version_id) == ("pl-7", "pv-2")
    version, = server.find("POST", API + "/pipelines/upload_version")
    assert version.query["pipelineid"] == ["pl-7"] and version.query["name"] == ["v-2024"]
    assert not server.find("POST", API + "/pipelines/upload")
    run, = server.find("POST", API + "/runs")
    assert run.json()["pipeline_version_reference"]["pipeline_version_id"] == "pv-2"
    assert run.json()["experiment_id"] == "ex-1"


@pytest.mark.parametrize("failing, status", [("upload", 400), ("create_run", 500),
                                             ("healthz", 503), ("create_experiment", 403)])
def test_kubeflow_http_errors_are_reported(stand_in, packages, failing, status):
    server = stand_in(kfp_routes(fail={failing: status}))
    start = time.monotonic()
    with pytest.raises(submit.CloudCallError) as raised:
        submit.submit_kubeflow(packages["kubeflow"].path, server.url, NAME, timeout=20)
    assert f"HTTP {status}" in str(raised.value)
    assert server.url in str(raised.value)
    assert time.monotonic() - start < 15  # no retry loop
    if failing != "create_run":
        assert not server.find("POST", API + "/runs")


def test_kubeflow_unreachable_host(packages, closed_port_url):
    with pytest.raises(submit.CloudCallError, match="cannot reach Kubeflow Pipelines"):
        submit.submit_kubeflow(packages["kubeflow"].path, closed_port_url, NAME, timeout=5)


def test_kubeflow_slow_server_hits_the_time_limit(stand_in, packages):
    def slow(request, match):
        time.sleep(5)
        return 200, {"run_id": "late"}
    routes = [r for r in kfp_routes() if r[1] != API + "/runs"] + [("POST", API + "/runs", slow)]
    server = stand_in(routes)
    with pytest.raises(submit.CloudCallError, match="no answer within 1s"):
        submit.submit_kubeflow(packages["kubeflow"].path, server.url, NAME, timeout=1)


def test_cli_submit_kubeflow_prints_run_and_fails_cleanly(stand_in, packages, cloud_config,
                                                           capsys, tmp_path):
    good = stand_in(kfp_routes())
    config_file = write_cloud_config(tmp_path)
    code = cli.main(["submit", "--target", "kubeflow", "--config", str(config_file),
                     "--host", good.url, "--package", str(packages["kubeflow"].path)])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "Run id:   run-42" in out.out and f"{good.url}/#/runs/details/run-42" in out.out

    bad = stand_in(kfp_routes(fail={"create_run": 500}))
    code = cli.main(["submit", "--target", "kubeflow", "--config", str(config_file),
                     "--host", bad.url, "--package", str(packages["kubeflow"].path)])
    out = capsys.readouterr()
    assert code == 1
    assert out.err.startswith("error: ") and "HTTP 500" in out.err
    assert "Run id" not in out.out

    code = cli.main(["submit", "--target", "kubeflow", "--config", str(config_file),
                     "--package", str(packages["kubeflow"].path)])
    assert code == 2 and "--host" in capsys.readouterr().err


# ------------------------------------------------------------------ Vertex AI Pipelines

V1 = f"/v1/projects/{PROJECT}/locations/{REGION}"


def vertex_routes(states=("PIPELINE_STATE_RUNNING", "PIPELINE_STATE_SUCCEEDED"),
                  create_status=200):
    """Vertex pipelineJobs create/get, and the GCS bucket calls the SDK makes first.

    GCS answers "no such bucket", so the SDK creates it and grants the service account access
    (all on the stand-in); an existing bucket would make the SDK verify its owner through Cloud
    Resource Manager, which has no endpoint override.
    """
    jobs = {}
    pending = list(states)

    def create(request, match):
        if create_status != 200:
            return create_status, {"error": {"code": create_status, "message": "quota exceeded",
                                             "status": "RESOURCE_EXHAUSTED"}}
        body = request.json()
        job_id = request.query["pipelineJobId"][0]
        body.update(name=f"projects/{PROJECT}/locations/{REGION}/pipelineJobs/{job_id}",
                    state="PIPELINE_STATE_PENDING")
        jobs[job_id] = body
        return 200, body

    def get(request, match):
        state = pending.pop(0) if len(pending) > 1 else pending[0]
        return 200, {**jobs[match.group(1)], "state": state}

    return [
        *NO_BUCKET_YET,
        ("POST", V1 + "/pipelineJobs", create),
        ("GET", V1 + "/pipelineJobs/([^/]+)", get),
    ]


@pytest.fixture
def vertex_stand_in(stand_in, monkeypatch):
    def start(**kwargs):
        server = stand_in(vertex_routes(**kwargs))
        # google-cloud-storage's documented emulator switch: the SDK's bucket check goes here.
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", server.url)
        return server
    return start


def test_vertex_submit_sends_the_job(vertex_stand_in, packages, cloud_config):
    server = vertex_stand_in()
    config = cloud_config(network="projects/123/global/networks/ml-vpc", enable_caching=False)
    cloud = resolve_cloud(config, "vertex")
    result = submit.submit_vertex(packages["vertex"].path, cloud, NAME, job_id="taxi-run-1",
                                  api_endpoint=server.url, timeout=20)
    assert result.resource_name == \
        f"projects/{PROJECT}/locations/{REGION}/pipelineJobs/taxi-run-1"
    assert result.console_url.endswith(
        f"/vertex-ai/locations/{REGION}/pipelines/runs/taxi-run-1?project={PROJECT}")
    assert result.state is None
    create, = server.find("POST", V1 + "/pipelineJobs")
    assert create.query["pipelineJobId"] == ["taxi-run-1"]
    job = create.json()
    assert job["serviceAccount"] == CLOUD["service_account"]
    assert job["network"] == "projects/123/global/networks/ml-vpc"
    assert job["labels"]["team"] == "ml" and job["labels"]["problem"] == "taxi"
    assert job["runtimeConfig"]["gcsOutputDirectory"] == f"gs://{BUCKET}/mlpipe/{NAME}"
    expected = json.loads(packages["vertex"].path.read_text())["pipelineSpec"]
    assert job["pipelineSpec"]["deploymentSpec"] == expected["deploymentSpec"]
    tasks = job["pipelineSpec"]["root"]["dag"]["tasks"]
    assert all(not t.get("cachingOptions", {}).get("enableCache") for t in tasks.values())
    # Nothing but the stand-in was contacted, and the job was created once.
    assert len(server.find("POST", V1 + "/pipelineJobs")) == 1


def test_vertex_submit_wait_follows_the_run(vertex_stand_in, packages, cloud_config):
    server = vertex_stand_in()
    cloud = resolve_cloud(cloud_config(), "vertex")
    seen = []
    result = submit.submit_vertex(packages["vertex"].path, cloud, NAME, job_id="taxi-run-2",
                                  api_endpoint=server.url, timeout=20, wait=True,
                                  poll_interval=0.05, on_state=seen.append)
    assert result.state == "PIPELINE_STATE_SUCCEEDED"
    assert seen == ["PIPELINE_STATE_RUNNING", "PIPELINE_STATE_SUCCEEDED"]
    assert len(server.find("GET", V1 + "/pipelineJobs/taxi-run-2")) >= 2


def test_cli_vertex_wait_on_a_failed_run_exits_1(vertex_stand_in, packages, capsys, tmp_path):
    server = vertex_stand_in(states=("PIPELINE_STATE_RUNNING", "PIPELINE_STATE_FAILED"))
    config_file = write_cloud_config(tmp_path)
    code = cli.main(["submit", "--target", "vertex", "--config", str(config_file),
                     "--package", str(packages["vertex"].path), "--api-endpoint", server.url,
                     "--wait", "--poll-interval", "0.05", "--run-name", "taxi-run-3"])
    out = capsys.readouterr()
    assert code == 1
    assert "Final state: PIPELINE_STATE_FAILED" in out.out
    assert "pipelineJobs/taxi-run-3" in out.out


def test_vertex_server_error_is_reported(vertex_stand_in, packages, cloud_config):
    server = vertex_stand_in(create_status=429)
    cloud = resolve_cloud(cloud_config(), "vertex")
    with pytest.raises(submit.CloudCallError) as raised:
        submit.submit_vertex(packages["vertex"].path, cloud, NAME, job_id="taxi-run-4",
                             api_endpoint=server.url, timeout=20)
    assert "HTTP 429" in str(raised.value) and "quota exceeded" in str(raised.value)
    assert "create pipeline job taxi-run-4" in str(raised.value)


def test_vertex_unreachable_endpoint(packages, cloud_config, closed_port_url, monkeypatch):
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", closed_port_url)
    cloud = resolve_cloud(cloud_config(), "vertex")
    start = time.monotonic()
    with pytest.raises(submit.CloudCallError, match="create pipeline job"):
        submit.submit_vertex(packages["vertex"].path, cloud, NAME, api_endpoint=closed_port_url,
                             timeout=5)
    assert time.monotonic() - start < 30


def test_cli_vertex_submit_accept_drift_is_compiled_into_that_run_only(vertex_stand_in, capsys,
                                                                        tmp_path, packages):
    """Data by span: `submit --accept-drift` compiles a DriftGate that lets a known shift
    through, for the one job it creates; a precompiled --package cannot carry it."""
    server = vertex_stand_in()

    def spans(raw):
        raw["data"]["path"] = "data/span-{SPAN}/"
        raw["cloud"]["data_path"] = f"gs://{BUCKET}/data/taxi/span-{{SPAN}}/"
    config_file = write_config(tmp_path / "spans.yaml", cloud=CLOUD, edit=spans)
    code = cli.main(["submit", "--target", "vertex", "--config", str(config_file),
                     "--accept-drift", "--api-endpoint", server.url, "--run-name", "taxi-span-3",
                     "--output", str(tmp_path / "accepted.json")])
    assert code == 0, capsys.readouterr().err
    create, = server.find("POST", V1 + "/pipelineJobs")
    gate = create.json()["pipelineSpec"]["root"]["dag"]["tasks"]["DriftGate"]
    accept = gate["inputs"]["parameters"]["accept_drift"]["runtimeValue"]["constantValue"]
    assert next(iter(accept.values())) in (1, "1")

    code = cli.main(["submit", "--target", "vertex", "--config", str(config_file),
                     "--accept-drift", "--package", str(packages["vertex"].path),
                     "--api-endpoint", server.url])
    assert code == 2
    assert "cannot change an already compiled --package" in capsys.readouterr().err
    assert len(server.find("POST", V1 + "/pipelineJobs")) == 1
