"""The columnar CSV path of `mlpipe predict` (Arrow checks, tfx_bsl encoding, CSV output) against
the row-by-row rules of `ExampleEncoder.check_csv_row`, with a stand-in model (no TensorFlow
model needed)."""

import csv
import threading

import numpy as np
import pytest

import mlpipe  # noqa: F401  (process settings before TensorFlow)
from mlpipe.serving.examples import ExampleEncoder, RequestError
from mlpipe.serving.predict import InputError, csv_chunks, fixed_6, score_csv
from mlpipe.core.schema_io import SERVING, environment_features


class LengthModel:
    """Probability = serialized length / 1000: the output shows what each row was encoded as."""
    version = 7

    def __init__(self):
        self.batches = []

    def predict(self, serialized):
        self.batches.append(len(serialized))
        return {"probability": np.array([[len(s) / 1000.0] for s in serialized], np.float32)}


@pytest.fixture(scope="module")
def encoder(taxi_schema):
    return ExampleEncoder(environment_features(taxi_schema, SERVING))


def _features(serialized):
    """tf.Example -> {name: values}, leaving out features with no values (a missing value)."""
    import tensorflow as tf
    example = tf.train.Example.FromString(serialized)
    out = {}
    for name, feature in example.features.feature.items():
        kind = feature.WhichOneof("kind")
        values = list(getattr(feature, kind).value) if kind else []
        if values:
            out[name] = values
    return out


def test_chunks_encode_what_the_row_check_encodes(encoder, taxi_row, write_csv, tmp_path):
    rows = [taxi_row(), taxi_row(company="", pickup_latitude=None, dropoff_census_tract=None),
            taxi_row(trip_start_hour="7.0", trip_seconds="1e3", fare=" 12.5"),
            taxi_row(company='Say "hi", taxi', pickup_community_area="+8"),
            taxi_row(trip_start_timestamp=2**62, fare=1e-45)]
    path = write_csv(tmp_path / "rows.csv", rows * 3)
    chunks = list(csv_chunks(path, encoder, batch_size=4))
    assert [chunk.rows for chunk in chunks] == [4, 4, 4, 3]
    assert [chunk.first_line for chunk in chunks] == [2, 6, 10, 14]
    serialized = [s for chunk in chunks for s in chunk.serialized]
    with open(path, newline="") as source:
        expected = [encoder.serialize(encoder.check_csv_row(row, "")) for row in
                    csv.DictReader(source)]
    assert len(serialized) == len(expected) == 15
    for got, want in zip(serialized, expected):
        assert _features(got) == _features(want)


def test_output_keeps_the_input_text_and_quoting(encoder, taxi_row, write_csv, tmp_path):
    rows = [taxi_row(company='Say "hi", taxi'), taxi_row(company="line\nbreak"),
            taxi_row(fare="12.50", company="")]
    path = write_csv(tmp_path / "rows.csv", rows * 2)
    output = tmp_path / "scored.csv"
    model = LengthModel()
    summary = score_csv(model, encoder, path, output, batch_size=4)
    assert summary.rows == 6 and summary.version == 7 and model.batches == [4, 2]
    with open(path, newline="") as source, open(output, newline="") as scored_file:
        inputs, scored = list(csv.DictReader(source)), list(csv.DictReader(scored_file))
    assert [{k: v for k, v in row.items() if k != "probability"} for row in scored] == inputs
    with open(path, newline="") as source:
        lengths = [len(encoder.serialize(encoder.check_csv_row(row, "")))
                   for row in csv.DictReader(source)]
    # Same features, so about the same length (missing values are empty features here).
    assert all(float(row["probability"]) >= length / 1000 - 1e-6
               for row, length in zip(scored, lengths))
    first_line = output.read_text().splitlines()[1]
    assert first_line.startswith("8,10.0,5,19,6,1400269500,41.89,") and \
        '"Say ""hi"", taxi"' in first_line


@pytest.mark.parametrize("change, message", [
    ({"fare": "twelve"}, r"line 7: column 'fare' expects a number \(FLOAT\), got 'twelve'"),
    ({"fare": "nan"}, r"line 7: column 'fare' expects a number"),
    ({"fare": "1e39"}, r"line 7: column 'fare' value '1e39' is out of the FLOAT range"),
    ({"trip_start_hour": "7.5"}, r"line 7: column 'trip_start_hour' expects an integer"),
    ({"trip_start_hour": "0x10"}, r"line 7: column 'trip_start_hour' expects an integer"),
    ({"trip_seconds": str(2**63)}, r"line 7: column 'trip_seconds' value .* out of the INT"),
    ({"payment_type": ""}, r"line 7: missing required feature 'payment_type' \(BYTES\)"),
])
def test_a_bad_value_names_file_line_and_column(encoder, taxi_row, write_csv, tmp_path, change,
                                               message):
    path = write_csv(tmp_path / "bad.csv", [taxi_row()] * 5 + [taxi_row(**change)])
    output = tmp_path / "out.csv"
    with pytest.raises(InputError, match="bad.csv, " + message):
        score_csv(LengthModel(), encoder, path, output, batch_size=4)
    assert not output.exists() and not list(tmp_path.glob("*.partial"))


