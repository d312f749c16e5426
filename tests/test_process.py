"""Process settings: set by `import mlpipe`, inherited by every subprocess (Beam workers)."""

import os
import subprocess
import sys

import pytest

import mlpipe  # noqa: F401


def test_import_sets_legacy_keras_for_this_process_and_its_children():
    assert os.environ["TF_USE_LEGACY_KERAS"] == "1"
    child = subprocess.run(
        [sys.executable, "-c",
         "import os, tensorflow as tf; "
         "print(os.environ['TF_USE_LEGACY_KERAS'], tf.keras.__name__)"],
        capture_output=True, text=True, timeout=120, env=dict(os.environ))
    assert child.returncode == 0, child.stderr[-2000:]
    flag, keras_module = child.stdout.split()
    assert flag == "1"
    assert keras_module.startswith("tf_keras")


def test_a_quiet_import_drops_only_the_noise_lines(tmp_path):
    (tmp_path / "noisy_module.py").write_text(
        "import os\n"
        "os.write(2, b'E plugin.cc:1] Unable to register cuFFT factory: already registered\\n')\n"
        "os.write(2, b'a real problem\\n')\n"
        "VALUE = 42\n")
    child = _quiet_import_in_child(
        tmp_path, "noisy_module",
        "print(noisy_module.VALUE, type(noisy_module.__loader__).__name__)\n")
    assert child.returncode == 0, child.stderr
    assert child.stdout.split() == ["42", "SourceFileLoader"]  # the module's own loader
    assert child.stderr == "a real problem\n"


def test_a_failing_quiet_import_still_shows_its_error(tmp_path):
    (tmp_path / "broken_module.py").write_text(
        "import os\n"
        "os.write(2, b'Unable to register cuDNN factory\\n')\n"
        "os.write(2, b'what went wrong, from C++\\n')\n"
        "raise ImportError('no such library')\n")
    child = _quiet_import_in_child(tmp_path, "broken_module")
    assert child.returncode == 1
    assert child.stderr.startswith("what went wrong, from C++\n")
    assert "ImportError: no such library" in child.stderr
    assert "Unable to register" not in child.stderr


def test_tensorflow_imported_after_mlpipe_prints_no_start_up_noise():
    """Whatever imports it first (a command's handler, TFX, a test): TF 2.16 writes three
    "Unable to register cu... factory" ERROR lines from C++ while it is imported."""
    child = subprocess.run(
        [sys.executable, "-c",
         "import logging\n"
         "import mlpipe\n"
         "import tfx.v1\n"
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


def test_without_mlpipe_tensorflow_does_print_the_noise():
    """The test above is a real one: on this machine TensorFlow's import does write it."""
    child = subprocess.run([sys.executable, "-c", "import tensorflow"], capture_output=True,
                           text=True, timeout=120, env=dict(os.environ))
    assert child.returncode == 0, child.stderr[-2000:]
    if "Unable to register cuFFT factory" not in child.stderr:  # another TensorFlow build
        pytest.skip("this TensorFlow prints no start-up noise: nothing to leave out")


def test_beam_worker_processes_run_behind_a_proxy_that_points_nowhere():
    """Beam's DirectRunner reaches its worker processes over gRPC on localhost; gRPC honours
    http(s)_proxy there too, and without the loopback exemption this pipeline hangs."""
    code = ("import apache_beam as beam\n"
            "from apache_beam.options.pipeline_options import PipelineOptions\n"
            "from mlpipe.process import loopback_without_proxy\n"
            "options = PipelineOptions(['--runner=FnApiRunner',\n"
            "    '--direct_running_mode=multi_processing', '--direct_num_workers=2'])\n"
            "with loopback_without_proxy(), beam.Pipeline(options=options) as pipeline:\n"
            "    (pipeline | beam.Create(range(100)) | beam.Reshuffle()\n"
            "     | beam.combiners.Count.Globally() | beam.Map(lambda n: print('COUNT', n)))\n")
    dead = "http://127.0.0.1:9"
    env = {**os.environ, "http_proxy": dead, "https_proxy": dead, "HTTP_PROXY": dead,
           "HTTPS_PROXY": dead, "no_proxy": "example.com"}
    env.pop("NO_PROXY", None)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, env=env)
    assert "COUNT 100" in result.stdout, result.stderr[-2000:]


def test_the_loopback_exemption_keeps_the_user_s_list_and_is_undone(monkeypatch):
    from mlpipe.process import loopback_without_proxy
    monkeypatch.setenv("no_proxy", "example.com,localhost")
    monkeypatch.delenv("NO_PROXY", raising=False)
    with loopback_without_proxy():
        assert os.environ["no_proxy"] == "example.com,localhost,127.0.0.1"
        assert os.environ["NO_PROXY"] == "localhost,127.0.0.1"
    assert os.environ["no_proxy"] == "example.com,localhost" and "NO_PROXY" not in os.environ


def _quiet_import_in_child(folder, module: str, then: str = "") -> subprocess.CompletedProcess:
    """A fresh interpreter that imports `module` (in `folder`) through quiet_import, filtering
    'Unable to register' lines, then runs `then`."""
    return subprocess.run(
        [sys.executable, "-c",
         "import re\n"
         "from mlpipe.process import quiet_import\n"
         f"quiet_import('{module}', re.compile('Unable to register'))\n"
         f"import {module}\n" + then],
        capture_output=True, text=True, timeout=60, cwd=folder,
        env={**os.environ, "PYTHONPATH": str(folder)})
