"""A user's own problem in the cloud, as a new user gets there: `mlpipe init` on a table with `NA`
cells and a three-class label, `mlpipe compile --target vertex` with every cloud flag and no hand
edit, and the compiled pipeline executed in containers of the pipeline image to a pushed model.

Neither the problem's schema nor its config is in the image: the compiled pipeline carries them
(the schema step writes the curated text; the ExampleGen reads `NA` as blank on its own)."""

import csv
import json
import random

import pytest

from mlpipe.cli import main
from mlpipe.config import load_config
from tests.cloud.backend import LocalBackend
from tests.cloud.problem import BUCKET

ROWS = 600
CLASSES = {"setosa": 1.0, "versicolor": 2.5, "virginica": 4.0}


def _write_flowers(path) -> None:
    """Petal length separates the classes; `NA` in a numeric and a text column."""
    draw = random.Random(7)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["petal_length", "sepal_width", "colour", "species"])
        for row in range(ROWS):
            species = draw.choice(sorted(CLASSES))
            petal = "NA" if row % 13 == 0 else f"{draw.gauss(CLASSES[species], 0.5):.2f}"
            colour = "NA" if row % 11 == 0 else draw.choice(["white", "blue", "purple"])
            writer.writerow([petal, f"{draw.uniform(2, 4):.2f}", colour, species])


@pytest.fixture(scope="module")
def user_run(docker_cli, image, storage, tmp_path_factory):
    data = storage / BUCKET / "flowers" / "flowers.csv"
    _write_flowers(data)
    work = tmp_path_factory.mktemp("user")
    assert main(["init", "--data", str(data), "--label", "species",
                 "--output", str(work / "flowers")]) == 0
    [config_file] = (work / "flowers").glob("*.yaml")
    spec_file = work / "flowers-vertex.json"
    assert main(["compile", "--target", "vertex", "--config", str(config_file),
                 "--project", "stand-in", "--region", "us-central1", "--bucket", BUCKET,
                 "--image", image, "--data-path", f"gs://{BUCKET}/flowers/flowers.csv",
                 "--output", str(spec_file)]) == 0
    config = load_config(str(config_file))
    spec = json.loads(spec_file.read_text())["pipelineSpec"]
    backend = LocalBackend(docker_cli, storage, work / "logs")
    run = backend.run(spec, f"gs://{BUCKET}/mlpipe/{config.name}")
    return config, run, backend


def test_init_made_the_multiclass_problem_with_na_read_as_blank(user_run):
    config, _, _ = user_run
    assert config.label.task == "multiclass"
    assert "NA" in config.data.missing_values


def test_its_pipeline_runs_in_containers_to_a_pushed_model(user_run):
    config, run, backend = user_run
    statistics = backend.local_path(run.artifact("StatisticsGen", "statistics")["uri"])
    assert any(statistics.rglob("FeatureStats.pb"))
    assert run.artifact("Evaluator", "blessing")["metadata"]["blessed"] == 1
    pushed = run.artifact("Pusher", "pushed_model")["metadata"]
    assert pushed["pushed"] == 1
    version = backend.local_path(pushed["pushed_destination"])
    assert (version / "saved_model.pb").is_file()
    assert (version / "model_card.json").is_file()
    card = json.loads((version / "model_card.json").read_text())
    assert config.name in json.dumps(card)
