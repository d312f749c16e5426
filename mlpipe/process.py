"""The process environment that must be in place before TensorFlow is imported.

TFX 1.16's Trainer and TFMA paths expect Keras 2 (`tf_keras`); TF 2.16 makes `tf.keras` mean
Keras 3 unless TF_USE_LEGACY_KERAS is set when TensorFlow is first imported. The settings are
written into `os.environ` so every subprocess (Beam workers) inherits them.
"""

import contextlib
import importlib
import logging
import os
import re
import sys
import tempfile
import warnings
from typing import ContextManager, Dict, Iterator

ENVIRONMENT = {
    "TF_USE_LEGACY_KERAS": "1",
    # TensorFlow's C++ INFO/WARNING lines are noise for a pipeline user; errors still show.
    "TF_CPP_MIN_LOG_LEVEL": "2",
}


def apply_environment() -> None:
    """Sets each variable unless the user has set it explicitly."""
    for key, value in ENVIRONMENT.items():
        os.environ.setdefault(key, value)
    # google-api-core warns on import that Python 3.10 is past its support window: TFX 1.16
    # needs 3.10 (see README), so the warning is known and only noise for a pipeline user.
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"google\.")


# TF 2.16 registers its CUDA plugins twice when imported and logs it as three ERROR lines
# ("Unable to register cuFFT/cuDNN/cuBLAS factory", tensorflow/tensorflow#62075): harmless,
# and alarming at the top of every command's output.
_IMPORT_NOISE = re.compile(r"Unable to register cu\w+ factory")


def import_tensorflow_quietly() -> None:
    """Imports TensorFlow with its known start-up noise left out of stderr (any other line it
    writes there still reaches the user), and keeps the deprecation notices that TFMA and TFDV
    trigger inside TensorFlow out of a command's output."""
    logging.getLogger("tensorflow").addFilter(_not_a_deprecation_notice)
    import_filtering_stderr("tensorflow", _IMPORT_NOISE)


def import_filtering_stderr(module: str, noise: "re.Pattern") -> None:
    """Imports `module` (when not imported yet); the lines its import writes to fd 2 that match
    `noise` are dropped, the others written to stderr once it is imported."""
    if module in sys.modules:
        return
    sys.stderr.flush()
    saved_stderr = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            importlib.import_module(module)
        finally:
            os.dup2(saved_stderr, 2)
            os.close(saved_stderr)
            captured.seek(0)
            lines = captured.read().decode(errors="replace").splitlines(keepends=True)
            sys.stderr.write("".join(line for line in lines if not noise.search(line)))
            sys.stderr.flush()


def _not_a_deprecation_notice(record: logging.LogRecord) -> bool:
    return "is deprecated and will be removed" not in str(record.msg)


# Beam's DirectRunner talks gRPC to its worker processes on localhost; gRPC honours
# http(s)_proxy even there, so behind a proxy (or with one pointing nowhere) the workers hang.
LOOPBACK = ("localhost", "127.0.0.1")


@contextlib.contextmanager
def environment(values: Dict[str, str]) -> Iterator[None]:
    """While the block runs, `os.environ` holds `values` (processes started meanwhile inherit
    them); afterwards each variable is as it was, unset if it was."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def loopback_without_proxy() -> ContextManager[None]:
    """While the block runs, `no_proxy`/`NO_PROXY` name the loopback addresses too; traffic
    elsewhere still goes through the configured proxy."""
    values = {}
    for name in ("no_proxy", "NO_PROXY"):
        kept = [host for host in os.environ.get(name, "").split(",") if host.strip()]
        values[name] = ",".join(kept + [host for host in LOOPBACK if host not in kept])
    return environment(values)
