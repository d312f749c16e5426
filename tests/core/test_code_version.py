"""The code version given to Transform and Trainer covers every source that shapes the model."""

import pathlib

from mlpipe.config import PACKAGE_ROOT
from mlpipe.core import code_version


def _relative(paths):
    return {path.relative_to(PACKAGE_ROOT).as_posix() for path in paths}


def test_trainer_sources_follow_imports_into_config_and_contract():
    sources = _relative(code_version.trainer_sources())
    # The modules TFX runs, and what they import: the config sections rebuilt from
    # custom_config, the signature names, and the packages' __init__ files that run on import.
    assert {"trainer/model.py", "trainer/preprocessing.py", "trainer/features.py",
            "config/problem.py", "config/base.py", "core/contract.py", "errors.py",
            "__init__.py", "process.py"} <= sources


def test_code_that_does_not_shape_the_model_is_left_out():
    sources = _relative(code_version.trainer_sources())
    assert not {path for path in sources
                if path.startswith(("serving/", "report/", "monitoring/", "kubeflow/", "cli"))}


def test_version_is_the_hash_of_those_sources(tmp_path):
    assert code_version.trainer_code_version() == code_version.source_hash(
        code_version.trainer_sources())
    first = code_version.source_hash([PACKAGE_ROOT / "config" / "problem.py"])
    second = code_version.source_hash([PACKAGE_ROOT / "config" / "metrics.py"])
    assert first != second and len(first) == 16


def test_package_fingerprint_covers_every_module():
    assert code_version.package_fingerprint() == code_version.source_hash(
        pathlib.Path(PACKAGE_ROOT).rglob("*.py"))
