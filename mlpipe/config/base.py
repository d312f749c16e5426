"""What every config section shares: one strict pydantic base, and readable validation errors."""

import pathlib

from pydantic import BaseModel, ConfigDict, ValidationError

from mlpipe.errors import ConfigError

# The installed `mlpipe` package folder: bundled configs and schemas live under it.
PACKAGE_ROOT = pathlib.Path(__file__).resolve().parent.parent

__all__ = ["ConfigError", "PACKAGE_ROOT", "Strict", "describe"]


class Strict(BaseModel):
    """Unknown keys are errors (a misspelt key must not be silently ignored); values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def describe(err: ValidationError, prefix: str = "") -> str:
    """One `  field.path: problem` line per validation error."""
    lines = []
    for problem in err.errors():
        field = ".".join(str(part) for part in problem["loc"]) or "(top level)"
        lines.append(f"  {prefix}{field}: {problem['msg']}")
    return "\n".join(lines)
