"""FairnessGate: the judging rule on synthetic slice metrics (fast), the executor's artifacts with
TFMA's loader stood in for (fast), and the real pipeline refusing a planted bias (e2e)."""

import io
import json
import os
import pathlib

import mlpipe  # noqa: F401  (process settings before TensorFlow)
import numpy as np
import pytest
import yaml
from tfx.types import standard_artifacts

from mlpipe.components import fairness_gate
from mlpipe.components.fairness_gate import executor
from mlpipe.components.fairness_gate.spec import FairnessChecksArtifact, JudgedFairness
from mlpipe.config import EvaluationConfig, load_config

SPEC = JudgedFairness(features=["group"], min_slice_size=50,
                      metrics={"fpr": {"max": 0.3, "max_gap": 0.1}})


def _spec(**changes):
    """SPEC with some fields replaced (and checked, as the executor reads it)."""
    return JudgedFairness.model_validate({**SPEC.model_dump(), **changes})


def _slices(overall_fpr=0.10, **groups):
    """{slice key: metrics}: overall plus one slice per group=(fpr, example_count)."""
    slices = {(): {"example_count": 1000.0, "fpr": overall_fpr}}
    for name, (fpr, count) in groups.items():
        slices[(("group", name),)] = {"example_count": float(count), "fpr": fpr}
    return slices


def _row(result, slice_value, metric="fpr"):
    [row] = [r for r in result["rows"] if r["slice"] == slice_value and r["metric"] == metric]
    return row


# --- judge: the rule ---------------------------------------------------------------------------

def test_every_slice_within_bounds_passes():
    result = executor.judge(_slices(a=(0.08, 600), b=(0.14, 390)), SPEC)
    assert result["passed"] and result["failures"] == []
    assert result["judged_slices"] == 2 and result["unjudged_slices"] == 0
    a, b = _row(result, "a"), _row(result, "b")
    assert a["judged"] and a["passed"] and a["violations"] == []
    # margin: the smallest distance inside any bound (max: 0.3 - 0.14; gap: 0.1 - 0.04).
    assert b["gap"] == pytest.approx(0.04)
    assert b["margin"] == pytest.approx(0.06)
    assert a["margin"] == pytest.approx(0.08)  # gap -0.02 -> 0.1 - 0.02
    assert b["bound"] == "<= 0.3, |gap| <= 0.1"
    assert (b["max"], b["min"], b["max_gap"]) == (0.3, None, 0.1)
    assert b["overall"] == pytest.approx(0.10) and result["overall"] == {"fpr": 0.10}


def test_a_slice_above_max_is_refused_and_named():
    result = executor.judge(_slices(overall_fpr=0.25, a=(0.2, 600), b=(0.41, 390)), SPEC)
    assert not result["passed"]
    b = _row(result, "b")
    assert b["judged"] and b["passed"] is False
    assert b["margin"] == pytest.approx(0.3 - 0.41)
    assert "group=b: fpr 0.4100 > max 0.3" in result["failures"]
    assert not any("group=a" in line for line in result["failures"])


def test_a_gap_to_the_overall_value_is_refused_either_way():
    result = executor.judge(_slices(overall_fpr=0.15, a=(0.02, 600), b=(0.2, 390)), SPEC)
    a, b = _row(result, "a"), _row(result, "b")
    assert a["gap"] == pytest.approx(-0.13) and a["margin"] == pytest.approx(-0.03)
    assert a["passed"] is False and b["passed"] is True
    assert result["failures"] == [
        "group=a: fpr 0.0200 is 0.1300 from the overall 0.1500 > max_gap 0.1"]


def test_min_bound():
    spec = _spec(metrics={"tpr": {"min": 0.6}})
    slices = {(): {"example_count": 900.0, "tpr": 0.8},
              (("group", "a"),): {"example_count": 500.0, "tpr": 0.9},
              (("group", "b"),): {"example_count": 400.0, "tpr": 0.55}}
    result = executor.judge(slices, spec)
    assert result["failures"] == ["group=b: tpr 0.5500 < min 0.6"]
    assert _row(result, "b", "tpr")["margin"] == pytest.approx(-0.05)
    assert _row(result, "a", "tpr")["bound"] == ">= 0.6"


