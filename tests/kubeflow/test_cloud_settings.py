"""The `cloud:` section and its checks (fast: no TFX, no clients), and the pipeline image recipe."""

import pathlib
import re
import subprocess
import sys

import pytest

from mlpipe.config import cloud as settings
from mlpipe.config.cloud import CloudConfig, resolve_cloud
from mlpipe.config import ConfigError, load_config
from tests.support.cli import run_mlpipe
from tests.support.cloud import BUCKET, CLOUD, IMAGE, PROJECT, write_cloud_config
from tests.support.configs import write_config

REPO = pathlib.Path(settings.__file__).resolve().parents[2]
DOCKERFILE = REPO / "mlpipe" / "kubeflow" / "Dockerfile"


def _without(*fields):
    return {k: v for k, v in CLOUD.items() if k not in fields}


@pytest.mark.parametrize("missing, target, field", [
    ("image", "kubeflow", "cloud.image"),
    ("image", "vertex", "cloud.image"),
    ("project", "vertex", "cloud.project"),
    ("region", "vertex", "cloud.region"),
    ("bucket", "vertex", "cloud.bucket"),
    ("data_path", "kubeflow", "cloud.data_path"),
])
def test_missing_field_is_named(base_config, missing, target, field):
    config = base_config.model_copy(update={"cloud": CloudConfig(**_without(missing))})
    with pytest.raises(ConfigError, match=re.escape(field)):
        resolve_cloud(config, target)


def test_no_cloud_section_at_all(base_config):
    with pytest.raises(ConfigError, match=r"cloud\.image.*--image"):
        resolve_cloud(base_config, "vertex")


def test_kubeflow_needs_project_only_for_gcp_services(base_config):
    config = base_config.model_copy(update={"cloud": CloudConfig(**_without("project", "region"))})
    assert resolve_cloud(config, "kubeflow").project is None  # plain KFP: fine
    dataflow = config.model_copy(update={"cloud": config.cloud.model_copy(
        update={"beam": settings.CloudBeamConfig(runner="DataflowRunner")})})
    with pytest.raises(ConfigError, match=r"cloud\.project.*Dataflow"):
        resolve_cloud(dataflow, "kubeflow")


@pytest.mark.parametrize("field, value", [("pipeline_root", "/tmp/root"),
                                          ("pipeline_root", "s3://bucket/root"),
                                          ("data_path", "data/taxi.csv"),
                                          ("serving_dir", "runs/serving")])
def test_non_gcs_paths_are_rejected(base_config, field, value):
    with pytest.raises(ConfigError, match=rf"cloud\.{field}: .*gs://"):
        resolve_cloud(base_config, "vertex", {**CLOUD, field: value})


def test_flags_override_the_file(cloud_config):
    config = cloud_config(pipeline_root="gs://from-file/root")
    cloud = resolve_cloud(config, "vertex", {"project": "flag-project", "image": "flag/image:2",
                                             "pipeline_root": None, "region": None})
    assert (cloud.project, cloud.image) == ("flag-project", "flag/image:2")
    assert cloud.root_for("p") == "gs://from-file/root"  # None = flag not given
    assert cloud.region == CLOUD["region"]


def test_defaults_derive_from_the_bucket(cloud_config):
    cloud = resolve_cloud(cloud_config(), "vertex")
    assert cloud.root_for("taxi") == f"gs://{BUCKET}/mlpipe/taxi"
    assert cloud.serving_dir_for("taxi") == f"gs://{BUCKET}/mlpipe/taxi/serving"


