"""Process settings: set by `import mlpipe`, inherited by every subprocess (Beam workers)."""

import os
import subprocess
import sys

import mlpipe  # noqa: F401


def test_import_sets_legacy_keras_for_this_process_and_its_children():
    assert os.environ["TF_USE_LEGACY_KERAS"] == "1"
    child = subprocess.run(
        [sys.executable, "-c",
         "import os, tensorflow as tf; print(os.environ['TF_USE_LEGACY_KERAS'], tf.keras.__name__)"],
        capture_output=True, text=True, timeout=120, env=dict(os.environ))
    assert child.returncode == 0, child.stderr[-2000:]
    flag, keras_module = child.stdout.split()
    assert flag == "1"
    assert keras_module.startswith("tf_keras")
