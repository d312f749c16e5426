"""The request log: batched appends, rotation within a bound, crash repair, sampling, TFDV."""

import random
import time

import pytest

import mlpipe  # noqa: F401  (process settings before TensorFlow)
from mlpipe.serving.request_log import META_COLUMNS, WAKE_JOBS, RequestLog, log_files

TYPES = {"fare": "FLOAT", "trip_start_hour": "INT", "payment_type": "BYTES"}


def _row(i):
    return {"fare": [float(i)], "trip_start_hour": [i % 24],
            "payment_type": [b"Cash" if i % 2 else b"Credit, Card"]}


def _lines(directory):
    return [line for path in log_files(directory) for line in path.read_text().splitlines()[1:]]


def test_rows_are_appended_in_batches_and_all_flushed_on_close(tmp_path):
    log = RequestLog(tmp_path, TYPES, flush_seconds=60, flush_rows=10)
    for i in range(25):
        log.log([_row(i)], [0.5], version=7)
    log.close()
    (path,) = log_files(tmp_path)
    lines = path.read_text().splitlines()
    assert lines[0] == ",".join(list(TYPES) + META_COLUMNS)
    assert len(lines) == 26 and log.rows_logged == 25
    assert lines[1].startswith('0.0,0,"Credit, Card",7,0.5,')
    assert lines[2].startswith("1.0,1,Cash,7,0.5,")


def test_requests_handed_over_are_formatted_on_the_log_thread_and_written_by_close(tmp_path):
    import threading
    log = RequestLog(tmp_path, TYPES, flush_seconds=60, flush_rows=1000)
    threads = []

    def request(i):
        threads.append(threading.current_thread())
        log.log([_row(i)], [0.5], version=7)

    def broken():
        raise ValueError("a row the log cannot format")
    log.later(lambda: request(0))
    log.later(broken)   # logged as an error; the rows after it are still written
    for i in range(1, WAKE_JOBS - 1):   # WAKE_JOBS jobs: the thread wakes (flush_seconds 60)
        log.later(lambda i=i: request(i))
    deadline = time.monotonic() + 30
    while log.rows_logged < WAKE_JOBS - 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert log.rows_logged == WAKE_JOBS - 1
    assert threading.current_thread() not in threads
    log.later(lambda: request(WAKE_JOBS))   # waits for the flush that close makes
    log.close()
    log.later(lambda: request(99))          # after close: dropped
    assert len(_lines(tmp_path)) == WAKE_JOBS and log.rows_logged == WAKE_JOBS


def test_files_rotate_at_the_size_limit_and_the_oldest_are_deleted(tmp_path):
    log = RequestLog(tmp_path, TYPES, max_bytes=4096, max_files=3, flush_rows=1)
    for i in range(400):
        log.log([_row(i)], [0.25], version=1)
        log.flush()
    log.close()
    files = log_files(tmp_path)
    assert len(files) == 3
    assert all(path.stat().st_size <= 4096 for path in files)
    kept = _lines(tmp_path)
    assert kept[-1].startswith("399.0,")   # the newest rows are the ones kept
    assert len(kept) < 400


def test_one_large_batch_is_spread_over_files_within_the_size_limit(tmp_path):
    log = RequestLog(tmp_path, TYPES, max_bytes=4096, max_files=100, flush_seconds=60,
                     flush_rows=10**6)
    for i in range(300):
        log.log([_row(i)], [0.25], version=1)
    log.close()
    files = log_files(tmp_path)
    assert len(files) > 2 and all(path.stat().st_size <= 4096 for path in files)
    assert [float(line.split(",")[0]) for line in _lines(tmp_path)] == [float(i) for i in
                                                                        range(300)]


