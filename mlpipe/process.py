"""Process-wide settings that must be in place before TensorFlow is imported.

TFX 1.16's Trainer and TFMA paths expect Keras 2 (`tf_keras`); TF 2.16 makes `tf.keras` mean
Keras 3 unless TF_USE_LEGACY_KERAS is set when TensorFlow is first imported. The settings are
written into `os.environ` so every subprocess (Beam workers) inherits them.
"""

import os
import warnings

SETTINGS = {
    "TF_USE_LEGACY_KERAS": "1",
    # TensorFlow's C++ INFO/WARNING lines are noise for a pipeline user; errors still show.
    "TF_CPP_MIN_LOG_LEVEL": "2",
}


def apply_settings() -> None:
    """Sets each setting unless the user has set it explicitly."""
    for key, value in SETTINGS.items():
        os.environ.setdefault(key, value)
    # google-api-core warns on import that Python 3.10 is past its support window: TFX 1.16
    # needs 3.10 (see README), so the warning is known and only noise for a pipeline user.
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"google\.")
