"""Versions of the package's own code, as inputs of TFX's cache.

Transform and Trainer reference their module code by dotted path, so TFX cannot see it change:
the code version is passed to them in `custom_config`, and changes whenever any source that
shapes the model or its signatures changes: the trainer package and every mlpipe module it
imports, directly or not (the config sections it rebuilds, the shared names of the signatures).
"""

import ast
import hashlib
import pathlib
from typing import Iterable, Set

from mlpipe.config import PACKAGE_ROOT

# The modules TFX runs inside Transform, Tuner and Trainer.
TRAINER_ENTRY_POINTS = ("mlpipe.trainer.preprocessing", "mlpipe.trainer.model",
                        "mlpipe.trainer.tuning")


def trainer_code_version() -> str:
    """Hash of the trainer modules and every mlpipe module they import (found by parsing)."""
    return source_hash(trainer_sources())


def package_fingerprint() -> str:
    """Hash of every Python source of the mlpipe package (the graph and the module code)."""
    return source_hash(PACKAGE_ROOT.rglob("*.py"))


def trainer_sources() -> Set[pathlib.Path]:
    found: Set[pathlib.Path] = set()
    pending = list(TRAINER_ENTRY_POINTS)
    while pending:
        for path in _module_files(pending.pop()):
            if path not in found:
                found.add(path)
                pending.extend(_imported_mlpipe_modules(path))
    return found


def source_hash(paths: Iterable[pathlib.Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(str(path.relative_to(PACKAGE_ROOT)).encode() + path.read_bytes())
    return digest.hexdigest()[:16]


def _module_files(module: str) -> Iterable[pathlib.Path]:
    """The source of `module` (and the `__init__.py` of each package on its path, which runs
    when it is imported)."""
    parts = module.split(".")[1:]
    files = [PACKAGE_ROOT / "__init__.py"]
    for depth in range(1, len(parts) + 1):
        files.append(PACKAGE_ROOT.joinpath(*parts[:depth], "__init__.py"))
    files.append(PACKAGE_ROOT.joinpath(*parts).with_suffix(".py"))
    return [path for path in files if path.is_file()]


def _imported_mlpipe_modules(path: pathlib.Path) -> Iterable[str]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from mlpipe.x import y`: y may be a module of package x, or a name in it.
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        yield from (name for name in names if name == "mlpipe" or name.startswith("mlpipe."))
