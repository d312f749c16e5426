"""`mlpipe schedule`: recurring runs with the real kfp.Client and the real Vertex AI SDK against
recording stand-in servers on 127.0.0.1, and the cron checks made before anything is sent."""

import pytest
import yaml

from mlpipe import cli
from mlpipe.config import ConfigError
from mlpipe.config.cloud import resolve_cloud
from mlpipe.kubeflow import schedule
from mlpipe.kubeflow.submit import CloudCallError
from tests.support.cloud import (CLOUD, NO_BUCKET_YET, PROJECT, REGION, failing_as_told,
                                 write_cloud_config)

NAME = "taxi-big-tipper"
API = "/apis/v2beta1"
V1 = f"/v1/projects/{PROJECT}/locations/{REGION}"


# ------------------------------------------------------------------ cron, per target

@pytest.mark.parametrize("expression, target", [
    ("0 0 3 * * *", "kubeflow"), ("0 */15 * * * 1-5", "kubeflow"),
    ("0 3 * * *", "vertex"), ("TZ=Europe/Berlin 0 3 * * mon-fri", "vertex"),
    ("CRON_TZ=America/New_York 30 6 1,15 * *", "vertex"),
])
def test_cron_a_target_reads_as_meant(expression, target):
    assert schedule.check_cron(expression, target) == expression


@pytest.mark.parametrize("expression, target, message", [
    ("0 3 * * *", "kubeflow", "kubeflow takes 6 fields"),          # five fields to KFP
    ("0 0 3 * * *", "vertex", "vertex takes 5 fields"),            # six fields to Vertex
    ("0 25 * * *", "vertex", "hour must be between 0 and 23"),
    ("61 0 3 * * *", "kubeflow", "second must be between 0 and 59"),
    ("0 3 * 13 *", "vertex", "month must be between 1 and 12"),
    ("0 3 * * funday", "vertex", "day of week"),
    ("0 3 ** * *", "vertex", "is not a value"),
    ("TZ=Europe/Berlin 0 0 3 * * *", "kubeflow", "kubeflow takes 6 fields"),
])
def test_a_cron_the_target_would_misread_is_a_config_error(expression, target, message):
    with pytest.raises(ConfigError, match=message) as raised:
        schedule.check_cron(expression, target)
    assert "--cron" in str(raised.value) and raised.value.exit_code == 2


# ------------------------------------------------------------------ Kubeflow Pipelines

def kfp_schedule_routes(fail=None):
    answer = failing_as_told(fail or {})
    runs = {}

    def create(request, match):
        body = request.json()
        run_id = f"rr-{len(runs) + 1}"
        runs[run_id] = {**body, "recurring_run_id": run_id, "status": "ENABLED"}
        return 200, runs[run_id]

    def change(status):
        def serve(request, match):
            runs[match.group(1)]["status"] = status
            return 200, {}
        return serve

    def delete(request, match):
        runs.pop(match.group(1))
        return 200, {}

    return [
        ("GET", API + "/healthz", answer("healthz", lambda r, m: (200, {"multi_user": False}))),
        ("GET", API + "/experiments", answer("list_experiments", lambda r, m: (
            200, {"experiments": [{"experiment_id": "ex-1", "display_name": NAME}],
                  "total_size": 1}))),
        ("POST", API + "/experiments", answer("create_experiment", lambda r, m: (
            200, {"experiment_id": "ex-1", **r.json()}))),
        ("POST", API + "/recurringruns", answer("create", create)),
        ("GET", API + "/recurringruns", answer("list", lambda r, m: (
            200, {"recurringRuns": list(runs.values()), "total_size": len(runs)}))),
        ("POST", API + r"/recurringruns/([^/:]+):disable", answer("disable", change("DISABLED"))),
        ("POST", API + r"/recurringruns/([^/:]+):enable", answer("enable", change("ENABLED"))),
        ("DELETE", API + r"/recurringruns/([^/:]+)", answer("delete", delete)),
    ]


