"""`mlpipe serve` over real HTTP on 127.0.0.1, with a model pushed by the real pipeline.

One server (a child process) answers the format and error tests, in any order (none stops it or
depends on another's requests); the request log test stops a server of its own and reads its log
back with TFDV. The hot switch runs on a second server over a copy of the pushed version.
"""

import concurrent.futures
import itertools
import re
import shutil
import threading
import time

import httpx
import numpy as np
import pytest

import mlpipe  # noqa: F401  (process settings before TensorFlow)
from mlpipe.serving.request_log import META_COLUMNS, log_files
from mlpipe.config.serving import ServingConfig
from tests.support.cli import ServerProcess
from tests.support.configs import write_config
from tests.support.examples import example_of

pytestmark = pytest.mark.e2e

REQUIRED = {"fare": 12.5, "trip_start_month": 5, "trip_start_hour": 19, "trip_start_day": 6,
            "trip_start_timestamp": 1400269500, "trip_miles": 2.5, "payment_type": "Credit Card"}
ROWS = [
    dict(REQUIRED),
    {**REQUIRED, "fare": 4.25, "payment_type": "Cash", "company": "Flash Cab",
     "pickup_community_area": 8, "dropoff_community_area": 32, "trip_seconds": 300,
     "pickup_latitude": 41.89, "pickup_longitude": -87.63},
    {**REQUIRED, "fare": 40.0, "trip_miles": 17.0, "trip_start_hour": 6, "company": None},
]


def _start_server(trained_home, folder):
    config_file = write_config(
        folder / "config.yaml", trained_home["config"],
        serving=ServingConfig(log_dir=str(folder / "log"), max_body_bytes=64 * 1024,
                              log_flush_seconds=0.2))
    process = ServerProcess(config_file, trained_home["base"])
    process.log_dir = folder / "log"
    return process


@pytest.fixture(scope="module")
def server(trained_home, tmp_path_factory):
    process = _start_server(trained_home, tmp_path_factory.mktemp("serve"))
    yield process
    process.stop()


@pytest.fixture(scope="module")
def in_process(trained_home):
    """The same pushed model called directly: tf.Examples built with protobuf (the reference)."""
    import tensorflow as tf
    path = trained_home["home"].pushed_versions()[-1]
    serve = tf.saved_model.load(str(path)).signatures["serving_default"]

    def predict(rows):
        examples = [example_of(row).SerializeToString() for row in rows]
        return serve(examples=tf.constant(examples))["probability"].numpy()
    return predict




def _version(trained_home):
    return trained_home["home"].pushed_versions()[-1].name


def test_status_and_metadata_in_tf_serving_shape(server, trained_home):
    version = _version(trained_home)
    status = httpx.get(server.url).json()
    assert status == {"model_version_status": [{
        "version": version, "state": "AVAILABLE",
        "status": {"error_code": "OK", "error_message": ""}}]}
    assert httpx.get(f"{server.url}/versions/{version}").json() == status

    metadata = httpx.get(f"{server.url}/metadata").json()
    assert metadata["model_spec"] == {"name": "taxi-big-tipper", "signature_name": "",
                                      "version": version}
    signature = metadata["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert signature["inputs"]["examples"]["dtype"] == "DT_STRING"
    assert signature["outputs"]["probability"]["dtype"] == "DT_FLOAT"
    assert signature["method_name"] == "tensorflow/serving/predict"

    assert httpx.get(f"{server.base_url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{server.base_url}/readyz")
    assert ready.status_code == 200 and ready.json()["version"] == int(version)


def test_row_and_columnar_predictions_match_the_model_called_directly(server, in_process,
                                                                       trained_home):
    expected = in_process(ROWS)
    rows = httpx.post(f"{server.url}:predict", json={"instances": ROWS})
    assert rows.status_code == 200, rows.text
    assert rows.headers["x-model-version"] == _version(trained_home)
    predictions = rows.json()["predictions"]
    assert np.array(predictions).shape == (3, 1)
    np.testing.assert_allclose(predictions, expected, rtol=1e-6)

    columns = {name: [row.get(name) for row in ROWS] for name in set().union(*ROWS)}
    columnar = httpx.post(f"{server.url}:predict",
                          json={"signature_name": "serving_default", "inputs": columns})
    assert columnar.status_code == 200, columnar.text
    np.testing.assert_allclose(columnar.json()["outputs"], expected, rtol=1e-6)

    versioned = httpx.post(f"{server.url}/versions/{_version(trained_home)}:predict",
                           json={"instances": ROWS[:1]})
    np.testing.assert_allclose(versioned.json()["predictions"], expected[:1], rtol=1e-6)
    # Values as one-element lists, and bytes as {"b64": ...}, are the same example.
    listed = {**{k: [v] for k, v in REQUIRED.items()}, "payment_type": {"b64": "Q3JlZGl0IENhcmQ="}}
    same = httpx.post(f"{server.url}:predict", json={"instances": [listed]})
    np.testing.assert_allclose(same.json()["predictions"], expected[:1], rtol=1e-6)


def _concurrent_requests(server):
    """64 requests of 1-4 rows from 16 threads: (the rows of each, its answer)."""
    requests = [[{**ROWS[i % 3], "fare": 2.0 + i, "trip_miles": 0.5 * i}] * (1 + i % 4)
                for i in range(64)]
    with httpx.Client(timeout=60) as http, concurrent.futures.ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(
            lambda rows: http.post(f"{server.url}:predict", json={"instances": rows}), requests))
    return requests, answers


