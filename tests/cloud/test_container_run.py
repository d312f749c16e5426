"""The compiled pipeline, both targets, executed in containers of the pipeline image to a pushed
model (tests/cloud/backend.py stands in for the KFP / Vertex AI backend), and that model served
by `mlpipe serve` inside the image.

Both targets run on one pipeline root, Kubeflow's spec first: the Vertex AI run is then a
"second run on the same root", whose baseline resolver must find the first run's blessed model.
"""

import csv
import json
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from mlpipe.config import load_config
from mlpipe.config.cloud import resolve_cloud
from mlpipe.core.contract import SERVING
from mlpipe.core.schema_io import environment_features, load_schema
from mlpipe.kubeflow.compile import compile_pipeline
from tests.cloud.backend import LocalBackend, StepFailed
from tests.cloud.problem import BUCKET
from tests.support.ports import free_ports

CONTAINER_TASKS = {"CsvExampleGen", "ImportSchemaGen", "StatisticsGen", "ExampleValidator",
                   "AnomalyGate", "Transform", "Trainer", "Evaluator", "Pusher",
                   "FeatureAttributions", "ModelCard"}


@pytest.fixture(scope="module")
def runs(docker_cli, image, storage, cloud_problem, tmp_path_factory):
    """Each target's compiled spec run in turn on one root: {target: (PipelineRun, compiled)}."""
    config = load_config(str(cloud_problem))
    folder = tmp_path_factory.mktemp("compiled")
    backend = LocalBackend(docker_cli, storage, folder / "logs")
    result = {}
    for target in ("kubeflow", "vertex"):
        cloud = resolve_cloud(config, target, {"image": image})
        compiled = compile_pipeline(config, cloud, target, folder / f"pipeline-{target}")
        result[target] = (backend.run(compiled.spec, compiled.pipeline_root), compiled, backend)
    return result


def test_every_task_ran_in_a_container(runs):
    for target, (run, compiled, _) in runs.items():
        ran = {task.name for task in run.tasks if task.kind == "container"}
        assert ran == CONTAINER_TASKS, target


def test_each_target_pushes_a_version_under_the_push_destination(runs):
    versions = []
    for target, (run, compiled, backend) in runs.items():
        blessing = run.artifact("Evaluator", "blessing")
        assert blessing["metadata"]["blessed"] == 1, (target, blessing)
        pushed = run.artifact("Pusher", "pushed_model")
        assert pushed["metadata"]["pushed"] == 1, (target, pushed)
        destination = backend.local_path(pushed["metadata"]["pushed_destination"])
        assert destination.parent == backend.local_path(
            f"gs://{BUCKET}/mlpipe/taxi-big-tipper/serving")
        assert (destination / "saved_model.pb").is_file()
        assert (destination / "model_card.json").is_file()  # the ModelCard step wrote beside it
        versions.append(destination.name)
    assert len(set(versions)) == 2


def test_the_second_run_on_the_root_compares_with_the_first_runs_blessed_model(runs):
    first, _, _ = runs["kubeflow"]
    second, _, backend = runs["vertex"]
    assert first.artifact("baseline_resolver-model-resolver", "model") is None
    baseline = second.artifact("baseline_resolver-model-resolver", "model")
    assert baseline is not None
    assert baseline["name"] == first.artifact("Trainer", "model")["name"]
    blessing = second.artifact("Evaluator", "blessing")["metadata"]
    assert blessing["baseline_model_id"] == baseline["name"]


def test_a_failing_step_names_itself_its_exit_code_and_log(docker_cli, image, storage,
                                                            cloud_problem, tmp_path):
    config = load_config(str(cloud_problem))
    config = config.model_copy(update={"cloud": config.cloud.model_copy(
        update={"data_path": f"gs://{BUCKET}/no-such-data/taxi.csv"})})
    compiled = compile_pipeline(config, resolve_cloud(config, "kubeflow", {"image": image}),
                                "kubeflow", tmp_path / "pipeline.yaml")
    backend = LocalBackend(docker_cli, storage, tmp_path / "logs")
    with pytest.raises(StepFailed) as failed:
        backend.run(compiled.spec, compiled.pipeline_root)
    assert failed.value.task.startswith("CsvExampleGen")  # its driver or its executor
    assert failed.value.code != 0
    assert "no-such-data" in str(failed.value)


