"""Shared fixtures for the fast suite: the taxi config, its curated schema, small taxi CSVs and
one real trained run home. The helpers behind them live in tests/support/ (import them directly:
`from tests.support.taxi import TAXI_HEADER`, `from tests.support.cli import run_mlpipe`, ...).

`mlpipe` is imported first so its process settings (TF_USE_LEGACY_KERAS, ...) are in place
before any test module imports TensorFlow.
"""

import pathlib

import mlpipe  # noqa: F401  (process settings before TensorFlow)
import pytest
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2

from mlpipe.config import load_config
from mlpipe.core import schema_io
from tests.support import taxi
from tests.support import problems
from tests.support import trained_home as trained


def pytest_configure(config):
    # google-api-core's notice about Python 3.10 is noise in every test module's output.
    config.addinivalue_line(
        "filterwarnings", "ignore:You are using a non-supported Python version:FutureWarning")


@pytest.fixture(scope="session")
def taxi_config():
    return load_config()


@pytest.fixture(scope="session")
def taxi_schema(taxi_config):
    return text_format.Parse(pathlib.Path(taxi_config.schema_path).read_text(), schema_pb2.Schema())


@pytest.fixture(scope="session")
def numeric_columns(taxi_schema):
    return schema_io.numeric_columns(taxi_schema)


@pytest.fixture(scope="session")
def taxi_header():
    return list(taxi.TAXI_HEADER)


@pytest.fixture(scope="session")
def taxi_row():
    """taxi_row(**changes) -> a valid trip as a dict, with `changes` applied."""
    return taxi.taxi_row


@pytest.fixture(scope="session")
def write_csv():
    """write_csv(path, rows, header=TAXI_HEADER) writes dict rows (missing keys -> empty)."""
    return taxi.write_csv


@pytest.fixture
def config_for_data(taxi_config):
    """config_for_data(path) -> the taxi config reading `path` instead of the shipped CSV."""
    def make(path):
        return taxi_config.model_copy(
            update={"data": taxi_config.data.model_copy(update={"path": str(path)})})
    return make


@pytest.fixture(scope="session")
def trained_home(tmp_path_factory):
    """A run home with one blessed, pushed model (the real pipeline on 2,000 taxi rows):
    {root, config, home, csv, base, pushed}. Shared by tests/serving and tests/monitoring, so the
    pipeline runs once per session."""
    return trained.trained_home(tmp_path_factory)


@pytest.fixture(scope="session")
def multiclass_home(tmp_path_factory):
    """A blessed, pushed penguin species model (tests/support/problems.py), run once."""
    return problems.trained_problem(tmp_path_factory, "multiclass")


@pytest.fixture(scope="session")
def regression_home(tmp_path_factory):
    """A blessed, pushed taxi fare model (tests/support/problems.py), run once."""
    return problems.trained_problem(tmp_path_factory, "regression")
