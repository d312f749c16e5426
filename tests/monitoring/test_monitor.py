"""`mlpipe monitor` against the statistics of a real pipeline run (2,000 taxi rows)."""

import csv
import json

import pytest

import mlpipe  # noqa: F401  (process settings before TensorFlow)
from mlpipe.monitoring.training_stats import find_training_statistics
from mlpipe.cli import main
from mlpipe.serving.request_log import RequestLog
from tests.support.configs import write_config

EXIT_ALARM = 4


@pytest.fixture(scope="module")
def workspace(trained_home, tmp_path_factory):
    folder = tmp_path_factory.mktemp("monitor")
    config_file = write_config(folder / "config.yaml", trained_home["config"])
    return {**trained_home, "folder": folder, "config_file": config_file}


def _monitor(workspace, *args):
    output = workspace["folder"] / f"report-{len(list(workspace['folder'].glob('*.json')))}.json"
    code = main(["monitor", "--config", str(workspace["config_file"]),
                 "--home", workspace["base"], "--output", str(output), *args])
    return code, json.loads(output.read_text()) if output.exists() else None


def _skewed(source, target):
    """Fares shifted up, and a payment type the schema does not know in a quarter of rows."""
    with open(source, newline="") as reader_file, open(target, "w", newline="") as sink:
        reader = csv.DictReader(reader_file)
        writer = csv.DictWriter(sink, reader.fieldnames)
        writer.writeheader()
        for i, row in enumerate(reader):
            row["fare"] = f"{float(row['fare']) * 1.5 + 8:.2f}"
            if i % 4 == 0:
                row["payment_type"] = "Crypto"
            writer.writerow(row)
    return target


pytestmark = pytest.mark.e2e


def test_training_statistics_are_found_through_the_pushed_models_lineage(trained_home):
    found = find_training_statistics(trained_home["home"])
    assert found.found_by.startswith("lineage of pushed version")
    assert found.path.name == "FeatureStats.pb" and found.path.parent.name == "Split-train"
    assert "StatisticsGen" in str(found.path)


def test_the_training_data_itself_reports_nothing(workspace, capsys):
    code, report = _monitor(workspace, "--input", str(workspace["csv"]))
    assert code == 0, capsys.readouterr().out
    assert report["alarm"] is False
    assert report["drifted_features"] == [] and report["anomalies"] == []
    assert report["environment"] == "TRAINING" and report["rows"] == 2000
    measured = {d["feature"]: d["measure"] for d in report["drift"]}
    assert measured["payment_type"] == "L-infinity" and measured["company"] == "L-infinity"
    assert measured["fare"] == "PSI"
    assert len(measured) == len(workspace["config"].features.raw_columns)
    assert "OK: within thresholds" in capsys.readouterr().out


def test_skewed_data_reports_exactly_the_shifted_features(workspace, capsys):
    skewed = _skewed(workspace["csv"], workspace["folder"] / "skewed.csv")
    code, report = _monitor(workspace, "--input", str(skewed))
    out = capsys.readouterr().out
    assert code == EXIT_ALARM, out
    assert report["alarm"] is True
    assert sorted(report["drifted_features"]) == ["fare", "payment_type"]
    assert report["anomalous_features"] == ["payment_type"]
    assert "Crypto" in report["anomalies"][0]["description"]
    by_feature = {d["feature"]: d for d in report["drift"]}
    assert by_feature["payment_type"]["value"] == pytest.approx(0.25, abs=0.02)
    assert "DRIFT" in out and "Drifted features: fare, payment_type" in out
    # What moved, in a person's terms: quantiles of the fare then and now, the new value.
    assert by_feature["payment_type"]["moved"]["values"][0][0] == "(unseen)"
    median_then, median_now = by_feature["fare"]["moved"]["quantiles"]["p50"]
    assert median_now == pytest.approx(median_then * 1.5 + 8, rel=0.05)
    assert "moved: p10 " in out and "(unseen) 0.0% -> 25" in out