def test_the_pushed_model_is_served_by_mlpipe_serve_in_the_image(runs, docker_cli, image,
                                                                  cloud_problem):
    run, compiled, backend = runs["vertex"]
    pushed = backend.local_path(run.artifact("Pusher", "pushed_model")["metadata"]
                                ["pushed_destination"])
    home = pushed.parents[1]  # <home>/serving/<version>: the run-home layout mlpipe serve reads
    [port] = free_ports(1)
    server = subprocess.Popen(
        [docker_cli, "run", "--rm", "--network", "host", "-v", f"{home}:/srv/runs/taxi-big-tipper",
         image, "mlpipe", "serve", "--home", "/srv/runs", "--host", "127.0.0.1",
         "--port", str(port), "--no-log"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True)
    try:
        row = _serving_row(load_config(str(cloud_problem)))
        answer = _post_when_up(f"http://127.0.0.1:{port}/v1/models/taxi-big-tipper:predict",
                               {"instances": [row]}, server)
    finally:
        server.terminate()
        server.wait(timeout=60)
    prediction = answer["predictions"][0]
    assert 0.0 <= prediction[0] <= 1.0, answer


def _serving_row(config) -> dict:
    """The first row of the problem's data as a :predict instance: its SERVING features, typed
    as the schema says, blank cells left out."""
    features = environment_features(load_schema(config.schema_path), SERVING)
    with open(config.data.path, newline="") as data:
        first = next(csv.DictReader(data))
    cast = {"INT": int, "FLOAT": float, "BYTES": str}
    return {name: cast[info.type](first[name]) for name, info in features.items()
            if first.get(name, "") != ""}


def _post_when_up(url, body, server, timeout=180):
    deadline = time.monotonic() + timeout
    data = json.dumps(body).encode()
    while True:
        try:
            request = urllib.request.Request(url, data=data,
                                             headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:  # it answered: no point retrying
            raise AssertionError(f"{error.code}: {error.read().decode()[:2000]}") from error
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.terminate()  # its output ends only when it does
                output, _ = server.communicate(timeout=60)
                raise AssertionError(f"mlpipe serve did not answer: {output[-3000:]}")
            time.sleep(1)


@pytest.fixture(scope="module")
def distributed(runs, image, cloud_problem, tmp_path_factory):
    """The Trainer as a Vertex AI CustomJob of two replicas (`training.vertex_job`,
    `replica_count: 2`) on the Vertex run's examples and transform graph, then the Evaluator
    step on its model: (the job, the replicas' logs, the model artifact, the evaluation)."""
    config = load_config(str(cloud_problem))
    cloud = resolve_cloud(config, "vertex", {"image": image, "training": {
        "vertex_job": True, "replica_count": 2, "machine_type": "n1-standard-4"}})
    spec = compile_pipeline(config, cloud, "vertex",
                            tmp_path_factory.mktemp("distributed") / "pipeline.json").spec
    run, compiled, backend = runs["vertex"]
    trainer_input = backend.executor_input(spec, "Trainer", run.outputs, compiled.pipeline_root)
    job = _vertex_custom_job(trainer_input)
    logs = backend.run_custom_job(job, "Trainer")
    model = trainer_input["outputs"]["artifacts"]["model"]["artifacts"][0]
    fed = dict(run.outputs, Trainer={"model": [model]},
               **{"baseline_resolver-model-resolver": {"model": []}})
    evaluated = backend.run_task(spec, "Evaluator", fed, compiled.pipeline_root)
    return job, logs, model, evaluated, backend


def _vertex_custom_job(executor_input: dict) -> dict:
    """The CustomJob TFX's Vertex Trainer step submits for this ExecutorInput, built by TFX's
    own code: the step entrypoint's parsing (kubeflow_v2_entrypoint_utils, as
    kubeflow_v2_run_executor does it) and the request its GenericExecutor.Do hands the Vertex
    client (VertexJobClient.create_training_job). Only the call to the Vertex API is left out:
    the client builds its endpoint from the region, with no override."""
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2
    from tfx.extensions.google_cloud_ai_platform import training_clients
    from tfx.extensions.google_cloud_ai_platform.trainer import executor as vertex_trainer
    from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_entrypoint_utils as entry
    from tfx.utils import json_utils, name_utils
    message = json_format.ParseDict(executor_input, pipeline_spec_pb2.ExecutorInput())
    names = {}
    inputs = entry.parse_raw_artifact_dict(message.inputs.artifacts, names)
    outputs = entry.parse_raw_artifact_dict(message.outputs.artifacts, names)
    properties = entry.parse_execution_properties(message.inputs.parameter_values,
                                                  message.inputs.parameters, None)
    custom_config = json_utils.loads(properties["custom_config"])
    job_args = dict(custom_config[vertex_trainer.TRAINING_ARGS_KEY])
    assert custom_config[vertex_trainer.ENABLE_VERTEX_KEY]
    job_args.pop("project")  # as runner.start_cloud_training does
    executor_class = name_utils.get_full_name(vertex_trainer.GenericExecutor()._GetExecutorClass())
    client = training_clients.VertexJobClient.__new__(training_clients.VertexJobClient)
    return client.create_training_job(inputs, outputs, properties, executor_class, job_args,
                                      custom_config.get(vertex_trainer.JOB_ID_KEY), None)


def test_the_vertex_custom_job_trains_on_two_containers_and_the_chief_alone_exports(distributed):
    job, logs, model, _, backend = distributed
    pools = job["job_spec"]["worker_pool_specs"]
    assert [pool["replica_count"] for pool in pools] == [1, 1]
    assert set(logs) == {"Trainer.workerpool0-0", "Trainer.workerpool1-0"}
    texts = {replica: log.read_text() for replica, log in logs.items()}
    for text in texts.values():  # the cluster Vertex describes, read by both replicas
        assert ("Training plan: multi_worker over 2 workers, 2 replicas (auto: the cluster has "
                "2 workers)") in text
    assert "the chief's export" in texts["Trainer.workerpool0-0"]
    assert "a non-chief worker's scratch copy" in texts["Trainer.workerpool1-0"]
    assert "the chief's export" not in texts["Trainer.workerpool1-0"]
    exported = backend.local_path(model["uri"]) / "Format-Serving"
    assert (exported / "saved_model.pb").is_file()


def test_the_two_worker_model_is_as_good_as_the_single_worker_one(distributed, runs):
    from mlpipe.core.lineage import overall_metrics
    run, _, backend = runs["vertex"]
    *_, evaluated, _ = distributed
    single = overall_metrics(
        str(backend.local_path(run.artifact("Evaluator", "evaluation")["uri"])))
    two = overall_metrics(str(backend.local_path(evaluated["evaluation"][0]["uri"])))
    # The same data, epochs and global batch, each batch split over two replicas: AUC within
    # noise on the ~690 eval rows, and the KPI (auc >= 0.8) met.
    assert two["auc"] >= 0.8 and abs(two["auc"] - single["auc"]) <= 0.03, (single, two)
    assert evaluated["blessing"][0]["metadata"]["blessed"] == 1


def test_mlpipe_deploy_sends_the_container_runs_model_to_vertex(runs, tmp_path):
    """`mlpipe deploy --target vertex` (the real aiplatform SDK, against the recording stand-in
    Vertex API of tests/kubeflow) uploads the version the Vertex run's Pusher wrote."""
    from tests.kubeflow.conftest import StandIn
    from tests.kubeflow.test_deploy import DEPLOY, V1, vertex_model_routes
    from tests.support.cli import run_mlpipe
    from tests.support.cloud import write_cloud_config
    run, _, backend = runs["vertex"]
    pushed = backend.local_path(run.artifact("Pusher", "pushed_model")["metadata"]
                                ["pushed_destination"])
    model_uri = "gs://" + pushed.relative_to(backend.storage).as_posix()
    assert (backend.local_path(model_uri) / "saved_model.pb").is_file()
    config = write_cloud_config(tmp_path, deploy={**DEPLOY, "traffic_percentage": 100})
    server = StandIn(vertex_model_routes())
    try:
        result = run_mlpipe("deploy", "--target", "vertex", "--config", config,
                            "--model-uri", model_uri,
                            "--api-endpoint", server.url, cwd=tmp_path, timeout=300)
        uploads = server.find("POST", V1 + "/models:upload")
        deployed = server.find("POST", V1 + "/endpoints/e1:deployModel")
    finally:
        server.close()
    assert result.returncode == 0, result.stderr[-3000:]
    [upload] = uploads
    assert upload.json()["model"]["artifactUri"] == model_uri
    assert len(deployed) == 1
