"""Bad requests in bulk against `mlpipe serve` (issue 22): 1,000 generated bodies, each wrong in
one way a client gets wrong (types, missing and extra fields, huge numbers, deep nesting,
invalid UTF-8, bodies over the limit, not JSON at all under another content type). Every answer
is a 4xx with an error that names the field where there is one, no 5xx, the server still answers
a good request the same way, and its memory is flat afterwards."""

import json
import random

import httpx
import pytest

import mlpipe  # noqa: F401  (process settings before TensorFlow)
from mlpipe.config.serving import ServingConfig
from tests.support.cli import ServerProcess
from tests.support.configs import write_config

pytestmark = pytest.mark.e2e

BODIES = 1000
ROW = {"fare": 12.5, "trip_start_month": 5, "trip_start_hour": 19, "trip_start_day": 6,
       "trip_start_timestamp": 1400269500, "trip_miles": 2.5, "payment_type": "Credit Card",
       "company": "Flash Cab", "trip_seconds": 300, "pickup_community_area": 8}
REQUIRED = ("fare", "trip_start_month", "trip_start_hour", "trip_start_day", "trip_miles",
            "payment_type")
MAX_BODY = 64 * 1024
# RSS growth allowed over 1,000 bad requests (allocator noise; a leak of one body each would
# be tens of megabytes).
RSS_SLACK_MB = 25


@pytest.fixture(scope="module")
def server(trained_home, tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad-bodies")
    config_file = write_config(folder / "config.yaml", trained_home["config"],
                               serving=ServingConfig(max_body_bytes=MAX_BODY))
    process = ServerProcess(config_file, trained_home["base"])
    yield process
    process.stop()


def _json(body) -> bytes:
    return json.dumps(body).encode()


def _cases(rng: random.Random):
    """(name, content bytes, content type, the field the answer must name or None)."""
    wrong_values = [("fare", "twelve"), ("fare", True), ("fare", {"a": 1}), ("fare", [[1.0]]),
                    ("trip_start_hour", "7pm"), ("trip_start_hour", 7.5),
                    ("payment_type", 5), ("payment_type", ["Cash", "Card"]),
                    ("trip_miles", [1.0, 2.0]), ("company", {"name": "x"})]
    makers = []

    def wrong_type():
        field, value = rng.choice(wrong_values)
        return "wrong type", _json({"instances": [{**ROW, field: value}]}), field

    def missing():
        field = rng.choice(REQUIRED)
        row = {k: v for k, v in ROW.items() if k != field}
        return "missing field", _json({"instances": [row]}), field

    def extra():
        field = rng.choice(["tips", "colour", "Fare", "fare ", ""])
        return "extra field", _json({"instances": [{**ROW, field: 1.0}]}), field

    def huge():
        """Numbers the feature's type cannot hold (int64, float32) or JSON cannot (NaN, inf);
        1e30 is a legal float32, so a float feature gets 1e39."""
        field = rng.choice(["trip_start_hour", "trip_start_timestamp", "fare"])
        numbers = ["1e39", "-3.5e38"] if field == "fare" else ["1" + "0" * 30, "-1" + "0" * 20]
        number = rng.choice(numbers + ["1e999", "NaN", "Infinity"])
        text = json.dumps({"instances": [{**ROW, field: 0}]}).replace(
            f'"{field}": 0', f'"{field}": {number}')
        return "huge number", text.encode(), None

    def deep():
        depth = rng.choice([200, 1100, 5000])
        return "deep nesting", ('{"instances": ' + "[" * depth + "]" * depth + "}").encode(), None

    def bad_utf8():
        text = _json({"instances": [{**ROW, "payment_type": "PLACEHOLDER"}]})
        return "invalid UTF-8", text.replace(b"PLACEHOLDER", b"\xff\xfe\xc3"), None

    def too_big():
        return "over the size limit", b'{"instances": [' + b" " * (MAX_BODY * 4) + b"]}", "body"

    def shape():
        body = rng.choice([[], "rows", 5, None, {"instances": {}}, {"instances": "x"},
                           {"instances": [1, 2]}, {"inputs": {"fare": [1.0, 2.0],
                                                              "trip_miles": [1.0]}},
                           {"instances": [ROW], "inputs": {}}, {}])
        return "wrong shape", _json(body), None

    def not_json():
        content, kind = rng.choice([(b"fare=12.5&trip_miles=2",
                                     "application/x-www-form-urlencoded"),
                                    (b"<instances><fare>1</fare></instances>", "application/xml"),
                                    (b"fare,trip_miles\n12.5,2\n", "text/csv"),
                                    (b"\x00\x01\x02", "application/octet-stream")])
        return "not JSON", content, None, kind

    makers = [wrong_type, missing, extra, huge, deep, bad_utf8, shape, not_json]
    for index in range(BODIES):
        made = too_big() if index % 100 == 0 else rng.choice(makers)()
        name, content, field = made[:3]
        kind = made[3] if len(made) > 3 else "application/json"
        yield name, content, kind, field


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def test_a_thousand_bad_bodies_get_4xx_naming_the_field_and_memory_stays_flat(server):
    predict = f"{server.url}:predict"
    with httpx.Client(timeout=30) as client:
        good = client.post(predict, json={"instances": [ROW]})
        assert good.status_code == 200, good.text
        for _ in range(100):  # warm: allocator pools, model call paths
            client.post(predict, json={"instances": [ROW]})
        before = _rss_mb(server.process.pid)

        answers = {}
        for name, content, kind, field in _cases(random.Random(22)):
            response = client.post(predict, content=content, headers={"content-type": kind})
            answers.setdefault(name, []).append(response.status_code)
            assert 400 <= response.status_code < 500, (name, content[:200], response.text)
            error = response.json()
            assert error.get("error"), (name, response.text)
            if field is not None:
                assert error.get("field") == field or repr(field) in error["error"], \
                    (name, field, response.text)

        after = _rss_mb(server.process.pid)
        again = client.post(predict, json={"instances": [ROW]})
    assert again.status_code == 200 and again.json() == good.json()
    assert sum(len(codes) for codes in answers.values()) == BODIES
    assert len(answers) == 9, sorted(answers)  # every kind of fault was sent
    assert after - before < RSS_SLACK_MB, f"RSS {before:.0f} MB -> {after:.0f} MB"
    assert server.process.poll() is None