def test_the_first_bad_line_is_named_whichever_column_it_is_in(encoder, taxi_row, write_csv,
                                                              tmp_path):
    rows = [taxi_row()] * 3 + [taxi_row(trip_miles="")] + [taxi_row(fare="x")]
    path = write_csv(tmp_path / "bad.csv", rows)
    with pytest.raises(InputError, match="line 5: missing required feature 'trip_miles'"):
        list(csv_chunks(path, encoder, batch_size=100))
    with pytest.raises(RequestError, match="line 5: missing required feature 'trip_miles'"):
        with open(path, newline="") as source:
            for line, row in enumerate(csv.DictReader(source), start=2):
                encoder.check_csv_row(row, f"line {line}")


def test_malformed_csv_and_header_problems(encoder, taxi_row, taxi_header, write_csv, tmp_path):
    path = write_csv(tmp_path / "rows.csv", [taxi_row()] * 3)
    lines = path.read_text().splitlines()
    lines[3] += ",extra"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=r"rows.csv, line 4: 19 fields, the header has 18"):
        score_csv(LengthModel(), encoder, path, tmp_path / "out.csv")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(InputError, match="empty file"):
        score_csv(LengthModel(), encoder, empty, tmp_path / "out.csv")
    no_fare = write_csv(tmp_path / "no_fare.csv", [taxi_row()],
                        header=[c for c in taxi_header if c != "fare"])
    with pytest.raises(InputError, match="line 2: missing required feature 'fare'"):
        score_csv(LengthModel(), encoder, no_fare, tmp_path / "out.csv")
    scored = write_csv(tmp_path / "scored.csv", [taxi_row()], header=taxi_header + ["probability"])
    with pytest.raises(InputError, match="already has a 'probability' column"):
        score_csv(LengthModel(), encoder, scored, tmp_path / "out.csv")
    assert not (tmp_path / "out.csv").exists() and not list(tmp_path.glob("*.partial"))


def test_probabilities_are_written_with_six_decimals():
    values = np.array([0.0, 1.0, 0.5, 1e-7, 0.1234565, 0.9999996, -0.25, 3.5, np.float32(0.7)])
    assert fixed_6(values).to_pylist() == [f"{v:.6f}" for v in values.tolist()]
    rng = np.random.default_rng(0)
    sample = rng.random(10000).astype(np.float32)
    text = fixed_6(sample).to_pylist()
    assert np.allclose([float(t) for t in text], sample, atol=5.1e-7)
    assert fixed_6(np.array([np.nan, 1e13])).to_pylist() == ["nan", "10000000000000.000000"]


def test_a_row_longer_than_a_read_block_is_read(encoder, taxi_row, write_csv, tmp_path):
    rows = [taxi_row()] * 3000 + [taxi_row(company="x" * 100_000)] + [taxi_row()] * 10
    path = write_csv(tmp_path / "long.csv", rows)
    output = tmp_path / "scored.csv"
    summary = score_csv(LengthModel(), encoder, path, output, batch_size=256)
    assert summary.rows == 3011
    with open(output, newline="") as scored_file:
        companies = [row["company"] for row in csv.DictReader(scored_file)]
    assert len(companies) == 3011 and companies[3000] == "x" * 100_000


class HeldEncoder(ExampleEncoder):
    """The real encoder, whose check of every chunk after the first waits for `release`: checks
    still in flight when a reader stops."""

    def __init__(self, features):
        super().__init__(features)
        self.release = threading.Event()

    def check_csv_columns(self, columns, num_rows, first_line):
        if first_line > 2:
            self.release.wait(30)
        return super().check_csv_columns(columns, num_rows, first_line)


def test_a_reader_that_stops_early_does_not_wait_for_the_checks_in_flight(taxi_schema, taxi_row,
                                                                          write_csv, tmp_path):
    # Closing may fall to the garbage collector inside another thread's start, where joining
    # a thread deadlocks Python's threading module: the close must not join the workers.
    encoder = HeldEncoder(environment_features(taxi_schema, SERVING))
    path = write_csv(tmp_path / "rows.csv", [taxi_row()] * 12)
    chunks = csv_chunks(path, encoder, batch_size=2, workers=2)
    assert next(chunks).first_line == 2
    closer = threading.Thread(target=chunks.close, daemon=True)
    closer.start()
    closer.join(5)
    try:
        assert not closer.is_alive(), "closing the reader waited for the checks in flight"
    finally:
        encoder.release.set()
