import importlib.util
import pathlib

import pytest

import mlpipe  # noqa: F401  (process settings before TensorFlow)

_spec = importlib.util.spec_from_file_location(
    "mlpipe_tests_trained_home", pathlib.Path(__file__).with_name("trained_home.py"))
trained = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(trained)


@pytest.fixture(scope="session")
def trained_home(tmp_path_factory):
    """A run home with one blessed, pushed model (the real pipeline on 2,000 taxi rows)."""
    return trained.trained_home(tmp_path_factory)


@pytest.fixture(scope="session")
def helpers():
    """tests/serving/trained_home.py: write_config, ServerProcess."""
    return trained
