"""A complete `cloud:` section (made-up project, bucket and images) and a config file with it."""

import pathlib

from tests.support.configs import write_config

PROJECT, REGION, BUCKET = "demo-project", "us-central1", "demo-bucket"
IMAGE = "europe-docker.example/demo-project/mlpipe/mlpipe:0.1.0-test"
SERVING_IMAGE = "serving.example/prediction/tf2-cpu.2-15:latest"

# Everything a cloud run needs, as a config's `cloud:` section would give it.
CLOUD = {
    "project": PROJECT, "region": REGION, "bucket": BUCKET, "image": IMAGE,
    "service_account": f"pipelines@{PROJECT}.iam.gserviceaccount.com",
    "data_path": f"gs://{BUCKET}/data/taxi/",
    "labels": {"team": "ml", "problem": "taxi"},
}


def write_cloud_config(folder, **cloud_changes) -> pathlib.Path:
    """folder/cloud.yaml: the shipped taxi config with CLOUD (plus `cloud_changes`) as `cloud:`."""
    return write_config(pathlib.Path(folder) / "cloud.yaml", cloud={**CLOUD, **cloud_changes})
