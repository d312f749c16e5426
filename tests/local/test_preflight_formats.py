"""check_input_data on parquet and TFRecord data (and the checks every format shares): the same
counts and hashes as for CSV, and each bad input an InputDataError naming file, column and row,
also through the real `mlpipe run` (exit 2, nothing written)."""

import gzip
import hashlib

import mlpipe  # noqa: F401  (process settings before TensorFlow)
import pyarrow as pa
import pytest

from mlpipe.errors import InputDataError
from mlpipe.local.preflight import check_input_data
from tests.support.cli import run_mlpipe
from tests.support.configs import write_config
from tests.support.formats import example_bytes, tfrecord_frame, write_parquet, write_tfrecord

PIPELINE_NAME = "taxi-big-tipper"


@pytest.fixture
def config_for(taxi_config):
    """config_for(path, format, **data) -> the taxi config reading `path` in `format` (up to
    half of its labels may be underivable: these files are tiny)."""
    def make(path, data_format, **data):
        return taxi_config.model_copy(update={
            "data": taxi_config.data.model_copy(
                update={"path": str(path), "format": data_format, **data}),
            "label": taxi_config.label.model_copy(update={"max_underivable_fraction": 0.5})})
    return make


def _error(config, numeric_columns) -> str:
    with pytest.raises(InputDataError) as caught:
        check_input_data(config, numeric_columns)
    return str(caught.value)


def _sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---- good data -------------------------------------------------------------------------------

def test_a_parquet_file_is_counted_and_hashed(tmp_path, taxi_row, config_for, numeric_columns):
    rows = [taxi_row(fare=5.0 + i, tips=float(i)) for i in range(5)]
    rows += [taxi_row(pickup_latitude=None, trip_seconds=None, company=None),  # nulls are fine
             taxi_row(fare=0, tips=0)]                                         # underivable
    path = write_parquet(tmp_path / "trips.parquet", rows, row_group_size=2)
    summary = check_input_data(config_for(path, "parquet"), numeric_columns)
    assert summary.files == [str(path)]
    assert summary.rows == 7 and summary.underivable_labels == 1
    [content] = summary.contents
    assert (content.path, content.rows, content.sha256, content.bytes) == (
        str(path), 7, _sha256(path), path.stat().st_size)


@pytest.mark.parametrize("name", ["trips.tfrecord", "trips.tfrecord.gz"])
@pytest.mark.parametrize("blank", ["empty", "absent"])
def test_a_tfrecord_file_gzipped_or_not_is_counted_and_hashed(tmp_path, taxi_row, config_for,
                                                              numeric_columns, name, blank):
    rows = [taxi_row(), taxi_row(company=None, trip_seconds=None), taxi_row(fare=0, tips=0)]
    path = write_tfrecord(tmp_path / name, rows, blank=blank)
    summary = check_input_data(config_for(path, "tfrecord"), numeric_columns)
    assert summary.rows == 3 and summary.underivable_labels == 1
    assert summary.contents[0].sha256 == _sha256(path)


def test_a_folder_and_a_glob_of_files(tmp_path, taxi_row, config_for, numeric_columns):
    folder = tmp_path / "data"
    folder.mkdir()
    first = write_parquet(folder / "a.parquet", [taxi_row(), taxi_row()])
    second = write_parquet(folder / "b.parquet", [taxi_row()])
    (folder / "notes.txt").write_text("not data")
    summary = check_input_data(config_for(folder / "*.parquet", "parquet"), numeric_columns)
    assert summary.files == [str(first), str(second)] and summary.rows == 3
    records = tmp_path / "records"
    records.mkdir()
    write_tfrecord(records / "part-0.tfrecord.gz", [taxi_row()])
    write_tfrecord(records / "part-1.tfrecord", [taxi_row(), taxi_row()])
    assert check_input_data(config_for(records, "tfrecord"), numeric_columns).rows == 3


