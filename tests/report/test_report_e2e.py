"""`mlpipe report` on real pipeline runs: first run (no baseline), a run compared with a baseline,
a model that misses its KPI, and a run stopped at the gate. Numbers are checked against what
TFMA's own loaders read from the same Evaluator output; the HTML is opened in headless Chromium."""

import io
import json
import pathlib
import shutil
import subprocess

import pytest

import mlpipe  # noqa: F401  (process settings before TensorFlow)
from mlpipe.core import lineage
from mlpipe.config import Bound, load_config
from mlpipe.local.local_runner import PipelineFailed, run_local
from mlpipe.core.run_home import RunHome
from mlpipe.report.loader import ReportError, load_report
from tests.support.cli import run_mlpipe
from tests.support.configs import write_config

pytestmark = pytest.mark.e2e

ROWS = 2500
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--disable-quic", "--host-resolver-rules=MAP * ~NOTFOUND"]


def _write_slice(source: str, target: pathlib.Path, rows: int, break_hours: bool = False):
    with open(source) as reader:
        lines = [line for _, line in zip(range(rows + 1), reader)]
    hour = lines[0].rstrip("\n").split(",").index("trip_start_hour")
    with open(target, "w") as writer:
        writer.write(lines[0])
        for i, line in enumerate(lines[1:]):
            fields = line.rstrip("\n").split(",")
            if break_hours and i % 2 == 0:
                fields[hour] = "40"
            writer.write(",".join(fields) + "\n")


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    """Four runs in one home: first (blessed), strict KPI (not blessed), new data (blessed,
    with a baseline), bad data (stopped at the gate)."""
    root = tmp_path_factory.mktemp("report")
    default = load_config()
    data = root / "data.csv"
    _write_slice(default.data.path, data, ROWS)
    evaluation = default.evaluation.model_copy(
        update={"kpi": {"auc": Bound(min=0.8)}, "max_regression": {"auc": 0.5}})
    config = default.model_copy(update={
        "data": default.data.model_copy(update={"path": str(data)}), "evaluation": evaluation})
    home = RunHome.for_pipeline(config.name, str(root / "runs"))
    quiet = io.StringIO()

    first = run_local(config, home, out=quiet)
    strict = config.model_copy(update={"evaluation": evaluation.model_copy(
        update={"kpi": {"auc": Bound(min=0.999)}})})
    rejected = run_local(strict, home, out=quiet)
    _write_slice(default.data.path, data, ROWS - 400)
    second = run_local(config, home, out=quiet)
    _write_slice(default.data.path, data, ROWS, break_hours=True)
    with pytest.raises(PipelineFailed):
        run_local(config, home, out=quiet)
    with lineage.open_store(home.metadata_path) as store:
        run_ids = [run.name for run in lineage.pipeline_runs(store)]
    config_file = write_config(root / "config.yaml", config)
    return {"home": home, "config": config, "config_file": config_file, "root": root,
            "runs": run_ids, "first": first, "rejected": rejected, "second": second}


def _tfma_overall(uri, model_name=None):
    import tensorflow_model_analysis as tfma
    result = tfma.load_eval_result(uri, model_name=model_name)
    metrics = next(m for key, m in result.slicing_metrics if key == ())
    # With confidence intervals (mlpipe.pipeline.evaluation) a metric is a boundedValue whose
    # value is the metric on all the examples; example_count stays a doubleValue.
    return {k: v["doubleValue"] if "doubleValue" in v else v["boundedValue"]["value"]
            for k, v in metrics[""][""].items() if "doubleValue" in v or "boundedValue" in v}


def _load(history, selector):
    return load_report(history["home"], selector, "auc", 100)


def test_first_run_has_no_baseline_and_numbers_equal_tfma(history):
    assert history["first"].blessed is True
    report = _load(history, history["runs"][0])
    assert report.blessed is True and report.baseline is None
    tfma_values = _tfma_overall(report.evaluation_uri)
    for name in ["auc", "binary_accuracy", "precision", "recall", "example_count"]:
        assert report.candidate[name] == pytest.approx(tfma_values[name], abs=1e-12)
    kpi = next(c for c in report.thresholds if c.kind == "kpi" and c.metric == "auc")
    assert kpi.passed and kpi.bound == 0.8
    assert kpi.margin == pytest.approx(tfma_values["auc"] - 0.8)
    # With no baseline, TFX's Evaluator drops change thresholds from the config it applies.
    assert all(check.kind == "kpi" for check in report.thresholds)
    assert report.lineage["pushed_to"] == history["first"].pushed_version


def test_pushed_version_selects_its_run(history):
    version = pathlib.Path(history["first"].pushed_version).name
    assert _load(history, version).run_id == history["runs"][0]


def test_failed_kpi_is_reported_with_its_margin(history):
    assert history["rejected"].blessed is False
    report = _load(history, history["runs"][1])
    assert report.blessed is False and report.validation_ok is False
    kpi = next(c for c in report.thresholds if c.kind == "kpi" and c.metric == "auc")
    assert kpi.passed is False and kpi.bound == 0.999
    assert kpi.margin == pytest.approx(report.candidate["auc"] - 0.999) and kpi.margin < 0
    assert report.lineage["pushed_to"] is None


