"""ModelCard: a model card for every pushed version, written by the pipeline itself (so Kubeflow
and Vertex AI runs write it too) beside the pushed model: `model_card.json` (Model Card Toolkit
field names) and `model_card.html` (one self-contained page). `mlpipe card VERSION` shows it.

The names below are imported on first use, not with the package: `mlpipe card` (the command
module and `render`) reads a card without importing TFX.
"""

import importlib

CARD_JSON = "model_card.json"
CARD_HTML = "model_card.html"

_LAZY = {
    "NODE_ID": "component", "ModelCard": "component", "ModelCardArtifact": "component",
    "problem_facts": "component",
    "read_card": "executor", "write_card": "executor",
}

__all__ = ["CARD_HTML", "CARD_JSON", *sorted(_LAZY)]


def __getattr__(name):
    if name in _LAZY:
        module = importlib.import_module(f"{__name__}.{_LAZY[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
