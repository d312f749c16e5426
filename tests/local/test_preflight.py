"""check_input_data: bad input fails fast naming file, column and line; good input is counted."""

import mlpipe  # noqa: F401  (process settings before TensorFlow)
import pytest

from mlpipe.errors import EXIT_BAD_INPUT, InputDataError
from mlpipe.local.preflight import DataSummary, check_input_data


def _error(config, numeric_columns) -> str:
    with pytest.raises(InputDataError) as caught:
        check_input_data(config, numeric_columns)
    return str(caught.value)


def test_numeric_columns_come_from_the_schema(numeric_columns):
    assert numeric_columns["fare"] == "FLOAT"
    assert numeric_columns["trip_start_hour"] == "INT"
    assert numeric_columns["trip_seconds"] == "INT"
    assert "payment_type" not in numeric_columns and "company" not in numeric_columns


def test_good_file_passes_and_is_counted(tmp_path, write_csv, taxi_row, config_for_data,
                                         numeric_columns):
    rows = [taxi_row(fare=5.0 + i, tips=float(i)) for i in range(5)]
    rows.append(taxi_row(pickup_latitude=None, trip_seconds=None, company=None))  # missing ok
    path = write_csv(tmp_path / "trips.csv", rows)
    summary = check_input_data(config_for_data(path), numeric_columns)
    assert isinstance(summary, DataSummary)
    assert summary.files == [str(path)]
    assert summary.rows == 6
    assert summary.underivable_labels == 0


def test_underivable_labels_within_the_limit_are_counted(tmp_path, write_csv, taxi_row,
                                                         config_for_data, numeric_columns,
                                                         taxi_config):
    rows = [taxi_row() for _ in range(199)] + [taxi_row(fare=0, tips=0)]
    path = write_csv(tmp_path / "trips.csv", rows)
    assert taxi_config.label.max_underivable_fraction >= 1 / 200
    summary = check_input_data(config_for_data(path), numeric_columns)
    assert summary.rows == 200
    assert summary.underivable_labels == 1


def test_folder_of_csv_files(tmp_path, write_csv, taxi_row, config_for_data, numeric_columns):
    folder = tmp_path / "data"
    folder.mkdir()
    first = write_csv(folder / "a.csv", [taxi_row(), taxi_row()])
    second = write_csv(folder / "b.csv", [taxi_row()])
    summary = check_input_data(config_for_data(folder), numeric_columns)
    assert summary.files == [str(first), str(second)]
    assert summary.rows == 3


def test_missing_path(tmp_path, config_for_data, numeric_columns):
    path = tmp_path / "no-such.csv"
    message = _error(config_for_data(path), numeric_columns)
    assert str(path) in message and "does not exist" in message


def test_empty_folder(tmp_path, config_for_data, numeric_columns):
    folder = tmp_path / "empty"
    folder.mkdir()
    message = _error(config_for_data(folder), numeric_columns)
    assert str(folder) in message and "no files" in message


def test_remote_path_is_refused(config_for_data, numeric_columns):
    message = _error(config_for_data("gs://bucket/trips.csv"), numeric_columns)
    assert "gs://bucket/trips.csv" in message and "local" in message


def test_empty_file(tmp_path, config_for_data, numeric_columns):
    path = tmp_path / "empty.csv"
    path.write_text("")
    message = _error(config_for_data(path), numeric_columns)
    assert str(path) in message and "empty" in message


def test_header_only(tmp_path, write_csv, config_for_data, numeric_columns):
    path = write_csv(tmp_path / "header.csv", [])
    message = _error(config_for_data(path), numeric_columns)
    assert str(path) in message and "no data rows" in message


def test_missing_required_column(tmp_path, write_csv, taxi_row, config_for_data,
                                 numeric_columns, taxi_header):
    header = [column for column in taxi_header if column != "trip_miles"]
    path = write_csv(tmp_path / "trips.csv", [taxi_row()], header=header)
    message = _error(config_for_data(path), numeric_columns)
    assert str(path) in message
    assert "missing column(s) ['trip_miles']" in message


def test_missing_label_source_column(tmp_path, write_csv, taxi_row, config_for_data,
                                     numeric_columns, taxi_header):
    header = [column for column in taxi_header if column != "tips"]
    path = write_csv(tmp_path / "trips.csv", [taxi_row()], header=header)
    message = _error(config_for_data(path), numeric_columns)
    assert str(path) in message and "'tips'" in message


def test_non_numeric_value_in_a_float_column(tmp_path, write_csv, taxi_row, config_for_data,
                                             numeric_columns):
    path = write_csv(tmp_path / "trips.csv",
                     [taxi_row(), taxi_row(), taxi_row(trip_miles="far"), taxi_row()])
    message = _error(config_for_data(path), numeric_columns)
    assert str(path) in message
    assert "line 4" in message  # header is line 1, the bad row the third data row
    assert "column 'trip_miles' must be FLOAT" in message and "'far'" in message


def test_fractional_value_in_an_int_column(tmp_path, write_csv, taxi_row, config_for_data,
                                           numeric_columns):
    path = write_csv(tmp_path / "trips.csv", [taxi_row(trip_start_hour="7.5")])
    message = _error(config_for_data(path), numeric_columns)
    assert str(path) in message and "line 2" in message
    assert "column 'trip_start_hour' must be INT" in message and "'7.5'" in message


def test_row_with_wrong_field_count(tmp_path, write_csv, taxi_row, config_for_data,
                                    numeric_columns):
    path = write_csv(tmp_path / "trips.csv", [taxi_row(), taxi_row()])
    with path.open("a") as sink:
        sink.write("1,2,3\n")
    message = _error(config_for_data(path), numeric_columns)
    assert str(path) in message and "line 4" in message and "3 fields" in message


def test_label_underivable_in_most_rows(tmp_path, write_csv, taxi_row, config_for_data,
                                        numeric_columns):
    rows = [taxi_row(fare=0, tips=0) for _ in range(8)] + [taxi_row(), taxi_row()]
    path = write_csv(tmp_path / "trips.csv", rows)
    message = _error(config_for_data(path), numeric_columns)
    assert str(path) in message
    assert "'big_tipper'" in message
    assert "8 of 10 rows" in message
    assert "column 'fare' must be > 0" in message


def test_a_file_that_is_not_utf8_names_the_line(tmp_path, write_csv, taxi_row, config_for_data,
                                                numeric_columns):
    # 3,000 good rows first: the bad byte sits past the first buffer the text reader decodes.
    path = write_csv(tmp_path / "trips.csv", [taxi_row() for _ in range(3000)])
    with path.open("ab") as sink:
        sink.write(b"8,10.0,5,19,6,1400269500,41.89,-87.63,41.88,-87.62,2.5,,,Cr\xe9dit,"
                   b"Flash Cab,600,32,3.0\n")
    message = _error(config_for_data(path), numeric_columns)
    assert f"{path}, line 3002: not UTF-8" in message
    assert "Cr\\xe9dit" in message


def test_input_data_errors_exit_2():
    assert InputDataError("x").exit_code == EXIT_BAD_INPUT == 2
