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
    # The pipeline read a staged copy with the NA tokens blanked, not the original file.
    staged = list((home / "penguins" / "staged").glob("data-*/penguins.csv"))
    assert len(staged) == 1 and "NA" not in staged[0].read_text()

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