def test_concurrent_requests_sharing_model_calls_each_get_their_own_rows(server, in_process):
    requests, answers = _concurrent_requests(server)
    for rows, answer in zip(requests, answers):
        assert answer.status_code == 200, answer.text
        np.testing.assert_allclose(answer.json()["predictions"], in_process(rows), rtol=1e-6)


@pytest.mark.parametrize("body, field, words", [
    ({"instances": [{k: v for k, v in REQUIRED.items() if k != "fare"}]}, "fare",
     "missing required feature 'fare'"),
    ({"instances": [{**REQUIRED, "trip_start_hour": "seven"}]}, "trip_start_hour",
     "expects an integer"),
    ({"instances": [{**REQUIRED, "trip_start_hour": 7.5}]}, "trip_start_hour",
     "expects an integer"),
    ({"instances": [{**REQUIRED, "payment_type": 3}]}, "payment_type", "expects a string"),
    ({"instances": [{**REQUIRED, "fare": True}]}, "fare", "expects a number"),
    ({"instances": [{**REQUIRED, "fare": 1e39}]}, "fare", "out of the FLOAT (float32) range"),
    ({"instances": [{**REQUIRED, "fare": [1.0, 2.0]}]}, "fare", "at most 1 value"),
    ({"instances": [{**REQUIRED, "tips": 2.0}]}, "tips", "unknown feature 'tips'"),
    ({"instances": [{**REQUIRED, "colour": "red"}]}, "colour", "unknown feature 'colour'"),
    ({"inputs": {"fare": [1.0, 2.0], "trip_miles": [1.0]}}, "trip_miles", "has 1 values"),
    ({"instances": []}, "instances", "non-empty"),
    ({"instances": ROWS, "inputs": {}}, None, "exactly one of"),
    ({"instances": ROWS, "signature_name": "other"}, "signature_name", "unknown signature_name"),
])
def test_bad_requests_get_400_naming_the_field_and_the_server_keeps_serving(
        server, body, field, words):
    response = httpx.post(f"{server.url}:predict", json=body)
    assert response.status_code == 400, response.text
    answer = response.json()
    assert words in answer["error"]
    assert answer.get("field") == field
    assert httpx.post(f"{server.url}:predict", json={"instances": ROWS}).status_code == 200


def test_oversized_and_malformed_bodies_get_400(server):
    big = {"instances": [dict(REQUIRED, company="x" * 1000) for _ in range(100)]}
    response = httpx.post(f"{server.url}:predict", json=big)
    assert response.status_code == 400
    assert response.json()["field"] == "body" and "over the limit" in response.json()["error"]

    def chunked():  # no Content-Length: the limit holds while reading
        for _ in range(100):
            yield b" " * 1024
    response = httpx.post(f"{server.url}:predict", content=chunked())
    assert response.status_code == 400 and response.json()["field"] == "body"

    response = httpx.post(f"{server.url}:predict", content=b"{not json")
    assert response.status_code == 400 and "not valid JSON" in response.json()["error"]
    assert httpx.post(f"{server.url}:predict", json={"instances": ROWS}).status_code == 200


