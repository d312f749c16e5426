"""The taxi config written to a YAML file that loads from any folder (`mlpipe --config`)."""

import copy
import pathlib
from typing import Callable, Optional

import yaml
from pydantic import BaseModel

from mlpipe.config import DEFAULT_CONFIG


def shipped_raw() -> dict:
    """The shipped taxi config as a plain dict, its schema path made absolute (the YAML gives
    it relative to the config's folder, so a copy elsewhere would not find it)."""
    raw = yaml.safe_load(DEFAULT_CONFIG.read_text())
    raw["schema"] = str((DEFAULT_CONFIG.parent / raw["schema"]).resolve())
    return raw


def write_config(path, config=None, *, edit: Optional[Callable[[dict], None]] = None,
                 **sections) -> pathlib.Path:
    """Writes a config file at `path` and returns the path.

    config: a loaded ProblemConfig to dump (paths are already absolute), or None for the shipped
        taxi YAML as it is on disk (see `shipped_raw`).
    sections: top-level sections replaced whole (a config model or plain YAML values).
    edit: called with the plain dict last, to change anything (or break it on purpose).
    """
    if config is None:
        raw = shipped_raw()
        raw.update({name: _plain(value) for name, value in sections.items()})
    else:
        raw = config.model_copy(update=sections).model_dump(by_alias=True, mode="json",
                                                            exclude={"source"})
    if edit is not None:
        edit(raw)
    path = pathlib.Path(path)
    path.write_text(yaml.safe_dump(raw))
    return path


def _plain(value):
    """A fresh plain copy: `edit` may change it in place, and a caller's section (the shared
    CLOUD dict) must not change with it (test_compile_spans' edit once leaked span paths into
    every later compile of the session)."""
    if isinstance(value, BaseModel):
        return value.model_dump(by_alias=True, mode="json")
    return copy.deepcopy(value)
