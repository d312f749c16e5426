"""A new user's two commands, for real: `mlpipe init` on a penguin-like CSV (a two-class string
label, numeric columns with NA tokens and blanks, a categorical column with blanks, an id, a
constant and a mostly empty column), then `mlpipe run` on what it wrote: the written schema
passes the pipeline's own gate on the same data, the model is blessed against the KPI floor init
computed, and `mlpipe predict` scores the same file without its label (slow: a few minutes)."""

import csv

import pytest

from tests.init.tables import penguin_rows, without, write_csv
from tests.support.cli import run_mlpipe

pytestmark = pytest.mark.e2e


def test_init_then_run_then_predict(tmp_path):
    data = write_csv(tmp_path / "penguins.csv", penguin_rows(n=400, seed=11))
    init = run_mlpipe("init", "--data", data, "--label", "species", cwd=tmp_path, timeout=600)
    assert init.returncode == 0, init.stdout + init.stderr
    config = tmp_path / "penguins" / "penguins.yaml"
    assert "Next: mlpipe run --config penguins/penguins.yaml" in init.stdout

    home = tmp_path / "runs"
    run = run_mlpipe("run", "--config", config, "--home", home, cwd=tmp_path, timeout=1800)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Model:        BLESSED" in run.stdout
    assert "AnomalyGate" in run.stdout and "FAILED" not in run.stdout
    # The ExampleGen read the original file with the NA tokens as blank cells: the numeric
    # column stays FLOAT, with an empty value list where the file says NA.
    kinds, empty = _bill_lengths(home / "penguins" / "pipeline_root" / "CsvExampleGen")
    assert kinds == {"float_list"} and empty > 0
    assert not (home / "penguins" / "staged").exists()

    unlabelled = write_csv(tmp_path / "unlabelled.csv",
                           without(penguin_rows(n=400, seed=11), "species"))
    scored = tmp_path / "scored.csv"
    predict = run_mlpipe("predict", "--config", config, "--home", home, "--input", unlabelled,
                         "--output", scored, cwd=tmp_path, timeout=600)
    assert predict.returncode == 0, predict.stdout + predict.stderr
    with scored.open(newline="") as source:
        rows = list(csv.DictReader(source))
    assert len(rows) == 400
    assert "species" not in rows[0]
    probabilities = [float(row["probability"]) for row in rows]
    assert all(0.0 <= p <= 1.0 for p in probabilities)
    # The NA cells were scored as missing values, as in training.
    assert any(row["bill_length_mm"] == "NA" for row in rows)
    # The model ranks the species it was trained on: Gentoo (positive) above Adelie.
    truth = [row["species"] == "Gentoo" for row in penguin_rows(n=400, seed=11)]
    gentoo = [p for p, positive in zip(probabilities, truth) if positive]
    adelie = [p for p, positive in zip(probabilities, truth) if not positive]
    assert sum(gentoo) / len(gentoo) > sum(adelie) / len(adelie) + 0.2


def _bill_lengths(example_gen_root):
    """(the kinds of bill_length_mm in the ExampleGen's examples, how many are empty)."""
    import tensorflow as tf
    files = sorted(str(path) for path in example_gen_root.glob("examples/*/Split-*/*.gz"))
    kinds, empty = set(), 0
    for record in tf.data.TFRecordDataset(files, compression_type="GZIP").as_numpy_iterator():
        feature = tf.train.Example.FromString(record).features.feature["bill_length_mm"]
        kinds.add(feature.WhichOneof("kind"))
        empty += not feature.float_list.value
    return kinds, empty
