"""`mlpipe predict`: streaming batch scoring with the pushed model of a real pipeline run."""

import csv

import numpy as np
import pytest

import mlpipe  # noqa: F401  (process settings before TensorFlow)
from mlpipe.cli import main
from mlpipe.serving.examples import encoder_for_schema
from mlpipe.serving.model import LoadedModel, resolve_version
from mlpipe.serving.predict import InputError, score_csv
from tests.support.configs import write_config
from tests.support.examples import example_of_checked

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def model(trained_home):
    return LoadedModel.load(*resolve_version(trained_home["home"]))


def test_scores_in_chunks_and_matches_one_direct_call(trained_home, model, tmp_path):
    encoder = encoder_for_schema(trained_home["config"].schema_path)
    output = tmp_path / "scored.csv"
    summary = score_csv(model, encoder, trained_home["csv"], output, batch_size=300,
                        progress=None)
    assert summary.rows == 2000 and summary.version == model.version
    with open(trained_home["csv"], newline="") as source:
        inputs = list(csv.DictReader(source))
    with open(output, newline="") as scored_file:
        scored = list(csv.DictReader(scored_file))
    assert len(scored) == 2000
    assert list(scored[0]) == list(inputs[0]) + ["probability"]
    assert all(row[name] == source_row[name] for row, source_row in zip(scored, inputs)
               for name in inputs[0])
    # The reference: each row built as a protobuf message, absent values left out.
    direct = model.predict([example_of_checked(encoder.check_csv_row(row, ""), encoder)
                            .SerializeToString() for row in inputs])["probability"][:, 0]
    np.testing.assert_allclose([float(row["probability"]) for row in scored], direct, atol=1e-6)
    assert not list(tmp_path.glob("*.partial"))


def test_a_bad_value_names_line_and_column_and_leaves_no_output(trained_home, model, tmp_path,
                                                                write_csv, taxi_row):
    bad = write_csv(tmp_path / "bad.csv", [taxi_row()] * 5 + [taxi_row(fare="twelve")])
    output = tmp_path / "out.csv"
    with pytest.raises(InputError, match=r"bad.csv, line 7: column 'fare' expects a number"):
        score_csv(model, encoder_for_schema(trained_home["config"].schema_path), bad, output,
                  batch_size=4, progress=None)
    assert not output.exists() and not list(tmp_path.glob("*.partial"))


def test_skip_bad_rows_scores_the_good_rows_and_lists_the_bad_by_line(trained_home, model,
                                                                      tmp_path, write_csv,
                                                                      taxi_row, capsys):
    """Bad rows among good ones, across chunks of 4 (one chunk all bad): the good rows are
    scored as if alone, each beside its own input text; the bad ones are listed by line."""
    rows = [taxi_row(fare=f"{5 + i}.5") for i in range(14)]
    rows[2] = taxi_row(fare="twelve")
    rows[6] = taxi_row(payment_type="")
    for i in range(8, 12):
        rows[i] = taxi_row(trip_start_hour="noon")
    data = write_csv(tmp_path / "mixed.csv", rows)
    output = tmp_path / "scored.csv"
    config_file = write_config(tmp_path / "config.yaml", trained_home["config"])
    code = main(["predict", "--config", str(config_file), "--home", trained_home["base"],
                 "--input", str(data), "--output", str(output), "--batch-size", "4",
                 "--skip-bad-rows"])
    out = capsys.readouterr().out
    assert code == 0 and "Wrote 8 rows" in out and "Rejected 6 rows with bad values" in out

    good = [row for i, row in enumerate(rows) if i not in (2, 6, 8, 9, 10, 11)]
    with open(output, newline="") as scored_file:
        scored = list(csv.DictReader(scored_file))
    assert [row["fare"] for row in scored] == [row["fare"] for row in good]
    encoder = encoder_for_schema(trained_home["config"].schema_path)
    direct = model.predict([example_of_checked(encoder.check_csv_row(
        {k: str(v) for k, v in row.items()}, ""), encoder).SerializeToString()
        for row in good])["probability"][:, 0]
    np.testing.assert_allclose([float(row["probability"]) for row in scored], direct, atol=1e-6)

    with open(tmp_path / "scored.csv.rejected.csv", newline="") as rejected_file:
        rejected = list(csv.DictReader(rejected_file))
    assert [(row["line"], row["column"]) for row in rejected] == [
        ("4", "fare"), ("8", "payment_type"), ("10", "trip_start_hour"),
        ("11", "trip_start_hour"), ("12", "trip_start_hour"), ("13", "trip_start_hour")]
    assert "expects a number" in rejected[0]["error"] and rejected[0]["fare"] == "twelve"
    assert not list(tmp_path.glob("*.partial"))


def test_cli_predict_reports_progress_and_pins_a_version(trained_home, tmp_path, capsys):
    config_file = write_config(tmp_path / "config.yaml", trained_home["config"])
    version = trained_home["home"].pushed_versions()[-1].name
    output = tmp_path / "scored.csv"
    code = main(["predict", "--config", str(config_file), "--home", trained_home["base"],
                 "--input", str(trained_home["csv"]), "--output", str(output),
                 "--version", version, "--batch-size", "500"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert f"Wrote 2,000 rows to {output}" in captured.out
    assert "scored 2,000 rows" in captured.err
    code = main(["predict", "--config", str(config_file), "--home", trained_home["base"],
                 "--input", str(trained_home["csv"]), "--output", str(output),
                 "--version", "12345"])
    assert code == 2 and "version 12345 is not pushed" in capsys.readouterr().err


def test_a_large_csv_is_scored_in_bounded_chunks_like_direct_calls(trained_home, model, tmp_path):
    """200,000 rows (the 2,000 taxi rows 100 times): every model call gets at most one chunk,
    Arrow's memory stays far below the file's size, and sampled rows score as a direct call."""
    import pyarrow as pa
    encoder = encoder_for_schema(trained_home["config"].schema_path)
    lines = trained_home["csv"].read_text().splitlines(keepends=True)
    big = tmp_path / "big.csv"
    with big.open("w") as sink:
        sink.write(lines[0])
        for _ in range(100):
            sink.writelines(lines[1:])
    calls, peak = [], [0]

    class Recording:
        version = model.version

        def predict(self, serialized):
            calls.append(len(serialized))
            peak[0] = max(peak[0], pa.total_allocated_bytes())
            return model.predict(serialized)

    baseline = pa.total_allocated_bytes()
    output = tmp_path / "scored.csv"
    summary = score_csv(Recording(), encoder, big, output, batch_size=2048, progress=None)
    assert summary.rows == 200_000 and sum(calls) == 200_000
    assert max(calls) == 2048 and len(calls) == -(-200_000 // 2048)
    size = big.stat().st_size
    assert peak[0] - baseline < size / 5, (peak[0] - baseline, size)

    with open(big, newline="") as source, open(output, newline="") as scored_file:
        sample = [(source_row, scored_row) for i, (source_row, scored_row) in enumerate(
            zip(csv.DictReader(source), csv.DictReader(scored_file))) if i % 997 == 0]
    assert len(sample) == 201
    assert all(scored_row[name] == source_row[name]
               for source_row, scored_row in sample for name in source_row)
    direct = model.predict([example_of_checked(encoder.check_csv_row(source_row, ""), encoder)
                            .SerializeToString() for source_row, _ in sample])["probability"][:, 0]
    np.testing.assert_allclose([float(row["probability"]) for _, row in sample], direct,
                               atol=1e-6)