def test_a_folder_is_read_as_tfx_reads_it_hidden_files_too(tmp_path, taxi_row, config_for,
                                                          numeric_columns):
    folder = tmp_path / "data"
    folder.mkdir()
    write_parquet(folder / "part-0.parquet", [taxi_row()])
    (folder / "_SUCCESS").write_bytes(b"")          # what Spark leaves beside its output
    (folder / ".part-0.parquet.crc").write_bytes(b"crc")
    message = _error(config_for(folder, "parquet"), numeric_columns)
    assert str(folder / ".part-0.parquet.crc") in message
    assert f"a glob such as {folder / '*.parquet'} reads only the data files" in message
    summary = check_input_data(config_for(folder / "*.parquet", "parquet"), numeric_columns)
    assert summary.files == [str(folder / "part-0.parquet")]


def test_a_glob_that_matches_nothing(tmp_path, config_for, numeric_columns):
    message = _error(config_for(tmp_path / "*.parquet", "parquet"), numeric_columns)
    assert "*.parquet" in message and "no file matches" in message


# ---- shared by every format ------------------------------------------------------------------

def test_a_file_named_for_another_format(tmp_path, taxi_row, config_for, numeric_columns):
    path = write_parquet(tmp_path / "trips.parquet", [taxi_row()])
    message = _error(config_for(path, "csv"), numeric_columns)
    assert str(path) in message and "data.format: parquet" in message


@pytest.mark.parametrize("data_format", ["parquet", "tfrecord"])
def test_missing_value_tokens_are_for_csv_only(tmp_path, taxi_row, config_for, numeric_columns,
                                               data_format):
    path = (write_parquet(tmp_path / "t.parquet", [taxi_row()]) if data_format == "parquet"
            else write_tfrecord(tmp_path / "t.tfrecord", [taxi_row()]))
    message = _error(config_for(path, data_format, missing_values=["NA"]), numeric_columns)
    assert "data.missing_values ['NA']" in message and "CSV files only" in message


def test_csv_numbers_then_text_says_the_column_changes_type(tmp_path, write_csv, taxi_row,
                                                           config_for, numeric_columns):
    path = write_csv(tmp_path / "trips.csv", [taxi_row(), taxi_row(trip_miles="far")])
    message = _error(config_for(path, "csv"), numeric_columns)
    assert f"{path}, line 3: column 'trip_miles' must be FLOAT, found 'far'" in message
    assert "changes type here" in message


def test_a_numeric_feature_the_schema_does_not_type_must_hold_numbers(
        tmp_path, write_csv, taxi_row, config_for, numeric_columns):
    untyped = {name: kind for name, kind in numeric_columns.items() if name != "trip_miles"}
    path = write_csv(tmp_path / "trips.csv", [taxi_row(trip_miles="far")])
    message = _error(config_for(path, "csv"), untyped)
    assert "line 2: column 'trip_miles' must be a number, found 'far'" in message


# ---- parquet ---------------------------------------------------------------------------------

def test_parquet_missing_column(tmp_path, taxi_row, taxi_header, config_for, numeric_columns):
    header = [column for column in taxi_header if column != "trip_miles"]
    path = write_parquet(tmp_path / "trips.parquet", [taxi_row()], header=header)
    message = _error(config_for(path, "parquet"), numeric_columns)
    assert str(path) in message and "missing column(s) ['trip_miles']" in message


def test_parquet_numbers_then_text_names_the_row_and_value(tmp_path, taxi_row, config_for,
                                                          numeric_columns):
    rows = [taxi_row(trip_miles="1.5"), taxi_row(trip_miles="2"), taxi_row(trip_miles="far")]
    path = write_parquet(tmp_path / "trips.parquet", rows,
                         arrow_types={"trip_miles": pa.string()})
    message = _error(config_for(path, "parquet"), numeric_columns)
    assert f"{path}: column 'trip_miles' must be FLOAT" in message
    assert "stores it as string" in message and "row 3 holds 'far'" in message