def test_a_line_cut_by_a_crash_is_removed_when_the_next_log_starts(tmp_path):
    log = RequestLog(tmp_path, TYPES)
    log.log([_row(1), _row(2)], [0.1, 0.2], version=1)
    log.close()
    (path,) = log_files(tmp_path)
    with path.open("a") as handle:
        handle.write("3.0,3,Ca")        # the process died in the middle of a write
    RequestLog(tmp_path, TYPES).close()
    assert path.read_text().endswith("\n")
    assert len(_lines(tmp_path)) == 2


def test_sampling_keeps_about_the_configured_fraction_of_requests(tmp_path):
    log = RequestLog(tmp_path, TYPES, sample_rate=0.2, rng=random.Random(0))
    sampled = sum(log.sampled() for _ in range(5000))
    log.close()
    assert 900 < sampled < 1100
    assert RequestLog(tmp_path / "all", TYPES, sample_rate=1.0).sampled()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_tfdv_reads_the_log_with_the_schema_types(tmp_path, taxi_schema):
    import tensorflow_data_validation as tfdv
    log = RequestLog(tmp_path, TYPES, max_bytes=4096, flush_rows=1)
    for i in range(300):
        log.log([_row(i)], [0.5], version=3)
        log.flush()
    log.close()
    assert len(log_files(tmp_path)) > 1
    options = tfdv.StatsOptions(schema=taxi_schema, infer_type_from_schema=True,
                                feature_allowlist=list(TYPES))
    stats = tfdv.generate_statistics_from_csv(str(tmp_path / "*.csv"), stats_options=options)
    dataset = stats.datasets[0]
    assert dataset.num_examples == 300
    by_name = {f.path.step[0]: f for f in dataset.features}
    assert set(by_name) == set(TYPES)
    assert by_name["fare"].num_stats.max == 299.0
    assert {v.value for v in by_name["payment_type"].string_stats.top_values} == {
        "Cash", "Credit, Card"}


def test_columns_are_logged_as_the_same_csv_as_rows(tmp_path):
    """log_columns (Arrow's writer, for gRPC tensors) and log (Python rows) give lines that
    read back as the same values; a missing feature is an empty cell, bad UTF-8 replaced."""
    import csv

    import numpy as np
    import pyarrow as pa
    log = RequestLog(tmp_path, TYPES, flush_seconds=60)
    log.log([_row(1), {"fare": [2.5], "payment_type": [b"\xff"]}], [0.5, 0.25], version=7)
    log.log_columns({"fare": pa.array([1.0, 2.5], pa.float32()),
                     "trip_start_hour": pa.array([1, None], pa.int64()),
                     "payment_type": pa.array([b"Cash", b"\xff"], pa.binary())},
                    np.array([[0.5], [0.25]], np.float32), version=7)
    log.close()
    with open(log_files(tmp_path)[0], newline="") as source:
        rows = list(csv.DictReader(source))
    by_rows, by_columns = rows[:2], rows[2:]
    assert len(by_columns) == 2 and log.rows_logged == 4
    for left, right in zip(by_rows, by_columns):
        assert float(left["fare"]) == float(right["fare"])
        assert left["trip_start_hour"] == right["trip_start_hour"]
        assert left["payment_type"] == right["payment_type"]
        assert left["_model_version"] == right["_model_version"] == "7"
        assert float(left["_prediction"]) == float(right["_prediction"])
        assert abs(float(left["_logged_at"]) - float(right["_logged_at"])) < 60
    assert by_columns[1]["trip_start_hour"] == "" and by_columns[1]["payment_type"] == "\ufffd"


def test_a_multiclass_log_takes_columns_with_their_scores(tmp_path):
    import csv

    import numpy as np
    import pyarrow as pa
    log = RequestLog(tmp_path, TYPES, classes=["a", "b"])
    log.log_columns({"fare": pa.array([1.0], pa.float32())}, ["b"], version=3,
                    scores=np.array([[0.25, 0.75]]))
    log.close()
    (line,) = _lines(tmp_path)
    cells = next(csv.reader([line]))
    assert cells[:5] == ["1", "", "", "3", "b"] and cells[6:] == ["0.25", "0.75"]