def test_a_small_slice_is_shown_and_not_judged():
    result = executor.judge(_slices(a=(0.1, 600), b=(0.12, 390), c=(0.9, 12)), SPEC)
    assert result["passed"], "a slice of 12 examples must not veto the model"
    c = _row(result, "c")
    assert c["judged"] is False and c["passed"] is None and c["violations"] == []
    assert c["reason"] == "too small: 12 examples < min_slice_size 50"
    # Its numbers are still shown, so a reader sees what the bound would have said.
    assert c["value"] == pytest.approx(0.9) and c["example_count"] == 12
    assert c["margin"] == pytest.approx(0.1 - (0.9 - 0.1))  # its gap is the furthest out
    assert result["judged_slices"] == 2 and result["unjudged_slices"] == 1


def test_the_size_limit_is_inclusive():
    result = executor.judge(_slices(a=(0.1, 50), b=(0.1, 49)), SPEC)
    assert _row(result, "a")["judged"] and not _row(result, "b")["judged"]


def test_an_undefined_rate_is_not_judged():
    """TFMA answers NaN when the rate's denominator is zero (no negatives for fpr)."""
    result = executor.judge(_slices(a=(0.1, 600), b=(float("nan"), 300)), SPEC)
    b = _row(result, "b")
    assert result["passed"] and not b["judged"] and b["value"] is None
    assert "undefined" in b["reason"]


def test_an_undefined_overall_rate_leaves_the_absolute_bounds():
    result = executor.judge(_slices(overall_fpr=float("nan"), a=(0.35, 600)), SPEC)
    a = _row(result, "a")
    assert a["gap"] is None and a["judged"]
    assert result["failures"] == ["group=a: fpr 0.3500 > max 0.3"]


def test_several_features_and_metrics():
    spec = JudgedFairness(features=["group", "hour"], min_slice_size=10,
                          metrics={"fpr": {"max_gap": 0.1}, "fnr": {"max": 0.5}})
    slices = {(): {"example_count": 100.0, "fpr": 0.1, "fnr": 0.2},
              (("group", "a"),): {"example_count": 60.0, "fpr": 0.1, "fnr": 0.2},
              (("hour", 7),): {"example_count": 30.0, "fpr": 0.3, "fnr": 0.6},
              (("hour", 23),): {"example_count": 30.0, "fpr": 0.1, "fnr": 0.2},
              (("group", "a"), ("hour", 7)): {"example_count": 20.0, "fpr": 0.9, "fnr": 0.9}}
    result = executor.judge(slices, spec)
    # Metrics in name order per slice; numeric slice values in numeric order; crosses ignored.
    assert [(r["feature"], r["slice"], r["metric"]) for r in result["rows"]] == [
        ("group", "a", "fnr"), ("group", "a", "fpr"), ("hour", "7", "fnr"), ("hour", "7", "fpr"),
        ("hour", "23", "fnr"), ("hour", "23", "fpr")]
    assert result["failures"] == [
        "hour=7: fnr 0.6000 > max 0.5",
        "hour=7: fpr 0.3000 is 0.2000 from the overall 0.1000 > max_gap 0.1"]


def test_a_metric_tfma_did_not_compute_fails_the_gate():
    slices = {(): {"example_count": 100.0, "auc": 0.9}, (("group", "a"),): {"example_count": 60.0}}
    with pytest.raises(ValueError, match=r"no \['fpr'\] on the overall slice"):
        executor.judge(slices, SPEC)


def test_a_feature_without_any_slice_fails():
    result = executor.judge(_slices(a=(0.1, 600)), _spec(features=["group", "region"]))
    assert not result["passed"] and result["missing_features"] == ["region"]
    assert result["failures"] == ["region: no slice of this feature in the evaluation"]


