"""Version labels, as TF Serving has them: a name (stable, canary) that stands for a version.

A request names a version, a label or neither (the newest version served). Labels come from
the config's `serving.labels` and from `mlpipe serve --label NAME=VERSION` (which win); each
labelled version is loaded beside the newest one, so a canary can be served next to the stable
version. A label names a version that must be pushed: the server refuses to start otherwise,
as TF Serving refuses a label on a version it has not loaded.
"""

from typing import Dict, Iterable, Mapping

from mlpipe.config.serving import LABEL_NAME
from mlpipe.errors import BadInputError


def parse_label_flags(flags: Iterable[str]) -> Dict[str, int]:
    """["stable=3", "canary=4"] -> {"stable": 3, "canary": 4}; BadInputError naming the flag."""
    labels = {}
    for flag in flags:
        name, sep, version = flag.partition("=")
        if not sep or not LABEL_NAME.fullmatch(name) or not version.isdigit() \
                or int(version) < 1:
            raise BadInputError(f"--label {flag}: expected NAME=VERSION, a word and a pushed "
                                "version number (e.g. --label stable=3)")
        labels[name] = int(version)
    return labels


def merged_labels(configured: Mapping[str, int], flags: Iterable[str]) -> Dict[str, int]:
    """The config's labels with the command line's on top."""
    return {**configured, **parse_label_flags(flags)}


class UnknownServable(LookupError):
    """No served version answers to what a request named (REST 404, gRPC NOT_FOUND)."""


def servable_text(model_name: str, version=None, label=None) -> str:
    """How TF Serving names a servable in its errors."""
    if label:
        return f"Labeled({model_name}, {label})"
    if version is not None:
        return f"Specific({model_name}, {version})"
    return f"Latest({model_name})"