def test_results_are_kept_in_the_run_home_and_shown_in_the_pushing_runs_report(
        workspace, capsys, tmp_path):
    skewed = _skewed(workspace["csv"], tmp_path / "skewed-for-report.csv")
    code, result = _monitor(workspace, "--input", str(skewed))
    assert code == EXIT_ALARM
    version = workspace["home"].pushed_versions()[-1].name
    assert result["model_version"] == version and result["monitored_at"]
    kept = sorted((workspace["home"].root / "monitoring").glob("monitor-*.json"))[-1]
    assert json.loads(kept.read_text()) == result
    capsys.readouterr()

    html_file, json_file = tmp_path / "report.html", tmp_path / "report.json"
    code = main(["report", "--config", str(workspace["config_file"]), "--home", workspace["base"],
                 "--html", str(html_file), "--json", str(json_file)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"Monitoring of version {version}" in out
    line = next(line for line in out.splitlines() if result["monitored_at"] in line
                and "skewed-for-report.csv" in line)
    assert "ALARM" in line and "fare" in line and "anomalies: payment_type" in line
    newest = json.loads(json_file.read_text())["monitoring"][0]
    assert newest["monitored_at"] == result["monitored_at"]
    assert newest["drift"] == result["drift"]
    page = html_file.read_text()
    assert f"Monitoring of version {version}" in page
    assert "id='monitoring'" in page and "id='drift-chart'" in page
    moved = page.split("id='drift-moved'")[1].split("</ul>")[0]
    assert "<b>fare</b>: p10 " in moved and "(unseen) 0.0% -&gt; 25" in moved
    assert "Crypto" in page.split("id='monitor-anomalies'")[1]


def test_logged_requests_are_the_default_input(workspace, capsys):
    """A request log as `mlpipe serve` writes it, monitored in the SERVING environment."""
    from mlpipe.serving.examples import encoder_for_schema
    config = workspace["config"]
    encoder = encoder_for_schema(config.schema_path)
    log = RequestLog(workspace["home"].request_log_dir(config.serving),
                     {n: f.type for n, f in encoder.features.items()}, max_bytes=64 * 1024)
    with open(workspace["csv"], newline="") as source:
        for i, row in enumerate(csv.DictReader(source)):
            log.log([encoder.check_csv_row(row, f"line {i + 2}")], [0.5], version=1)
    log.close()
    assert len(log.files()) > 1
    code, report = _monitor(workspace)
    assert code == 0, capsys.readouterr().out
    assert report["environment"] == "SERVING" and report["rows"] == 2000
    assert report["drifted_features"] == [] and report["anomalies"] == []


def test_evaluate_scores_labelled_data_against_the_kpi(workspace, capsys):
    code, report = _monitor(workspace, "--input", str(workspace["csv"]),
                            "--evaluate", str(workspace["csv"]))
    out = capsys.readouterr().out
    assert code == 0, out
    evaluation = report["evaluation"]
    assert evaluation["rows"] == 2000 and evaluation["failed"] == []
    assert evaluation["metrics"]["auc"] >= 0.8
    assert "KPI met" in out


def test_missing_input_is_a_clear_error(workspace, capsys):
    code, _ = _monitor(workspace, "--input", str(workspace["folder"] / "none.csv"))
    assert code == 2
    assert "no file matches" in capsys.readouterr().err


def test_a_cell_the_schema_type_cannot_hold_names_file_line_and_column(workspace, capsys):
    """TFDV's CSV reader fails with "could not convert string to float" and nothing else; the
    monitor names where (exit 2, no report)."""
    bad = workspace["folder"] / "bad-cell.csv"
    with open(workspace["csv"], newline="") as source, open(bad, "w", newline="") as sink:
        reader = csv.DictReader(source)
        writer = csv.DictWriter(sink, reader.fieldnames)
        writer.writeheader()
        for i, row in enumerate(reader):
            if i == 4:
                row["fare"] = "twelve"
            writer.writerow(row)
    code, report = _monitor(workspace, "--input", str(bad))
    assert code == 2 and report is None
    assert f"{bad}, line 6: column 'fare' expects a number" in capsys.readouterr().err