def test_unknown_model_or_version_is_404(server):
    assert httpx.get(server.url.replace("taxi-big-tipper", "other")).status_code == 404
    response = httpx.post(f"{server.url}/versions/1:predict", json={"instances": ROWS})
    assert response.status_code == 404
    assert "Specific(taxi-big-tipper, 1)" in response.json()["error"]


def test_request_log_is_flushed_on_stop_and_read_by_tfdv(trained_home, tmp_path):
    import tensorflow_data_validation as tfdv
    server = _start_server(trained_home, tmp_path)
    try:
        requests, answers = _concurrent_requests(server)
        refused = httpx.post(f"{server.url}:predict", json={"instances": [{"fare": "x"}]})
        served = 0
        for _ in range(5):
            assert httpx.post(f"{server.url}:predict",
                              json={"instances": ROWS}).status_code == 200
            served += 1
    finally:
        assert server.stop() == 0
    assert refused.status_code == 400 and all(a.status_code == 200 for a in answers)
    stopped = re.search(r"Stopped: (\d+) requests served in (\d+) model calls", server.output())
    # The concurrent requests shared calls: fewer calls than requests.
    assert stopped and int(stopped[1]) == len(requests) + served, server.output()[-2000:]
    assert int(stopped[2]) < int(stopped[1]), server.output()[-2000:]
    files = log_files(server.log_dir)
    assert files
    lines = [line for path in files for line in path.read_text().splitlines()[1:]]
    rows_logged = len(lines)
    # Every row of every successful predict (sample rate 1), the refused request's not.
    assert f"{rows_logged} rows logged" in server.output()
    assert rows_logged == sum(map(len, requests)) + served * len(ROWS)
    fares = [float(line.split(",")[1]) for line in lines[-served * len(ROWS):]]
    assert fares == [row["fare"] for row in ROWS] * served

    stats = tfdv.generate_statistics_from_csv(str(server.log_dir / "*.csv"))
    dataset = stats.datasets[0]
    assert dataset.num_examples == rows_logged
    names = {feature.path.step[0] for feature in dataset.features}
    assert {"fare", "payment_type", "company", *META_COLUMNS} <= names
    assert "tips" not in names
    payment = next(f for f in dataset.features if f.path.step[0] == "payment_type")
    assert {v.value for v in payment.string_stats.top_values} == {"Credit Card", "Cash"}


def test_hot_switch_to_a_newer_version_under_load_fails_no_request(trained_home,
                                                                    tmp_path_factory):
    source, serving, server = _server_over_a_copy(
        trained_home, tmp_path_factory.mktemp("switch"),
        ServingConfig(poll_seconds=0.3, log_sample_rate=0.1))
    old, new = source.name, str(int(source.name) + 1)
    clients = 4
    answers = {client: [] for client in range(clients)}  # versions, in each client's order
    failures, stop = [], threading.Event()

    def client(number):
        with httpx.Client(timeout=60) as http:
            while not stop.is_set():
                try:
                    response = http.post(f"{server.url}:predict", json={"instances": ROWS})
                except httpx.HTTPError as error:
                    failures.append(repr(error))
                    continue
                if response.status_code != 200:
                    failures.append(response.text)
                else:
                    answers[number].append(response.headers["x-model-version"])

    def every_client_got_the_new_version():
        return all(new in versions for versions in answers.values())

    try:
        with concurrent.futures.ThreadPoolExecutor(clients) as pool:
            running = [pool.submit(client, number) for number in range(clients)]
            time.sleep(1.0)
            # Pushed the way a push must land: complete under another name, then renamed.
            shutil.copytree(source, serving / ".incoming")
            (serving / ".incoming").rename(serving / new)
            deadline = time.monotonic() + 120
            while not every_client_got_the_new_version() and time.monotonic() < deadline:
                time.sleep(0.2)
            stop.set()
            for finished in running:
                finished.result()
        status = httpx.get(server.url).json()["model_version_status"][0]
    finally:
        stop.set()
        server.stop()
    assert not failures, failures[:3]
    # Each client sends one request at a time, so its answers are in the order the server took
    # them: the old version until the switch, the new one from then on, never back.
    for versions in answers.values():
        runs = [(version, len(list(run))) for version, run in itertools.groupby(versions)]
        assert [version for version, _ in runs] == [old, new], runs
    assert status["version"] == new
    assert f"Switched from version {old} to version {new}" in server.output()


