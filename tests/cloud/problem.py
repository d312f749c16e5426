"""The small cloud problem the container tests and `make bench-containers` run: the first rows of
the bundled taxi CSV "uploaded" to a bucket folder, and a config whose `cloud:` section reads them
from gs:// while its `data.path` is the same file on the host (so a local `mlpipe run` of the same
config trains on the same rows)."""

import pathlib

from tests.support.configs import write_config

BUCKET = "mlpipe-test"
DATA = f"gs://{BUCKET}/data/taxi.csv"


def write_cloud_problem(storage: pathlib.Path, folder: pathlib.Path, source: str,
                        rows: int) -> pathlib.Path:
    """`storage` holds the buckets (gs://B/x is storage/B/x); `source` is the taxi CSV; returns
    the config file written in `folder`."""
    data = storage / DATA[len("gs://"):]
    data.parent.mkdir(parents=True, exist_ok=True)
    with open(source) as original, open(data, "w") as target:
        for _, line in zip(range(rows + 1), original):  # the header and `rows` trips
            target.write(line)

    def edit(raw):
        raw["data"]["path"] = str(data)
        raw["evaluation"]["kpi"] = {"auc": {"min": 0.8}}
        raw["cloud"] = {"project": "stand-in", "region": "us-central1", "bucket": BUCKET,
                        "image": "mlpipe:placeholder", "data_path": DATA}

    folder.mkdir(parents=True, exist_ok=True)
    return write_config(folder / "cloud.yaml", edit=edit)
