"""The pipeline image: its smoke check passes, catches a missing module, and a step's command
runs under Kubernetes semantics (command replaces the entrypoint) and under plain `docker run`."""

import re
import subprocess

import pytest


def _run(docker_cli, *args, timeout=300):
    return subprocess.run([docker_cli, *args], capture_output=True, text=True, timeout=timeout)


def test_smoke_check_passes_in_the_image(docker_cli, image):
    result = _run(docker_cli, "run", "--rm", "--network", "none", image,
                  "python", "-m", "mlpipe.kubeflow.image_check")
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    assert "taxi-big-tipper (vertex):" in result.stdout
    assert "MISSING" not in result.stdout


def test_smoke_check_names_the_step_whose_module_is_missing(docker_cli, image, tmp_path):
    broken = f"{image.split(':')[0]}:broken-check"
    (tmp_path / "Dockerfile").write_text(
        f"FROM {image}\nRUN rm -r /opt/mlpipe/mlpipe/components/anomaly_gate\n")
    built = _run(docker_cli, "build", "--network", "host", "-t", broken, str(tmp_path))
    assert built.returncode == 0, built.stderr[-2000:]
    try:
        compiled = subprocess.run(  # a pipeline compiled where the module still exists
            [docker_cli, "run", "--rm", "--network", "none", image, "sh", "-c",
             "mlpipe compile --target kubeflow --project p --region us-central1 --bucket bkt "
             "--image x --data-path gs://bkt/d/ --output /tmp/p.yaml >/dev/null 2>&1 "
             "&& cat /tmp/p.yaml"], capture_output=True, text=True, timeout=300)
        assert compiled.returncode == 0, compiled.stderr[-2000:]
        spec = tmp_path / "pipeline.yaml"
        spec.write_text(compiled.stdout)
        result = _run(docker_cli, "run", "--rm", "--network", "none", "-v", f"{tmp_path}:/spec",
                      broken, "python", "-m", "mlpipe.kubeflow.image_check", "/spec/pipeline.yaml")
    finally:
        _run(docker_cli, "rmi", "-f", broken)
    assert result.returncode == 1, result.stdout
    assert re.search(r"^  AnomalyGate +MISSING$", result.stdout, re.M), result.stdout
    assert "mlpipe.components.anomaly_gate.executor.Executor does not import" in result.stdout
    assert re.search(r"^  CsvExampleGen +ok$", result.stdout, re.M)


@pytest.mark.parametrize("semantics", ["kubernetes", "docker-run"])
def test_a_step_command_runs_either_way(docker_cli, image, semantics):
    command = ["python", "-c", "import mlpipe, tfx; print('step ran', tfx.__version__)"]
    if semantics == "kubernetes":  # the task's command replaces the image's entrypoint
        args = ["--entrypoint", command[0], image, *command[1:]]
    else:  # docker run IMAGE COMMAND...: the entrypoint runs the command as given
        args = [image, *command]
    result = _run(docker_cli, "run", "--rm", "--network", "none", *args)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "step ran 1.16.0" in result.stdout


def test_flags_alone_go_to_beams_worker_boot(docker_cli, image):
    """How Dataflow starts a worker; an image built without a Beam SDK image says it has no boot."""
    result = _run(docker_cli, "run", "--rm", "--network", "none", image, "--id=1")
    probe = _run(docker_cli, "run", "--rm", "--network", "none", image,
                 "test", "-x", "/opt/apache/beam/boot")
    if probe.returncode == 0:
        assert "mlpipe image" not in result.stderr
    else:
        assert result.returncode == 64
        assert "Beam's worker boot is not in this image" in result.stderr
