"""scripts/gpu-check.sh on a machine without a GPU: one line saying so, exit 0, nothing run."""

import os
import pathlib
import subprocess

SCRIPT = pathlib.Path(__file__).resolve().parents[2] / "scripts" / "gpu-check.sh"


def test_without_a_gpu_it_says_so_in_one_line_and_exits_0(tmp_path):
    absent = tmp_path / "nvidia-smi"   # the command the script asks for GPUs: not there
    done = subprocess.run([str(SCRIPT)], env={**os.environ, "NVIDIA_SMI": str(absent)},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"gpu-check: no GPU on this machine ({absent} finds none); nothing to check"]
    assert done.stderr == ""


def test_a_gpu_that_tensorflow_cannot_see_is_an_error_that_says_why(tmp_path):
    """nvidia-smi lists a GPU, but this TensorFlow (no CUDA libraries) sees none."""
    fake = tmp_path / "nvidia-smi"
    fake.write_text("#!/bin/sh\necho 'GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-0)'\n")
    fake.chmod(0o755)
    env = {**os.environ, "NVIDIA_SMI": str(fake), "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([str(SCRIPT)], env=env, capture_output=True, text=True, timeout=120,
                          cwd=SCRIPT.parent.parent)
    assert done.returncode == 1
    assert "lists GPUs but TensorFlow sees none" in done.stderr
