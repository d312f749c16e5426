"""Reads a problem config file: YAML -> validated `ProblemConfig`, with its paths resolved.

Paths in the file are resolved once, here: relative to the config file, or `pkg://PACKAGE/...`
for data shipped inside an installed Python package.
"""

from __future__ import annotations

import importlib.util
import pathlib
from typing import Optional

import yaml
from pydantic import ValidationError

from mlpipe.config.base import PACKAGE_ROOT, ConfigError, describe
from mlpipe.config.problem import ProblemConfig

DEFAULT_CONFIG = PACKAGE_ROOT / "configs" / "taxi.yaml"
PACKAGE_URI_PREFIX = "pkg://"


def load_config(path: Optional[str | pathlib.Path] = None) -> ProblemConfig:
    """Reads, resolves and validates a problem config; raises ConfigError naming file and field."""
    config_path = pathlib.Path(path) if path else DEFAULT_CONFIG
    if not config_path.is_file():
        raise ConfigError(f"config file not found: {config_path}")
    try:
        raw = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise ConfigError(f"{config_path}: not valid YAML: {err}") from err
    if not isinstance(raw, dict):
        raise ConfigError(f"{config_path}: expected a mapping of sections, "
                          f"got {type(raw).__name__}")
    try:
        config = ProblemConfig.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(f"{config_path}: invalid config:\n{describe(err)}") from err
    base = config_path.resolve().parent
    schema_path = resolve_path(config.schema_path, base)
    if "://" not in schema_path and not pathlib.Path(schema_path).is_file():
        raise ConfigError(
            f"{config_path}: schema: file not found: {schema_path}\n  a new problem starts with "
            "`mlpipe init --data FILE.csv --label COLUMN`: it writes a config and a curated "
            "schema that passes the pipeline's checks on that data")
    data_paths = {"path": resolve_path(config.data.path, base)}
    if config.data.score_path:
        data_paths["score_path"] = resolve_path(config.data.score_path, base)
    return config.model_copy(update={
        "data": config.data.model_copy(update=data_paths),
        "schema_path": schema_path,
        "source": str(config_path.resolve()),
    })


def resolve_path(value: str, base: pathlib.Path) -> str:
    """`pkg://pkg/rel` -> inside an installed package; relative -> against `base`; else as is."""
    if value.startswith(PACKAGE_URI_PREFIX):
        package, _, relative = value[len(PACKAGE_URI_PREFIX):].partition("/")
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise ConfigError(f"{value}: package '{package}' is not installed")
        return str(pathlib.Path(list(spec.submodule_search_locations)[0]) / relative)
    if "://" in value or pathlib.Path(value).is_absolute():
        return value
    # A trailing '/' says "the files in these folders" (a span pattern such as span-{SPAN}/):
    # pathlib would drop it.
    return str((base / value).resolve()) + ("/" if value.endswith("/") else "")