def test_spec_json_from_the_config_resolves_min_slice_size():
    evaluation = EvaluationConfig(kpi={}, min_slice_size=70, fairness={
        "features": ["group"], "metrics": {"fpr": {"max": 0.3}, "fnr": {"max_gap": 0.2}}})
    spec = JudgedFairness.model_validate_json(fairness_gate.spec_json(evaluation))
    assert spec.model_dump(exclude_none=True) == {"features": ["group"], "min_slice_size": 70,
                    "metrics": {"fnr": {"max_gap": 0.2}, "fpr": {"max": 0.3}}}


@pytest.mark.parametrize("spec, words", [
    ({"features": [], "metrics": {"fpr": {"max": 1}}, "min_slice_size": 1}, "features"),
    ({"features": ["g"], "metrics": {"auc": {"max": 1}}, "min_slice_size": 1}, "unknown rate"),
    ({"features": ["g"], "metrics": {"fpr": {}}, "min_slice_size": 1}, "give 'max'"),
    ({"features": ["g"], "metrics": {"fpr": {"max": 1}}, "min_slice_size": 0}, "min_slice_size"),
])
def test_a_bad_spec_fails_when_the_graph_is_built(spec, words):
    with pytest.raises(ValueError, match=words):
        fairness_gate.FairnessGate(evaluation=None, model_blessing=None,
                                   fairness_spec=json.dumps(spec))


# --- the executor: artifacts and blessing, TFMA's loader stood in for ---------------------------

def _artifact(cls, folder: pathlib.Path, **int_properties):
    folder.mkdir(parents=True, exist_ok=True)
    artifact = cls()
    artifact.uri = str(folder)
    for name, value in int_properties.items():
        artifact.set_int_custom_property(name, value)
    return artifact


def _run_executor(tmp_path, monkeypatch, slices, evaluator_blessed=True):
    monkeypatch.setattr(executor, "load_slices", lambda uri: slices)
    evaluator_blessing = _artifact(standard_artifacts.ModelBlessing, tmp_path / "eval_blessing",
                                   blessed=int(evaluator_blessed), current_model_id=7,
                                   baseline_model_id=3)
    evaluator_blessing.set_string_custom_property("current_model", "/models/7")
    evaluator_blessing.set_string_custom_property("baseline_model", "/models/3")
    checks = _artifact(FairnessChecksArtifact, tmp_path / "fairness")
    blessing = _artifact(standard_artifacts.ModelBlessing, tmp_path / "blessing")
    executor.Executor().Do(
        {"evaluation": [_artifact(standard_artifacts.ModelEvaluation, tmp_path / "evaluation")],
         "model_blessing": [evaluator_blessing]},
        {"fairness": [checks], "blessing": [blessing]},
        {"fairness_spec": SPEC.model_dump_json()})
    return fairness_gate.read_fairness(checks.uri), blessing


def test_executor_blesses_what_the_evaluator_blessed_and_is_fair(tmp_path, monkeypatch):
    result, blessing = _run_executor(tmp_path, monkeypatch, _slices(a=(0.1, 600), b=(0.1, 300)))
    assert result["passed"] and result["blessed"] and result["evaluator_blessed"]
    assert blessing.get_int_custom_property("blessed") == 1
    assert os.listdir(blessing.uri) == ["BLESSED"]
    # What TFX's Pusher and LatestBlessedModelStrategy (and our baseline strategy) read.
    assert blessing.get_int_custom_property("current_model_id") == 7
    assert blessing.get_int_custom_property("baseline_model_id") == 3
    assert blessing.get_string_custom_property("current_model") == "/models/7"
    assert blessing.get_string_custom_property("baseline_model") == "/models/3"
    from tfx.components.util import model_utils
    assert model_utils.is_model_blessed(blessing)


