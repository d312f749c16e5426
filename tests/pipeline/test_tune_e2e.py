"""`mlpipe run` with a `tune:` section, end to end on the penguins (slow: about 4 minutes).

The same data and `train:` section run twice, in two run homes: untuned, and with a 3-trial
search. The `train:` section is deliberately weak (2 epochs, 4 units, a slow learning rate) so the
search has something to find. Checked: the Tuner ran before the Trainer, the Trainer trained with
the best hyperparameters (its layers, its logged train section, and its eval accuracy equal to
the best trial's score), an unchanged re-run is cached, and the tuned model scores at least as
well as the untuned one on the eval split.
"""

import json
import pathlib

import pytest

import mlpipe  # noqa: F401  (process settings before TensorFlow)
from mlpipe.config.tune import parse_units
from mlpipe.core import lineage
from tests.support.cli import run_mlpipe
from tests.support.problems import write_problem

pytestmark = pytest.mark.e2e

WEAK_TRAIN = ("train: {epochs: 2, batch_size: 32, hidden_units: [4], learning_rate: 0.002, "
              "seed: 0}\n")
TUNE = """\
tune:
  hidden_units: [[4], [32, 16]]
  learning_rate: [0.002, 0.03]
  epochs: [2, 30]
  max_trials: 3
  objective: accuracy
  seed: 1
"""
# A weak model must still run to the end (a missed KPI is exit 3, not a failure).
LOW_KPI = "kpi: {accuracy: {min: 0.6}}"


@pytest.fixture(scope="module")
def problem(tmp_path_factory):
    root = tmp_path_factory.mktemp("tune-e2e")
    text = write_problem(root, "multiclass").read_text()
    assert "train: {epochs: 30, batch_size: 32}\n" in text and LOW_KPI in text
    text = text.replace("train: {epochs: 30, batch_size: 32}\n", WEAK_TRAIN).replace(
        LOW_KPI, "kpi: {accuracy: {min: 0.1}}")
    (root / "untuned.yaml").write_text(text)
    (root / "tuned.yaml").write_text(text + TUNE)
    return {"root": root, "runs": {}}


def _run(problem, name: str, *options):
    root = problem["root"]
    result = run_mlpipe("run", "--config", root / f"{name}.yaml", "--home", root / name,
                        *options, cwd=root, timeout=600)
    assert result.returncode in (0, 3), result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def _states(stdout: str) -> dict:
    """{component: executed | cached | ...} from the progress lines."""
    states = {}
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0] in ("✓", "=", "✗"):
            states[parts[1]] = parts[2]
    return states


def _root(problem, name) -> pathlib.Path:
    return problem["root"] / name / "penguins" / "pipeline_root"


def _newest(folder: pathlib.Path) -> pathlib.Path:
    return max(folder.iterdir(), key=lambda path: int(path.name))


def _accuracy(problem, name) -> float:
    return lineage.overall_metrics(str(_newest(_root(problem, name) / "Evaluator" /
                                               "evaluation")))["accuracy"]


def test_tuned_run_tunes_then_trains_with_the_best_hyperparameters(problem):
    stdout = _run(problem, "tuned")
    states = _states(stdout)
    assert states["Tuner"] == "executed" and states["Trainer"] == "executed", stdout
    assert list(states).index("Tuner") < list(states).index("Trainer")
    assert "Search space summary" not in stdout  # keras-tuner's prints go to the run's log

    root = _root(problem, "tuned")
    best = json.loads((_newest(root / "Tuner" / "best_hyperparameters") /
                       "best_hyperparameters.txt").read_text())["values"]
    trials = json.loads((_newest(root / "Tuner" / "tuner_results") /
                         "tuner_results.json").read_text())
    assert len(trials) == 3
    by_id = {trial["trial_id"]: trial for trial in trials}
    untuned = by_id[min(by_id)]  # the first trial trains train:'s own values
    assert (untuned["hidden_units"], untuned["learning_rate"], untuned["epochs"]) == ("4", 0.002,
                                                                                      2)
    best_trial = max(trials, key=lambda trial: trial["score"])
    assert {key: best_trial[key] for key in best} == best

    # The Trainer's model has the best trial's layers ...
    import tensorflow as tf
    model = tf.keras.models.load_model(str(_newest(root / "Trainer" / "model") / "Format-Serving"))
    widths = [layer.units for layer in model.layers if layer.name.startswith("deep_")]
    assert widths == parse_units(best["hidden_units"])
    # ... trained with its learning rate and epochs (run_fn logs the train section it used) ...
    log = max((problem["root"] / "tuned" / "penguins" / "logs").glob("run-*.log")).read_text()
    assert (f"epochs={best['epochs']} batch_size=32 hidden_units={widths} "
            f"learning_rate={best['learning_rate']}") in log
    # ... and is the very model the best trial scored (same seed, data order and epochs).
    problem["tuned_accuracy"] = _accuracy(problem, "tuned")
    problem["trial_scores"] = (untuned["score"], best_trial["score"])
    assert problem["tuned_accuracy"] == pytest.approx(best_trial["score"], abs=1e-4)


def test_unchanged_rerun_is_cached(problem):
    states = _states(_run(problem, "tuned", "--recheck"))
    assert states["Tuner"] == "cached" and states["Trainer"] == "cached", states


def test_tuned_model_scores_at_least_as_well_as_the_untuned_default(problem):
    stdout = _run(problem, "untuned")
    assert "Tuner" not in _states(stdout)
    untuned_accuracy = _accuracy(problem, "untuned")
    untuned_trial, best_trial = problem["trial_scores"]
    # The untuned Trainer trains what the search's first trial trained.
    assert untuned_accuracy == pytest.approx(untuned_trial, abs=1e-4)
    print(f"eval accuracy: untuned {untuned_accuracy:.4f}, tuned {problem['tuned_accuracy']:.4f}")
    assert problem["tuned_accuracy"] >= untuned_accuracy
