"""The process environment that must be in place before TensorFlow is imported.

TFX 1.16's Trainer and TFMA paths expect Keras 2 (`tf_keras`); TF 2.16 makes `tf.keras` mean
Keras 3 unless TF_USE_LEGACY_KERAS is set when TensorFlow is first imported. The settings are
written into `os.environ` so every subprocess (Beam workers) inherits them. TensorFlow's import,
whenever a command gets to it, leaves its known C++ start-up noise off the terminal.
"""

import contextlib
import importlib.abc
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
    """Sets each variable unless the user has set it explicitly, and makes TensorFlow's import,
    whenever it comes, quiet (`quiet_tensorflow_import`)."""
    for key, value in ENVIRONMENT.items():
        os.environ.setdefault(key, value)
    # google-api-core warns on import that Python 3.10 is past its support window: TFX 1.16
    # needs 3.10 (see README), so the warning is known and only noise for a pipeline user.
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"google\.")
    quiet_tensorflow_import()


# TF 2.16 registers its CUDA plugins twice when imported and logs it as three ERROR lines
# ("Unable to register cuFFT/cuDNN/cuBLAS factory", tensorflow/tensorflow#62075): harmless,
# and alarming at the top of every command's output. TF_CPP_MIN_LOG_LEVEL=2 cannot drop them
# (they are errors; 3 would drop every error), and C++ writes them to fd 2 while `import
# tensorflow` runs, before absl's logging is set up: only the lines themselves can be left out.
_IMPORT_NOISE = re.compile(r"Unable to register cu\w+ factory")


def quiet_tensorflow_import() -> None:
    """From now on, `import tensorflow` (by whichever module first imports it) runs with fd 2
    captured: the known start-up noise is dropped and every other line it wrote there is
    written to stderr once the import is done (an import that fails too). The deprecation notices
    that TFMA and TFDV trigger inside TensorFlow are kept out of a command's output. Nothing is
    imported here: a command that never needs TensorFlow never loads it."""
    logging.getLogger("tensorflow").addFilter(_not_a_deprecation_notice)
    quiet_import("tensorflow", _IMPORT_NOISE)


def quiet_import(module: str, noise: "re.Pattern") -> None:
    """The first import of `module` from now on (not yet imported) drops the lines matching
    `noise` that it writes to fd 2; the others reach stderr when the import is done."""
    if module not in sys.modules and not any(
            isinstance(finder, _FilteringFinder) and finder.module == module
            for finder in sys.meta_path):
        sys.meta_path.insert(0, _FilteringFinder(module, noise))


class _FilteringFinder(importlib.abc.MetaPathFinder):
    """Finds `module` as the finders after it do, and has it executed with `filtered_stderr`."""

    def __init__(self, module: str, noise: "re.Pattern"):
        self.module, self._noise = module, noise

    def find_spec(self, fullname, path, target=None):
        if fullname != self.module:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _FilteringLoader(spec.loader, self._noise)
                return spec
        return None


class _FilteringLoader(importlib.abc.Loader):
    """The module's own loader, its `exec_module` run under `filtered_stderr`; the module then
    names its own loader again (importlib.resources and the like see nothing of this one)."""

    def __init__(self, loader, noise: "re.Pattern"):
        self._loader, self._noise = loader, noise

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        module.__loader__ = self._loader
        if module.__spec__ is not None:
            module.__spec__.loader = self._loader
        with filtered_stderr(self._noise):
            self._loader.exec_module(module)

    def __getattr__(self, name):
        return getattr(self._loader, name)


@contextlib.contextmanager
def filtered_stderr(noise: "re.Pattern") -> Iterator[None]:
    """While the block runs, what is written to fd 2 (C++ as well as Python) is held back; then
    the lines that match `noise` are dropped and the others written to stderr."""
    sys.stderr.flush()
    saved_stderr = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
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
