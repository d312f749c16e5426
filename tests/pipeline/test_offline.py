"""A local run never reaches for the network: Beam's runner is named, so Beam 2.74's
DirectRunner never tries to download the Prism runner."""

import subprocess
import sys

import pytest

from mlpipe.config import BeamConfig
from mlpipe.pipeline.runner_settings import direct_runner_args
from tests.support.cli import offline_env

# A two-step Beam pipeline with INFO logging, run with the arguments given on the command line.
BEAM_PROBE = """
import logging, sys
logging.basicConfig(level=logging.INFO, stream=sys.stdout)
import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
with beam.Pipeline(options=PipelineOptions(sys.argv[1:])) as pipeline:
    _ = pipeline | beam.Create([1, 2, 3]) | beam.Map(lambda x: x * 2)
print("PIPELINE DONE")
"""


def _run_beam(args, tmp_path) -> str:
    child = subprocess.run([sys.executable, "-c", BEAM_PROBE, *args], env=offline_env(tmp_path),
                           capture_output=True, text=True, timeout=120)
    assert child.returncode == 0 and "PIPELINE DONE" in child.stdout, child.stdout + child.stderr
    return child.stdout + child.stderr


def test_the_local_runner_arguments_never_try_a_download(tmp_path):
    output = _run_beam(direct_runner_args(BeamConfig()), tmp_path)
    assert "prism" not in output.lower() and "download" not in output.lower()


def test_beams_default_direct_runner_would_try_one(tmp_path):
    """The check above can fail: Beam's plain DirectRunner attempts the download (refused)."""
    output = _run_beam(["--runner=DirectRunner", "--direct_running_mode=in_memory"], tmp_path)
    assert "Downloading prism" in output and "Falling back" in output


@pytest.mark.e2e
def test_a_whole_pipeline_run_makes_no_download_attempt(trained_home):
    """The shared run home was trained with every outbound connection refused."""
    first_run = sorted(trained_home["home"].logs_dir.glob("run-*.log"))[0]
    text = first_run.read_text()
    assert "Evaluator" in text and "--runner=FnApiRunner" in text
    assert "prism" not in text.lower()
    assert "downloading" not in text.lower()