def test_parquet_floats_in_an_int_column(tmp_path, taxi_row, config_for, numeric_columns):
    path = write_parquet(tmp_path / "trips.parquet", [taxi_row(trip_start_hour=7.5)],
                         arrow_types={"trip_start_hour": pa.float64()})
    message = _error(config_for(path, "parquet"), numeric_columns)
    assert "column 'trip_start_hour' must be INT" in message and "double" in message
    assert "row 1 holds 7.5" in message


def test_parquet_column_changes_type_between_files(tmp_path, taxi_row, config_for,
                                                   numeric_columns):
    folder = tmp_path / "data"
    folder.mkdir()
    first = write_parquet(folder / "a.parquet", [taxi_row()])
    second = write_parquet(folder / "b.parquet", [taxi_row(company=7)],
                           arrow_types={"company": pa.int64()})
    message = _error(config_for(folder, "parquet"), numeric_columns)
    assert f"{second}: column 'company' changes type: int64 in this file, string in {first}" \
        in message


def test_parquet_column_a_tf_example_cannot_hold(tmp_path, taxi_row, taxi_header, config_for,
                                                 numeric_columns):
    row = {**taxi_row(), "extra": {"a": 1}}
    path = write_parquet(tmp_path / "trips.parquet", [row], header=[*taxi_header, "extra"],
                         arrow_types={"extra": pa.struct([("a", pa.int64())])})
    message = _error(config_for(path, "parquet"), numeric_columns)
    assert "column 'extra' has type struct" in message


def test_parquet_without_rows(tmp_path, config_for, numeric_columns):
    path = write_parquet(tmp_path / "trips.parquet", [])
    assert "no rows" in _error(config_for(path, "parquet"), numeric_columns)


def test_a_file_that_is_not_parquet(tmp_path, config_for, numeric_columns):
    path = tmp_path / "trips.parquet"
    path.write_text("fare,tips\n1,2\n")
    message = _error(config_for(path, "parquet"), numeric_columns)
    assert str(path) in message and "not readable as a parquet file" in message


# ---- TFRecord --------------------------------------------------------------------------------

def test_tfrecord_feature_changes_type_halfway(tmp_path, taxi_row, config_for, numeric_columns):
    rows = [taxi_row(), taxi_row(), taxi_row(trip_miles="far"), taxi_row()]
    records = [example_bytes(row) for row in rows[:2]]
    records.append(example_bytes(rows[2], kinds={"trip_miles": "BYTES"}))
    path = write_tfrecord(tmp_path / "trips.tfrecord", [], records=records)
    message = _error(config_for(path, "tfrecord"), numeric_columns)
    assert f"{path}, record 3: column 'trip_miles' must be FLOAT" in message
    assert "bytes_list value b'far'" in message
    assert "changes type here: float_list in record 1" in message


def test_tfrecord_text_feature_changes_type(tmp_path, taxi_row, config_for, numeric_columns):
    records = [example_bytes(taxi_row()), example_bytes(taxi_row(company=42),
                                                        kinds={"company": "INT"})]
    path = write_tfrecord(tmp_path / "trips.tfrecord", [], records=records)
    message = _error(config_for(path, "tfrecord"), numeric_columns)
    assert f"{path}, record 2: column 'company' changes type: int64_list value 42 here, " \
           "bytes_list in record 1" in message


def test_tfrecord_int_column_holding_floats(tmp_path, taxi_row, config_for, numeric_columns):
    path = write_tfrecord(tmp_path / "trips.tfrecord", [taxi_row()],
                          kinds={"trip_start_hour": "FLOAT"})
    message = _error(config_for(path, "tfrecord"), numeric_columns)
    assert "record 1: column 'trip_start_hour' must be INT, found float_list value 19.0" \
        in message