def test_run_with_baseline_reports_candidate_baseline_and_change(history):
    assert history["second"].blessed is True
    report = _load(history, history["runs"][2])
    assert report.baseline is not None
    candidate = _tfma_overall(report.evaluation_uri, "candidate")
    baseline = _tfma_overall(report.evaluation_uri, "baseline")
    assert report.candidate["auc"] == pytest.approx(candidate["auc"], abs=1e-12)
    assert report.baseline["auc"] == pytest.approx(baseline["auc"], abs=1e-12)
    regression = next(c for c in report.thresholds if c.kind == "regression")
    assert regression.value == pytest.approx(candidate["auc"] - baseline["auc"])
    assert regression.passed is True
    counts = [row.example_count for row in report.slices]
    assert sum(row.example_count for row in report.slices if row.feature == "payment_type") \
        == pytest.approx(candidate["example_count"])
    assert any(row.too_small for row in report.slices) and counts
    main = [row.metrics.get("auc") for row in report.slices if not row.too_small]
    assert main == sorted(main)  # worst first
    assert report.roc and report.pr and report.calibration
    assert report.confusion["tp"] + report.confusion["fp"] + report.confusion["tn"] + \
        report.confusion["fn"] == pytest.approx(candidate["example_count"])
    assert {feature.name for feature in report.data} >= {"fare", "payment_type", "tips"}


def test_run_stopped_at_the_gate_is_explained(history):
    with pytest.raises(ReportError, match="never reached the Evaluator: AnomalyGate failed"):
        _load(history, None)


def _cli(history, *args):
    """`mlpipe report` on the history's config and home."""
    return run_mlpipe("report", "--config", history["config_file"],
                      "--home", history["home"].root.parent, *args, timeout=300)


def test_cli_text_json_and_html_agree_with_tfma(history, tmp_path):
    run_id = history["runs"][2]
    html_file, json_file = tmp_path / "report.html", tmp_path / "report.json"
    completed = _cli(history, run_id, "--html", str(html_file), "--json", str(json_file))
    assert completed.returncode == 0, completed.stderr
    candidate = _tfma_overall(_load(history, run_id).evaluation_uri, "candidate")
    auc = f"{candidate['auc']:.4f}"
    assert "Decision: BLESSED" in completed.stdout and auc in completed.stdout
    data = json.loads(json_file.read_text())
    assert data["candidate"]["auc"] == pytest.approx(candidate["auc"], abs=1e-12)
    page = html_file.read_text()
    assert auc in page
    assert "http://" not in page and "https://" not in page  # nothing fetched from anywhere
    _check_in_chromium(html_file, tmp_path, must_contain=[auc, "BLESSED", "payment_type"])


def _check_in_chromium(html_file: pathlib.Path, tmp_path: pathlib.Path, must_contain):
    from PIL import Image
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "chromium is installed by `make test` (apt package 'chromium')"
    profile = tmp_path / "profile"
    url = html_file.resolve().as_uri()
    dom = subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                          "--enable-logging=stderr", "--v=0", "--dump-dom", url],
                         capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "CONSOLE" not in dom.stderr or "error" not in dom.stderr.lower().split("console")[-1]
    for text in must_contain:
        assert text in dom.stdout
    for element in ["id=\"roc\"", "id=\"pr\"", "id=\"calibration\"", "id=\"confusion\"",
                    "class=\"slice-chart\"", "class=\"series\"", "id=\"data\""]:
        assert element in dom.stdout, element
    shot = tmp_path / "shot.png"
    subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                    f"--screenshot={shot}", "--window-size=1200,2400", url],
                   capture_output=True, text=True, timeout=120, check=True)
    image = Image.open(shot).convert("RGB")
    colours = image.getcolors(maxcolors=1 << 20)
    assert colours is None or len(colours) > 50, "the screenshot is blank"


def test_cli_compare_two_runs(history):
    first, second = history["runs"][0], history["runs"][2]
    completed = _cli(history, "--compare", first, second)
    assert completed.returncode == 0, completed.stderr
    assert "B - A" in completed.stdout and "payment_type = Cash" in completed.stdout


def test_cli_bad_inputs_exit_2_with_a_message(history, tmp_path):
    completed = run_mlpipe("report", "--home", tmp_path, timeout=120)
    assert completed.returncode == 2 and "no pipeline run found" in completed.stderr
    completed = _cli(history, "no-such-run")
    assert completed.returncode == 2 and "no-such-run" in completed.stderr


def test_corrupted_or_foreign_evaluation_output_is_a_clear_error(history, tmp_path):
    from mlpipe.report import loader
    source = pathlib.Path(_load(history, history["runs"][0]).evaluation_uri)
    broken = tmp_path / "evaluation"
    shutil.copytree(source, broken)
    metrics = next(broken.glob("metrics*"))
    metrics.write_bytes(b"\x00garbage" * 10)
    with pytest.raises(ReportError, match=str(broken)):
        loader.load_evaluation(str(broken))
    shutil.rmtree(broken)
    shutil.copytree(source, broken)
    (broken / "eval_config.json").write_text('{"evalConfig": {"modelSpecs": [1, 2, 3]}, '
                                             '"version": "99.0"}')
    with pytest.raises(ReportError):
        loader.load_evaluation(str(broken))