@pytest.mark.parametrize("changes, message", [
    ({"bucket": "gs://demo-bucket"}, "bucket name without gs://"),
    ({"region": "Central US"}, "region such as us-central1"),
    ({"labels": {"Team": "ml"}}, "lowercase"),
    ({"training": {"accelerator_type": "NVIDIA_TESLA_T4"}}, "accelerator_count > 0 together"),
    ({"training": {"replica_count": 2}}, "vertex_job: true"),
    ({"deploy": {"traffic_percentage": 120}}, "traffic_percentage"),
    ({"kubeflow_host": "kfp.local:8888"}, "http"),
    ({"unknown_field": 1}, "unknown_field"),
])
def test_bad_values(base_config, changes, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        resolve_cloud(base_config, "vertex", {**CLOUD, **changes})


def test_yaml_cloud_section_loads_and_unknown_fields_fail(tmp_path):
    training = {"vertex_job": True, "replica_count": 2}
    path = write_cloud_config(tmp_path, training=training)
    config = load_config(path)
    assert config.cloud.training.replica_count == 2 and config.cloud.image == IMAGE
    path = write_cloud_config(tmp_path, training=training, trainig={})
    with pytest.raises(ConfigError, match=r"cloud\.trainig"):
        load_config(path)


@pytest.mark.parametrize("field", ["schema_file", "image_source_dir"])
def test_the_schema_needs_no_cloud_field(tmp_path, field):
    """The curated schema travels in the compiled pipeline (mlpipe.components.embedded_schema),
    not as a path into the image: the fields that named one are gone, and a config still naming
    them is told which key is unknown."""
    path = write_cloud_config(tmp_path, **{field: "/opt/mlpipe/mlpipe/schema/taxi/schema.pbtxt"})
    with pytest.raises(ConfigError, match=rf"cloud\.{field}"):
        load_config(path)


def test_cli_bad_cloud_input_exits_2_before_compiling(tmp_path):
    cases = [
        (["--image", IMAGE, "--region", "us-central1", "--bucket", BUCKET], "cloud.project"),
        (["--image", IMAGE, "--project", PROJECT, "--region", "us-central1",
          "--pipeline-root", "/tmp/root"], "cloud.pipeline_root"),
        (["--project", PROJECT, "--region", "us-central1", "--bucket", BUCKET], "cloud.image"),
    ]
    for flags, field in cases:
        result = run_mlpipe("compile", "--target", "vertex", *flags, cwd=tmp_path, timeout=60)
        assert result.returncode == 2, result.stderr
        assert result.stderr.startswith("error: ") and field in result.stderr
        assert "Traceback" not in result.stderr
    assert not list(tmp_path.iterdir())  # nothing written


def test_help_is_fast_and_lists_the_cloud_commands():
    code = ("import sys, time; t = time.time(); from mlpipe import cli\n"
            "try:\n    cli.main(['--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('tensorflow', 'tfx', 'kfp', 'google.cloud.aiplatform') "
            "if m in sys.modules]\nprint('HEAVY', heavy)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60)
    assert "HEAVY []" in result.stdout, result.stdout + result.stderr
    for name in ("compile", "submit", "deploy"):
        assert name in result.stdout


# ------------------------------------------------------------------ the pipeline image recipe


def _lock_pin(name):
    for line in (REPO / "requirements.lock").read_text().splitlines():
        if line.lower().startswith(name + "=="):
            return line.split("==", 1)[1].strip()
    raise AssertionError(f"{name} not pinned in requirements.lock")


def test_dockerfile_matches_the_package():
    """What the file must say; that the image builds and its steps run is tests/cloud's job."""
    text = DOCKERFILE.read_text()
    # Production bases by default: TFX's own image, Beam's boot of the pinned Beam version.
    assert re.search(r"^ARG BASE_IMAGE=tensorflow/tfx:1\.16\.0\s*$", text, re.M)
    assert _lock_pin("tfx") == "1.16.0"
    assert re.search(rf"^ARG BEAM_IMAGE=apache/beam_python3\.10_sdk:"
                     rf"{re.escape(_lock_pin('apache-beam'))}\s*$", text, re.M)
    assert "COPY --from=beam /opt/apache/beam /opt/apache/beam" in text
    # Same pins as the tested venv; Keras 2 for TFX 1.16; pip's CA only as a BuildKit secret.
    assert "pip install --quiet -r /opt/mlpipe/requirements.lock" in text
    assert "RUN --mount=type=secret,id=ca" in text
    assert re.search(r"^ENV TF_USE_LEGACY_KERAS=1\b", text, re.M)
    assert 'ENTRYPOINT ["/usr/local/bin/mlpipe-entrypoint"]' in text
    assert "COPY mlpipe /opt/mlpipe/mlpipe" in text
    ignore = (DOCKERFILE.parent / "Dockerfile.dockerignore").read_text().split()
    assert ".venv" in ignore and ".git" in ignore and "runs" in ignore
    # Every COPY source exists in the repository (the build context).
    for line in text.splitlines():
        if line.startswith("COPY ") and "--from=" not in line:
            for source in line.split()[1:-1]:
                assert (REPO / source).exists(), source


@pytest.mark.parametrize("distribution, ok", [("auto", True), ("multi_worker", True),
                                              ("one_device", False), ("mirrored", False)])
def test_replicas_need_a_distribution_that_trains_one_model(tmp_path, distribution, ok):
    """Two replicas with one device each would train two models, and both would export."""
    def edit(raw):
        raw["train"]["distribution"] = distribution
    path = write_config(tmp_path / "cloud.yaml", edit=edit,
                        cloud={**CLOUD, "training": {"vertex_job": True, "replica_count": 2}})
    if ok:
        assert load_config(path).train.distribution == distribution
    else:
        with pytest.raises(ConfigError, match=rf"replica_count is 2, but train.distribution is "
                                              rf"{distribution}: each replica would train"):
            load_config(path)