def test_overload_is_shed_with_503_and_retry_after_and_the_server_recovers(trained_home,
                                                                           tmp_path):
    """More rows than the queue holds (400): the excess gets 503 with Retry-After at once,
    every accepted request its own answer, and once the load stops requests get in again."""
    config_file = write_config(tmp_path / "config.yaml", trained_home["config"],
                               serving=ServingConfig(max_queued_rows=400, log_sample_rate=0.0))
    server = ServerProcess(config_file, trained_home["base"])
    body = {"instances": (ROWS * 134)[:400]}
    statuses, shed, wrong, stop = [], [], [], threading.Event()

    def client():
        with httpx.Client(timeout=60) as http:
            while not stop.is_set():
                response = http.post(f"{server.url}:predict", json=body)
                statuses.append(response.status_code)
                if response.status_code == 503:
                    shed.append((response.headers.get("retry-after"), response.json()["error"],
                                 response.elapsed.total_seconds()))
                elif len(response.json().get("predictions", [])) != 400:
                    wrong.append(response.text[:300])

    try:
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            running = [pool.submit(client) for _ in range(16)]
            deadline = time.monotonic() + 30
            while len(shed) < 5 and time.monotonic() < deadline:
                time.sleep(0.1)
            stop.set()
            for finished in running:
                finished.result()
        after = httpx.post(f"{server.url}:predict", json={"instances": ROWS}, timeout=60)
    finally:
        stop.set()
        server.stop()
    assert set(statuses) <= {200, 503} and not wrong, (set(statuses), wrong[:2])
    assert len(shed) >= 5, f"no overload seen in {len(statuses)} requests"
    for retry_after, message, _ in shed:
        assert retry_after == "1" and message.startswith("overloaded: ")
    assert sorted(seconds for *_, seconds in shed)[len(shed) // 2] < 0.5  # refused, not queued
    assert after.status_code == 200 and len(after.json()["predictions"]) == len(ROWS)
    assert re.search(r"\d+ shed for overload", server.output())


def test_a_broken_push_is_not_served_and_its_state_is_shown(trained_home, tmp_path):
    """A newer version without its variables appears: the server keeps answering with the
    version it serves, logs why, and lists the broken one as TF Serving would (LOADING while it
    retries, END once it gives up, with the load error)."""
    source, serving, server = _server_over_a_copy(
        trained_home, tmp_path, ServingConfig(poll_seconds=0.2, log_sample_rate=0.0))
    broken = str(int(source.name) + 1)
    try:
        shutil.copytree(source, serving / ".incoming", ignore=shutil.ignore_patterns("variables"))
        (serving / ".incoming").rename(serving / broken)
        deadline = time.monotonic() + 60
        statuses = []
        while time.monotonic() < deadline:
            statuses = httpx.get(server.url).json()["model_version_status"]
            if statuses[0]["state"] == "END":
                break
            time.sleep(0.2)
        answer = httpx.post(f"{server.url}:predict", json={"instances": ROWS}, timeout=60)
    finally:
        server.stop()
    assert [(s["version"], s["state"]) for s in statuses] == [(broken, "END"),
                                                              (source.name, "AVAILABLE")]
    assert statuses[0]["status"]["error_code"] == "UNKNOWN"
    assert statuses[0]["status"]["error_message"]
    assert answer.status_code == 200 and answer.headers["x-model-version"] == source.name
    assert f"version {broken} cannot be loaded" in server.output()


def _server_over_a_copy(trained_home, folder, serving_config: ServingConfig):
    """A server over a run home in `folder` holding a copy of the trained home's newest
    version, so a test can push beside it: (that version, the serving folder, the server)."""
    source = trained_home["home"].pushed_versions()[-1]
    serving = folder / "runs" / trained_home["config"].name / "serving"
    shutil.copytree(source, serving / source.name)
    config_file = write_config(folder / "config.yaml", trained_home["config"],
                               serving=serving_config)
    return source, serving, ServerProcess(config_file, folder / "runs")
