"""Continuous training on one machine, end to end (slow: a few minutes): the README's cron tick,
`scripts/retrain-on-drift.sh`, run exactly as cron runs it, over three taxi spans cut by time.

- span 1 arrives: the first `mlpipe run` pushes version 1;
- span 2 arrives, live traffic looks like the training data: the tick's monitor finds no drift
  and nothing retrains;
- span 3 arrives with a planted shift, and live traffic has it too: the monitor exits 4, the
  tick retrains on span 3, and the drift gate between spans stops that run: nothing is pushed;
- the team accepts the shift once (`mlpipe run --accept-drift`): version 2 is pushed;
- the next tick on the same traffic finds no drift against version 2's training data.
"""

import csv
import os
import pathlib
import subprocess
import sys

import pytest

import mlpipe  # noqa: F401  (process settings before TensorFlow)
from mlpipe.config import load_config
from mlpipe.core.run_home import RunHome
from tests.support import spans
from tests.support.cli import run_mlpipe
from tests.support.configs import write_config

pytestmark = pytest.mark.e2e

SCRIPT = pathlib.Path(__file__).resolve().parents[2] / "scripts" / "retrain-on-drift.sh"
# Features compared between spans and with live traffic: the calendar month moves by
# construction between spans cut by time; every other one at the default thresholds.


@pytest.fixture(scope="module")
def loop(tmp_path_factory):
    root = tmp_path_factory.mktemp("continuous")
    data = root / "data"
    watched = [f for f in load_config().features.raw_columns if f != "trip_start_month"]

    def edit(raw):
        raw["data"]["path"] = f"{data}/{spans.SPAN_FOLDER}"
        raw["train"].update(batch_size=128)
        # The planted shift makes every trip a card payment, the strongest predictor gone:
        # a model of span 3 alone reaches AUC ~0.56, so the KPI here only asks for better than
        # chance.
        raw["evaluation"].update(kpi={"auc": {"min": 0.52}}, max_regression={"auc": 0.5})
        raw["drift_gate"] = {"features": watched}
        raw["monitoring"] = {"features": watched}
    config_file = write_config(root / "taxi.yaml", edit=edit)
    config = load_config(config_file)
    return {"root": root, "data": data, "config_file": config_file,
            "home": RunHome.for_pipeline(config.name, str(root / "runs")),
            "base": root / "runs", "rows": spans.taxi_by_time()}


def _arrives(loop, span, shifted=False):
    """Span `span` lands in the data folder; returns its rows (what live traffic looks like)."""
    rows = spans.span_rows(span, loop["rows"])
    rows = spans.planted_shift(rows) if shifted else rows
    spans.write_span(loop["data"], span, rows)
    return rows


def _traffic(loop, name, rows):
    """A CSV of requests for `mlpipe monitor --input`: every column but the label's source (the
    curated schema's SERVING environment)."""
    columns = [column for column in rows[0] if column != "tips"]
    path = loop["root"] / f"{name}.csv"
    with path.open("w", newline="") as sink:
        writer = csv.DictWriter(sink, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def _tick(loop, traffic):
    """The cron line's command, with `mlpipe` on PATH as the venv puts it there."""
    env = {**os.environ,
           "PATH": f"{pathlib.Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(["bash", str(SCRIPT), str(loop["config_file"]), str(loop["base"]),
                           "--input", str(traffic)],
                          env=env, capture_output=True, text=True, timeout=1500)


def _versions(loop):
    return [path.name for path in loop["home"].pushed_versions()]


def test_retrain_on_drift_over_three_spans(loop):
    empty = run_mlpipe("run", "--config", loop["config_file"], "--home", loop["base"],
                       timeout=300)
    assert empty.returncode == 2 and "span-{SPAN}" in empty.stderr, empty.stderr
    _arrives(loop, 1)
    first = run_mlpipe("run", "--config", loop["config_file"], "--home", loop["base"],
                       timeout=1200)
    assert first.returncode == 0, first.stdout + first.stderr
    [version_1] = _versions(loop)

    calm = _tick(loop, _traffic(loop, "traffic-2", _arrives(loop, 2)))
    assert calm.returncode == 0, calm.stdout + calm.stderr
    assert "no drift: the served model stays" in calm.stdout
    assert "retraining" not in calm.stdout
    assert _versions(loop) == [version_1]

    shifted = _tick(loop, _traffic(loop, "traffic-3", _arrives(loop, 3, shifted=True)))
    assert "drift: retraining on the newest span" in shifted.stdout, shifted.stdout
    # The retraining met the drift gate between spans 1 and 3 (span 2 never ran): stopped.
    assert shifted.returncode == 1, shifted.stdout + shifted.stderr
    assert "FAILED at DriftGate" in shifted.stderr
    assert "span 3 drifted from span 1" in shifted.stderr
    assert _versions(loop) == [version_1]

    accepted = run_mlpipe("run", "--accept-drift", "--config", loop["config_file"],
                          "--home", loop["base"], timeout=1200)
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert "drift ACCEPTED for this run" in accepted.stdout
    assert _versions(loop)[0] == version_1 and len(_versions(loop)) == 2

    settled = _tick(loop, loop["root"] / "traffic-3.csv")
    assert settled.returncode == 0, settled.stdout + settled.stderr
    assert "no drift: the served model stays" in settled.stdout
    assert len(_versions(loop)) == 2
