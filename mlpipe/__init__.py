"""mlpipe: a TFX pipeline package, from raw tabular data to a validated, evaluated, pushed model.

Importing any part of the package applies the process environment first (see `mlpipe.process`),
so TensorFlow, whenever it is imported afterwards, sees them; Beam worker processes inherit them
through the environment.
"""

from mlpipe import process as _process

_process.apply_environment()

# A Kubeflow / Vertex AI step recovers a custom artifact type from its schema title, which TFX
# compiles from TYPE_NAME ("mlpipe.<Title>": one namespace and a title, KFP's form) and imports
# as a class path. So each such type must import as `mlpipe.<Title>`; loaded on first use, so
# `import mlpipe` stays light.
_ARTIFACT_TYPES = {
    "FeatureAttributions": ("mlpipe.components.attributions.spec",
                            "FeatureAttributionsArtifact"),
    "FairnessChecks": ("mlpipe.components.fairness_gate.spec", "FairnessChecksArtifact"),
    "ModelCard": ("mlpipe.components.model_card.spec", "ModelCardArtifact"),
}


def __getattr__(name):
    if name not in _ARTIFACT_TYPES:
        raise AttributeError(f"module 'mlpipe' has no attribute {name!r}")
    import importlib
    module, cls = _ARTIFACT_TYPES[name]
    return getattr(importlib.import_module(module), cls)
