"""Shared fixtures for the fast suite: the taxi config, its curated schema and small taxi CSVs.

`mlpipe` is imported first so its process settings (TF_USE_LEGACY_KERAS, ...) are in place
before any test module imports TensorFlow.
"""

import csv
import importlib.util
import pathlib

import mlpipe  # noqa: F401  (process settings before TensorFlow)
import pytest
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2

from mlpipe.config import load_config
from mlpipe.core import schema_io

# The column order of the taxi CSV shipped with tfx.
TAXI_HEADER = [
    "pickup_community_area", "fare", "trip_start_month", "trip_start_hour", "trip_start_day",
    "trip_start_timestamp", "pickup_latitude", "pickup_longitude", "dropoff_latitude",
    "dropoff_longitude", "trip_miles", "pickup_census_tract", "dropoff_census_tract",
    "payment_type", "company", "trip_seconds", "dropoff_community_area", "tips",
]

# One valid trip: every column present and inside the curated schema's domains.
TAXI_ROW = {
    "pickup_community_area": 8, "fare": 10.0, "trip_start_month": 5, "trip_start_hour": 19,
    "trip_start_day": 6, "trip_start_timestamp": 1400269500, "pickup_latitude": 41.89,
    "pickup_longitude": -87.63, "dropoff_latitude": 41.88, "dropoff_longitude": -87.62,
    "trip_miles": 2.5, "pickup_census_tract": 17031081700, "dropoff_census_tract": 17031320100,
    "payment_type": "Credit Card", "company": "Flash Cab", "trip_seconds": 600,
    "dropoff_community_area": 32, "tips": 3.0,
}


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
    return list(TAXI_HEADER)


@pytest.fixture(scope="session")
def taxi_row():
    """taxi_row(**changes) -> a valid trip as a dict, with `changes` applied."""
    def make(**changes):
        unknown = set(changes) - set(TAXI_ROW)
        assert not unknown, f"not taxi columns: {unknown}"
        return {**TAXI_ROW, **changes}
    return make


@pytest.fixture(scope="session")
def write_csv():
    """write_csv(path, rows, header=TAXI_HEADER) writes dict rows (missing keys -> empty)."""
    def write(path, rows, header=TAXI_HEADER):
        path = pathlib.Path(path)
        with path.open("w", newline="") as sink:
            writer = csv.writer(sink)
            writer.writerow(header)
            for row in rows:
                writer.writerow(["" if row.get(column) is None else row[column]
                                 for column in header])
        return path
    return write


@pytest.fixture
def config_for_data(taxi_config):
    """config_for_data(path) -> the taxi config reading `path` instead of the shipped CSV."""
    def make(path):
        return taxi_config.model_copy(
            update={"data": taxi_config.data.model_copy(update={"path": str(path)})})
    return make


# tests/serving/trained_home.py: a real pipeline run (shared by tests/serving and
# tests/monitoring, so it runs once per session), plus write_config and ServerProcess.
_trained_spec = importlib.util.spec_from_file_location(
    "mlpipe_tests_trained_home", pathlib.Path(__file__).parent / "serving" / "trained_home.py")
trained = importlib.util.module_from_spec(_trained_spec)
_trained_spec.loader.exec_module(trained)


@pytest.fixture(scope="session")
def trained_home(tmp_path_factory):
    """A run home with one blessed, pushed model (the real pipeline on 2,000 taxi rows)."""
    return trained.trained_home(tmp_path_factory)


@pytest.fixture(scope="session")
def helpers():
    return trained
