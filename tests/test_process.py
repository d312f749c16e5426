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


def test_import_filtering_stderr_drops_only_the_noise_lines(tmp_path):
    (tmp_path / "noisy_module.py").write_text(
        "import os\n"
        "os.write(2, b'E plugin.cc:1] Unable to register cuFFT factory: already registered\\n')\n"
        "os.write(2, b'a real problem\\n')\n"
        "VALUE = 42\n")
    child = subprocess.run(
        [sys.executable, "-c",
         "import re, sys\n"
         "from mlpipe.process import import_filtering_stderr\n"
         "import_filtering_stderr('noisy_module', re.compile('Unable to register'))\n"
         "print(sys.modules['noisy_module'].VALUE)\n"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert child.returncode == 0, child.stderr
    assert child.stdout.strip() == "42"
    assert child.stderr == "a real problem\n"


def test_a_tensorflow_command_prints_no_start_up_noise():
    child = subprocess.run(
        [sys.executable, "-c",
         "import logging\n"
         "from mlpipe.process import import_tensorflow_quietly\n"
         "import_tensorflow_quietly()\n"
         "import tensorflow as tf\n"
         "from tensorflow.python.util import deprecation\n"
         "@deprecation.deprecated(None, 'use something else')\n"
         "def old():\n"
         "    return 1\n"
         "old()\n"
         "logging.getLogger('tensorflow').warning('kept: a real warning')\n"],
        capture_output=True, text=True, timeout=120, env=dict(os.environ))
    assert child.returncode == 0, child.stderr[-2000:]
    assert "Unable to register" not in child.stderr
    assert "is deprecated" not in child.stderr
    assert "kept: a real warning" in child.stderr