def test_tfrecord_feature_no_record_has(tmp_path, taxi_row, config_for, numeric_columns):
    path = write_tfrecord(tmp_path / "trips.tfrecord",
                          [taxi_row(trip_miles=None), taxi_row(trip_miles=None)], blank="absent")
    message = _error(config_for(path, "tfrecord"), numeric_columns)
    assert "no record has the feature(s) ['trip_miles']" in message


def test_tfrecord_text_that_is_not_utf8(tmp_path, taxi_row, config_for, numeric_columns):
    path = write_tfrecord(tmp_path / "trips.tfrecord",
                          [taxi_row(), taxi_row(payment_type=b"Cr\xe9dit")])
    message = _error(config_for(path, "tfrecord"), numeric_columns)
    assert f"{path}, record 2: column 'payment_type' is not UTF-8 text" in message


def test_gzip_file_without_gz_name(tmp_path, taxi_row, config_for, numeric_columns):
    path = write_tfrecord(tmp_path / "trips.tfrecord", [taxi_row()], gzip=True)
    message = _error(config_for(path, "tfrecord"), numeric_columns)
    assert str(path) in message and "rename it to end in .gz" in message


def test_gz_name_on_a_plain_file(tmp_path, taxi_row, config_for, numeric_columns):
    path = write_tfrecord(tmp_path / "trips.tfrecord.gz", [taxi_row()], gzip=False)
    message = _error(config_for(path, "tfrecord"), numeric_columns)
    assert str(path) in message and "not gzip-compressed" in message


def test_truncated_tfrecord(tmp_path, taxi_row, config_for, numeric_columns):
    frames = tfrecord_frame(example_bytes(taxi_row())) * 2
    path = tmp_path / "trips.tfrecord.gz"
    path.write_bytes(gzip.compress(frames[:-10]))
    message = _error(config_for(path, "tfrecord"), numeric_columns)
    assert f"{path}, record 2: cut short" in message


def test_a_record_that_is_not_a_tf_example(tmp_path, taxi_row, config_for, numeric_columns):
    path = tmp_path / "trips.tfrecord"
    path.write_bytes(tfrecord_frame(example_bytes(taxi_row())) + tfrecord_frame(b"\xff\xff"))
    message = _error(config_for(path, "tfrecord"), numeric_columns)
    assert f"{path}, record 2: not a tf.Example" in message


def test_tfrecord_without_records(tmp_path, config_for, numeric_columns):
    path = tmp_path / "trips.tfrecord"
    path.write_bytes(b"")
    assert "holds no records" in _error(config_for(path, "tfrecord"), numeric_columns)


# ---- through the command ---------------------------------------------------------------------

def _bad_run(tmp_path, data_path, data_format):
    def edit(raw):
        raw["data"].update(path=str(data_path), format=data_format)
    config_file = write_config(tmp_path / "problem.yaml", edit=edit)
    home = tmp_path / "home"
    result = run_mlpipe("run", "--config", config_file, "--home", home, cwd=tmp_path,
                        timeout=120)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr
    assert not (home / PIPELINE_NAME).exists()  # nothing written: no run home at all
    return result.stderr


def test_mlpipe_run_on_bad_parquet_exits_2_and_writes_nothing(tmp_path, taxi_row):
    rows = [taxi_row(fare="12.5"), taxi_row(fare="n/a")]
    path = write_parquet(tmp_path / "trips.parquet", rows, arrow_types={"fare": pa.string()})
    message = _bad_run(tmp_path, path, "parquet")
    assert str(path) in message and "column 'fare' must be FLOAT" in message
    assert "row 2 holds 'n/a'" in message


def test_mlpipe_run_on_bad_tfrecord_exits_2_and_writes_nothing(tmp_path, taxi_row):
    records = [example_bytes(taxi_row()), example_bytes(taxi_row(fare="n/a"),
                                                        kinds={"fare": "BYTES"})]
    path = write_tfrecord(tmp_path / "trips.tfrecord.gz", [], records=records)
    message = _bad_run(tmp_path, path, "tfrecord")
    assert f"{path}, record 2: column 'fare' must be FLOAT" in message