def test_kubeflow_schedule_sends_the_spec_and_cron_then_pauses_resumes_deletes(stand_in,
                                                                             packages):
    server = stand_in(kfp_schedule_routes())
    created = schedule.create_kubeflow_schedule(
        packages["kubeflow"].path, server.url, NAME, "0 0 3 * * *",
        pipeline_root="gs://b/mlpipe/x", timeout=20)
    assert created.id == "rr-1" and created.cron == "0 0 3 * * *"
    [request] = server.find("POST", API + "/recurringruns")
    body = request.json()
    assert body["trigger"]["cron_schedule"]["cron"] == "0 0 3 * * *"
    assert body["experiment_id"] == "ex-1" and body["display_name"] == NAME
    assert body["max_concurrency"] == "1" or body["max_concurrency"] == 1
    assert body["no_catchup"] is True and body["mode"] == "ENABLE"
    # The spec sent is the compiled one (kfp reads the YAML package), not a re-built one.
    compiled = yaml.safe_load(packages["kubeflow"].path.read_text())
    assert body["pipeline_spec"]["root"] == compiled["root"]
    assert body["runtime_config"]["pipeline_root"] == "gs://b/mlpipe/x"

    [listed] = schedule.list_kubeflow_schedules(server.url, NAME, timeout=20)
    assert (listed.id, listed.cron, listed.state) == ("rr-1", "0 0 3 * * *", "ENABLED")
    schedule.change_kubeflow_schedule(server.url, "pause", "rr-1", timeout=20)
    assert schedule.list_kubeflow_schedules(server.url, NAME, timeout=20)[0].state == "DISABLED"
    schedule.change_kubeflow_schedule(server.url, "resume", "rr-1", timeout=20)
    assert schedule.list_kubeflow_schedules(server.url, NAME, timeout=20)[0].state == "ENABLED"
    schedule.change_kubeflow_schedule(server.url, "delete", "rr-1", timeout=20)
    assert schedule.list_kubeflow_schedules(server.url, NAME, timeout=20) == []
    assert len(server.find("DELETE", API + "/recurringruns/rr-1")) == 1


@pytest.mark.parametrize("status", [400, 404, 500, 503])
def test_kubeflow_schedule_http_errors_are_reported(stand_in, packages, status):
    server = stand_in(kfp_schedule_routes(fail={"create": status}))
    with pytest.raises(CloudCallError) as raised:
        schedule.create_kubeflow_schedule(packages["kubeflow"].path, server.url, NAME,
                                          "0 0 3 * * *", timeout=20)
    assert f"HTTP {status}" in str(raised.value) and "create recurring run" in str(raised.value)


def test_kubeflow_schedule_unreachable_host(packages, closed_port_url):
    with pytest.raises(CloudCallError, match="cannot reach Kubeflow Pipelines"):
        schedule.create_kubeflow_schedule(packages["kubeflow"].path, closed_port_url, NAME,
                                          "0 0 3 * * *", timeout=5)


def test_cli_schedule_kubeflow(stand_in, packages, tmp_path, capsys):
    server = stand_in(kfp_schedule_routes())
    config_file = write_cloud_config(tmp_path)
    base = ["schedule", "--target", "kubeflow", "--config", str(config_file), "--host",
            server.url, "--package", str(packages["kubeflow"].path)]
    assert cli.main([*base, "--cron", "0 30 2 * * *"]) == 0
    assert "Schedule id: rr-1" in capsys.readouterr().out
    assert cli.main([*base, "--pause", "rr-1"]) == 0
    assert "Paused schedule rr-1" in capsys.readouterr().out
    assert cli.main([*base, "--list"]) == 0
    assert "rr-1" in capsys.readouterr().out
    # A five-field cron for KFP: exit 2 naming --cron, nothing sent.
    sent = len(server.requests)
    assert cli.main([*base, "--cron", "30 2 * * *"]) == 2
    assert "--cron" in capsys.readouterr().err
    assert len(server.requests) == sent


def test_cli_schedule_needs_a_host_for_kubeflow(packages, tmp_path, capsys):
    config_file = write_cloud_config(tmp_path)
    code = cli.main(["schedule", "--target", "kubeflow", "--config", str(config_file),
                     "--package", str(packages["kubeflow"].path), "--cron", "0 0 3 * * *"])
    assert code == 2 and "--host" in capsys.readouterr().err


# ------------------------------------------------------------------ Vertex AI

def vertex_schedule_routes(create_status=200):
    schedules = {}

    def create(request, match):
        if create_status != 200:
            return create_status, {"error": {"code": create_status, "message": "bad cron",
                                             "status": "INVALID_ARGUMENT"}}
        body = request.json()
        name = f"projects/{PROJECT}/locations/{REGION}/schedules/{len(schedules) + 101}"
        schedules[name.rsplit("/", 1)[1]] = {**body, "name": name, "state": "ACTIVE"}
        return 200, schedules[name.rsplit("/", 1)[1]]

    def get(request, match):
        found = schedules.get(match.group(1))
        return (200, found) if found else (404, {"error": {"code": 404, "message": "no schedule",
                                                           "status": "NOT_FOUND"}})

    def set_state(state):
        def serve(request, match):
            schedules[match.group(1)]["state"] = state
            return 200, {}
        return serve

    def delete(request, match):
        schedules.pop(match.group(1))
        return 200, {"name": f"{V1[1:]}/operations/del-1", "done": True,
                     "response": {"@type": "type.googleapis.com/google.protobuf.Empty"}}

    return [
        *NO_BUCKET_YET,
        ("POST", V1 + "/schedules", create),
        ("GET", V1 + "/schedules", lambda r, m: (200, {"schedules": list(schedules.values())})),
        ("GET", V1 + r"/schedules/([^/:]+)", get),
        ("POST", V1 + r"/schedules/([^/:]+):pause", set_state("PAUSED")),
        ("POST", V1 + r"/schedules/([^/:]+):resume", set_state("ACTIVE")),
        ("DELETE", V1 + r"/schedules/([^/:]+)", delete),
    ]