def test_executor_withdraws_the_blessing_and_names_the_slice(tmp_path, monkeypatch, caplog):
    with caplog.at_level("INFO"):
        result, blessing = _run_executor(tmp_path, monkeypatch,
                                         _slices(a=(0.1, 600), b=(0.45, 300)))
    assert result["evaluator_blessed"] and not result["passed"] and not result["blessed"]
    assert blessing.get_int_custom_property("blessed") == 0
    assert blessing.get_int_custom_property("fairness_passed") == 0
    assert blessing.get_int_custom_property("evaluator_blessed") == 1
    assert os.listdir(blessing.uri) == ["NOT_BLESSED"]
    assert "group=b: fpr 0.4500 > max 0.3" in result["failures"]
    assert "group=b: fpr 0.4500 > max 0.3" in caplog.text


def test_executor_never_blesses_what_the_evaluator_did_not(tmp_path, monkeypatch):
    result, blessing = _run_executor(tmp_path, monkeypatch, _slices(a=(0.1, 600)),
                                     evaluator_blessed=False)
    assert result["passed"] and not result["blessed"]
    assert blessing.get_int_custom_property("blessed") == 0
    assert blessing.get_int_custom_property("fairness_passed") == 1


def test_fairness_json_is_strict_json(tmp_path, monkeypatch):
    _run_executor(tmp_path, monkeypatch, _slices(a=(float("nan"), 600)))
    text = (tmp_path / "fairness" / fairness_gate.FAIRNESS_FILE).read_text()
    assert "NaN" not in text
    assert json.loads(text)["rows"][0]["value"] is None


# --- e2e: a planted bias is refused, the same data without it is blessed -------------------------

ROWS = 2000
GROUPS = [("a", 1650), ("b", 335), ("c", 15)]  # c: too small to judge
FLIP_B = 0.35   # the planted bias: share of group b's labels flipped
# A large enough slice far off pulls the overall value with it: b is a sixth of the rows, so the
# gap of the unbiased group a stays well inside max_gap while b is far outside both bounds.
FAIRNESS = {"features": ["group"], "min_slice_size": 50,
            "metrics": {"fpr": {"max": 0.25, "max_gap": 0.3}}}

SCHEMA = """
feature { name: "group" type: BYTES domain: "group" value_count { min: 1 max: 1 }
          presence { min_fraction: 1.0 min_count: 1 } }
feature { name: "x" type: FLOAT value_count { min: 1 max: 1 }
          presence { min_fraction: 1.0 min_count: 1 } }
feature { name: "label" type: INT int_domain { min: 0 max: 1 } value_count { min: 1 max: 1 }
          presence { min_fraction: 1.0 min_count: 1 } not_in_environment: "SERVING" }
string_domain { name: "group" value: "a" value: "b" value: "c" }
default_environment: "TRAINING"
default_environment: "SERVING"
"""


def write_dataset(path: pathlib.Path, biased: bool, seed: int = 7) -> pathlib.Path:
    """x ~ N(0, 1) decides the label (x > 0); with `biased`, FLIP_B of group b's labels are
    flipped, so the model, which still predicts from x, has far more false positives there."""
    rng = np.random.default_rng(seed)
    lines = ["group,x,label"]
    for group, count in GROUPS:
        x = rng.normal(size=count)
        label = (x > 0).astype(int)
        flips = rng.random(count) < FLIP_B
        if biased and group == "b":
            label = np.where(flips, 1 - label, label)
        lines += [f"{group},{value:.5f},{y}" for value, y in zip(x, label)]
    order = rng.permutation(len(lines) - 1) + 1
    path.write_text("\n".join([lines[0]] + [lines[i] for i in order]) + "\n")
    return path


