"""The container engine, the pipeline image and a small cloud problem for the container tests.

The image is the one `make image` builds (scripts/build-image.sh: Docker's layer cache keeps an
unchanged image free); MLPIPE_TEST_IMAGE names an image already built (`make test-cloud` builds
it first, so its build time and smoke check are printed once).
"""

import os
import pathlib
import subprocess
import sys

import pytest

from tests.cloud.problem import write_cloud_problem

REPO = pathlib.Path(__file__).resolve().parents[2]
ROWS = 2000
# Written by scripts/docker-engine.sh when it starts dockerd (its pid).
ENGINE_STARTED = pathlib.Path("/tmp/mlpipe-dockerd.started")


def pytest_collection_modifyitems(items):
    for item in items:
        if pathlib.Path(str(item.fspath)).parent == pathlib.Path(__file__).parent:
            item.add_marker(pytest.mark.containers)


@pytest.fixture(scope="session")
def docker_cli():
    """The docker CLI of a running engine (installed and started when none runs; an engine this
    session started is stopped at its end, one that was running is left running)."""
    engine = REPO / "scripts" / "docker-engine.sh"
    ours_before = ENGINE_STARTED.exists()
    result = subprocess.run([str(engine)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    yield result.stdout.strip().splitlines()[-1]
    if ENGINE_STARTED.exists() and not ours_before:
        subprocess.run([str(engine), "stop"], timeout=120)


@pytest.fixture(scope="session")
def image(docker_cli):
    given = os.environ.get("MLPIPE_TEST_IMAGE")
    if given:
        return given
    python310 = pathlib.Path(sys.base_prefix) / "bin" / "python3.10"
    result = subprocess.run([str(REPO / "scripts" / "build-image.sh")], cwd=REPO,
                            env=dict(os.environ, PYTHON310=str(python310), IMAGE="mlpipe:test"),
                            capture_output=True, text=True, timeout=3000)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return "mlpipe:test"


@pytest.fixture(scope="session")
def storage(tmp_path_factory):
    """The host folder standing in for Cloud Storage: gs://BUCKET/x is storage/BUCKET/x."""
    return tmp_path_factory.mktemp("gcs")


@pytest.fixture(scope="session")
def cloud_problem(storage, tmp_path_factory, taxi_config):
    """A config file for 2,000 taxi rows whose data is 'uploaded' to gs://BUCKET/data/."""
    return write_cloud_problem(storage, tmp_path_factory.mktemp("cloud-problem"),
                               taxi_config.data.path, ROWS)