@pytest.fixture
def vertex_stand_in(stand_in, monkeypatch):
    def start(**kwargs):
        server = stand_in(vertex_schedule_routes(**kwargs))
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", server.url)
        return server
    return start


def test_vertex_schedule_sends_the_job_and_cron_then_pauses_resumes_deletes(vertex_stand_in,
                                                                            packages,
                                                                            cloud_config):
    server = vertex_stand_in()
    cloud = resolve_cloud(cloud_config(), "vertex")
    created = schedule.create_vertex_schedule(packages["vertex"].path, cloud, NAME,
                                              "TZ=Europe/Berlin 0 3 * * *",
                                              api_endpoint=server.url, timeout=20)
    assert (created.id, created.state) == ("101", "ACTIVE")
    [request] = server.find("POST", V1 + "/schedules")
    body = request.json()
    assert body["cron"] == "TZ=Europe/Berlin 0 3 * * *"
    assert body["displayName"] == NAME and body["maxConcurrentRunCount"] == "1"
    job = body["createPipelineJobRequest"]["pipelineJob"]
    assert job["serviceAccount"] == CLOUD["service_account"]
    assert job["runtimeConfig"]["gcsOutputDirectory"].endswith(f"/mlpipe/{NAME}")
    assert "root" in job["pipelineSpec"]

    [listed] = schedule.list_vertex_schedules(cloud, NAME, api_endpoint=server.url, timeout=20)
    assert (listed.id, listed.cron) == ("101", "TZ=Europe/Berlin 0 3 * * *")
    [list_request] = server.find("GET", V1 + "/schedules")
    assert list_request.query["filter"] == [f'display_name="{NAME}"']
    for action, state in (("pause", "PAUSED"), ("resume", "ACTIVE")):
        schedule.change_vertex_schedule(cloud, action, "101", api_endpoint=server.url,
                                        timeout=20)
        assert schedule.list_vertex_schedules(cloud, NAME, api_endpoint=server.url,
                                              timeout=20)[0].state == state
    schedule.change_vertex_schedule(cloud, "delete", "101", api_endpoint=server.url, timeout=20)
    assert schedule.list_vertex_schedules(cloud, NAME, api_endpoint=server.url, timeout=20) == []


def test_vertex_schedule_errors_are_reported(vertex_stand_in, packages, cloud_config):
    server = vertex_stand_in(create_status=400)
    cloud = resolve_cloud(cloud_config(), "vertex")
    with pytest.raises(CloudCallError) as raised:
        schedule.create_vertex_schedule(packages["vertex"].path, cloud, NAME, "0 3 * * *",
                                        api_endpoint=server.url, timeout=20)
    assert "HTTP 400" in str(raised.value) and "bad cron" in str(raised.value)
    with pytest.raises(CloudCallError, match="get schedule 999"):
        schedule.change_vertex_schedule(cloud, "pause", "999", api_endpoint=server.url,
                                        timeout=20)


def test_vertex_schedule_unreachable_endpoint(packages, cloud_config, closed_port_url,
                                              monkeypatch):
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", closed_port_url)
    cloud = resolve_cloud(cloud_config(), "vertex")
    with pytest.raises(CloudCallError, match="create schedule"):
        schedule.create_vertex_schedule(packages["vertex"].path, cloud, NAME, "0 3 * * *",
                                        api_endpoint=closed_port_url, timeout=5)


def test_cli_schedule_vertex_with_a_kfp_cron_is_refused_before_compiling(tmp_path, capsys):
    config_file = write_cloud_config(tmp_path)
    code = cli.main(["schedule", "--target", "vertex", "--config", str(config_file),
                     "--cron", "0 0 3 * * *"])
    assert code == 2 and "vertex takes 5 fields" in capsys.readouterr().err
    assert not list(tmp_path.glob("*.json"))