def write_problem(folder: pathlib.Path, data: pathlib.Path) -> pathlib.Path:
    """A problem config and schema for the generated data, built like mlpipe/configs/taxi.yaml."""
    (folder / "schema.pbtxt").write_text(SCHEMA)
    config = {
        "name": "fairness-check",
        "data": {"path": str(data), "format": "csv", "split": {"train": 2, "eval": 1}},
        "label": {"name": "positive", "column": "label"},
        "features": {"numeric": ["x"], "categorical": ["group"]},
        "schema": "schema.pbtxt",
        "train": {"epochs": 8, "batch_size": 64, "hidden_units": [8], "learning_rate": 0.02},
        "evaluation": {"kpi": {"auc": {"min": 0.7}}, "max_regression": {"auc": 0.5},
                       "main_metric": "auc", "min_slice_size": 50, "fairness": FAIRNESS},
    }
    path = folder / "problem.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.mark.e2e
def test_planted_bias_is_refused_and_the_same_data_without_it_is_blessed(tmp_path):
    from mlpipe.core.run_home import RunHome
    from mlpipe.local.local_runner import run_local
    from mlpipe.report.loader import load_report
    from mlpipe.report.terminal import render_json, render_text
    from mlpipe.report.html import render_html

    config = load_config(write_problem(tmp_path, write_dataset(tmp_path / "fair.csv", False)))
    home = RunHome.for_pipeline(config.name, str(tmp_path / "runs"))

    # 1. No bias: blessed and pushed; group c is shown as too small and not judged.
    fair = run_local(config, home, out=io.StringIO())
    assert fair.blessed is True and fair.pushed_version, (fair.metrics, fair.fairness_failures)
    assert fair.fairness_failures == []
    checks = fairness_gate.read_fairness(fair.fairness_uri)
    assert checks["passed"] and checks["blessed"]
    rows = {row["slice"]: row for row in checks["rows"]}
    assert set(rows) == {"a", "b", "c"}
    assert rows["a"]["judged"] and rows["b"]["judged"]
    assert rows["c"]["judged"] is False and "too small" in rows["c"]["reason"]
    assert rows["c"]["example_count"] < 50
    assert rows["b"]["value"] < 0.25 and abs(rows["b"]["gap"]) < 0.3

    # 2. The same data with group b's labels flipped: the Evaluator blesses (KPI, regression),
    # the gate does not; nothing is pushed, and the refusal names group=b and nothing else.
    write_dataset(pathlib.Path(config.data.path), True)
    biased = run_local(config, home, out=io.StringIO())
    assert biased.blessed is False
    assert biased.pushed_version is None
    assert [p.name for p in home.pushed_versions()] == [pathlib.Path(fair.pushed_version).name]
    checks = fairness_gate.read_fairness(biased.fairness_uri)
    assert checks["evaluator_blessed"] is True and checks["passed"] is False
    assert biased.fairness_failures and all(
        line.startswith("group=b: fpr ") for line in biased.fairness_failures), \
        biased.fairness_failures
    rows = {row["slice"]: row for row in checks["rows"]}
    assert rows["b"]["passed"] is False and rows["b"]["margin"] < 0
    assert rows["a"]["passed"] is True
    assert rows["c"]["judged"] is False

    # The report shows every slice with value, bound and margin, in text, HTML and JSON.
    report = load_report(home, None, config.evaluation.main_metric,
                         config.evaluation.min_slice_size)
    assert report.blessed is False
    text = render_text(report)
    assert "Fairness: FAILED" in text and "refused: group=b: fpr" in text
    assert "not judged: too small" in text
    page = render_html(report)
    section = page.split("<h2>Fairness</h2>", 1)[1].split("<h2>", 1)[0]
    assert "id='fairness'" in section and "group=b: fpr" in section
    assert "<script" not in page and "http" not in section.lower()
    data = json.loads(render_json(report))
    assert data["fairness"]["failures"] == biased.fairness_failures
    assert {row["slice"] for row in data["fairness"]["rows"]} == {"a", "b", "c"}
    print("\n".join(line for line in text.splitlines() if "group" in line or "Fairness" in line))
