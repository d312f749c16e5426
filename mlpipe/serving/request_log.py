"""The request log: a sample of served rows and their predictions, as CSV files TFDV reads.

    <log dir>/requests-<start time>-<pid>-<n>.csv     one header line, then one line per row

Columns: the schema's SERVING features (in schema order), then `_model_version`, `_prediction`
and `_logged_at` (seconds since the epoch); a multiclass model's log adds `_score_<class>`, one
column per class in the order of label.classes. `_prediction` is what the model predicted:
binary P(label = 1), regression the value, multiclass the name of the class with the highest
score (so TFDV summarizes it as a categorical column).
`tfdv.generate_statistics_from_csv(<dir>/*.csv)` reads the files as they are; `mlpipe monitor`
compares them with the training statistics (leaving the log's own columns out).

Rows are sampled per request (`log_sample_rate`), queued in memory and written by one thread,
every `log_flush_seconds` or `log_flush_rows`. A server hands each sampled request over with
`later`: its rows are formatted on that thread too, after the answer has gone, so logging adds
nothing to a request's latency and takes no time on the server's event loop. Each batch is
written in a single append (one per file when the batch spans a rotation): a crash loses at
most the batch not yet written. Files are append-only; one is closed at `log_file_max_bytes`
and a new one started, and the oldest beyond `log_max_files` are deleted, so the log stays
bounded.
A line cut short by a crash is cut off when the next server starts on the same folder.
"""

import csv
import io
import logging
import os
import pathlib
import random
import threading
import time
from typing import Callable, List, Mapping, Optional, Sequence

from mlpipe.core.schema_io import BYTES

FILE_GLOB = "requests-*.csv"
META_COLUMNS = ["_model_version", "_prediction", "_logged_at"]
SCORE_COLUMN_PREFIX = "_score_"   # multiclass: `_score_<class>`, after META_COLUMNS
# The log's thread is woken when this many requests wait to be formatted (else once every
# flush_seconds): small bursts of work rather than one long one that holds the GIL.
WAKE_JOBS = 32

log = logging.getLogger(__name__)


def is_meta_column(name: str) -> bool:
    """Whether a log column is the log's own (not a feature of the request)."""
    return name in META_COLUMNS or name.startswith(SCORE_COLUMN_PREFIX)


class RequestLog:
    def __init__(self, directory: pathlib.Path, feature_types: Mapping[str, str],
                 sample_rate: float = 1.0, max_bytes: int = 16 * 2**20, max_files: int = 20,
                 flush_seconds: float = 1.0, flush_rows: int = 1000,
                 rng: Optional[random.Random] = None, classes: Sequence[str] = ()):
        """`classes`: a multiclass model's class names: a score column for each."""
        self.directory = pathlib.Path(directory)
        self.feature_types = dict(feature_types)
        self.classes = list(classes)
        self.columns = (list(self.feature_types) + META_COLUMNS
                        + [SCORE_COLUMN_PREFIX + name for name in self.classes])
        self.sample_rate = sample_rate
        self.max_bytes = max_bytes
        self.max_files = max_files
        self.flush_seconds = flush_seconds
        self.flush_rows = flush_rows
        self._rng = rng or random.Random()
        self._pending: List[str] = []
        self._pending_rows = 0
        self._jobs: List[Callable[[], None]] = []   # see `later`
        self._lock = threading.Lock()
        self._flushing = threading.Lock()   # one flush at a time (the thread's, close's)
        self._wake = threading.Condition(self._lock)
        self._closed = False     # `later` takes no more requests
        self._finished = False   # closed and written: nothing more is written
        self._fd: Optional[int] = None
        self._file_bytes = 0
        self._sequence = 0
        self._stamp = f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
        self.rows_logged = 0
        self.directory.mkdir(parents=True, exist_ok=True)
        repair(self.directory)
        self._thread = threading.Thread(target=self._run, name="request-log", daemon=True)
        self._thread.start()

    def sampled(self) -> bool:
        return self.sample_rate >= 1.0 or self._rng.random() < self.sample_rate

    def later(self, job: Callable[[], None]) -> None:
        """Runs `job` (which calls `log` or `log_columns`) on the log's thread before its next
        write: a request's rows are formatted off the request path."""
        with self._wake:
            if self._closed:
                return
            self._jobs.append(job)
            if len(self._jobs) >= WAKE_JOBS:
                self._wake.notify()

    def log(self, rows: Sequence[Mapping[str, list]], predictions: Sequence,
            version: int, scores: Optional[Sequence[Sequence[float]]] = None) -> None:
        """Queues one request's checked rows (feature -> values) with their predictions (a
        number, or a multiclass model's predicted class name) and, multiclass, the scores of
        each row (one per class of `classes`)."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        now = f"{time.time():.3f}"
        if scores is None or not self.classes:   # no score columns to fill
            scores = [()] * len(rows)
        elif self.classes and len(scores) and len(scores[0]) != len(self.classes):
            raise ValueError(f"{len(scores[0])} scores per row for the {len(self.classes)} "
                             "classes of the log")
        blank = [""] * len(self.classes)
        for row, prediction, row_scores in zip(rows, predictions, scores):
            writer.writerow([_cell(row.get(name), kind) for name, kind in
                             self.feature_types.items()]
                            + [version, _prediction(prediction), now]
                            + ([f"{score:.6g}" for score in row_scores] if len(row_scores)
                               else blank))
        self._queue(buffer.getvalue(), len(rows))

    def log_columns(self, columns: Mapping[str, object], predictions, version: int,
                    scores=None) -> None:
        """`log` for rows given as flat Arrow arrays (feature -> one value per row, null when
        missing; e.g. a gRPC request's tensors), written by Arrow's C++ CSV writer: no Python
        object per cell, so a 100-row request costs tens of microseconds instead of
        milliseconds. Strings come quoted and floats in their shortest form; the same CSV to
        any reader (TFDV, `mlpipe monitor`)."""
        # Imported here: monitoring's command module imports this module, and `mlpipe --help`
        # must not pay for numpy and pyarrow.
        import numpy as np
        import pyarrow as pa
        import pyarrow.csv as pa_csv
        count = len(predictions)
        arrays = [_arrow_cell_column(columns.get(name), kind, count)
                  for name, kind in self.feature_types.items()]
        arrays += [pa.array(np.full(count, version, dtype=np.int64)),
                   pa.array(np.asarray(predictions).reshape(count)),
                   pa.array(np.full(count, round(time.time(), 3)))]
        if self.classes:
            score_rows = (np.full((count, len(self.classes)), np.nan) if scores is None
                          else np.asarray(scores, dtype=np.float64))
            arrays += [pa.array(score_rows[:, i]) for i in range(len(self.classes))]
        buffer = io.BytesIO()
        pa_csv.write_csv(pa.Table.from_arrays(arrays, names=self.columns), buffer,
                         pa_csv.WriteOptions(include_header=False))
        self._queue(buffer.getvalue().decode("utf-8"), count)

    def _queue(self, text: str, rows: int) -> None:
        with self._wake:
            if self._finished:
                return
            self._pending.append(text)
            self._pending_rows += rows
            if self._pending_rows >= self.flush_rows:
                self._wake.notify()

    def flush(self) -> None:
        with self._flushing:
            self._run_jobs()
            self._write_pending()

    def _run_jobs(self) -> None:
        with self._lock:
            jobs, self._jobs = self._jobs, []
        for job in jobs:
            try:
                job()
            except Exception:  # noqa: BLE001 - a row the log cannot format never stops the log
                log.exception("request log: a request's rows could not be logged")

    def _write_pending(self) -> None:
        with self._lock:
            pieces, rows = self._pending, self._pending_rows
            self._pending, self._pending_rows = [], 0
            if pieces and self._fd is None:
                self._open_next()   # the header counts towards the first file's size
            batch, size = [], 0
            for piece in (piece.encode() for piece in pieces):
                if batch and self._file_bytes + size + len(piece) > self.max_bytes:
                    self._write(b"".join(batch))
                    batch, size = [], 0
                batch.append(piece)
                size += len(piece)
            if batch:
                self._write(b"".join(batch))
            self.rows_logged += rows

    def close(self) -> None:
        with self._wake:
            self._closed = True
            self._wake.notify()
        self._thread.join(timeout=30)
        self.flush()   # what was handed over before, formatted and written
        with self._lock:
            self._finished = True
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def files(self) -> List[pathlib.Path]:
        return log_files(self.directory)

    def _run(self) -> None:
        while True:
            with self._wake:
                if (not self._closed and self._pending_rows < self.flush_rows
                        and len(self._jobs) < WAKE_JOBS):
                    self._wake.wait(self.flush_seconds)
                if self._closed:
                    return
            self.flush()

    def _write(self, data: bytes) -> None:
        """Called with the lock held: one append, to a new file when it would not fit."""
        if self._fd is not None and self._file_bytes + len(data) > self.max_bytes:
            os.close(self._fd)
            self._fd = None
        if self._fd is None:
            self._open_next()
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        self._file_bytes += len(data)

    def _open_next(self) -> None:
        self._sequence += 1
        path = self.directory / f"requests-{self._stamp}-{self._sequence:04d}.csv"
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        header = _csv_line(self.columns).encode()
        os.write(self._fd, header)
        self._file_bytes = len(header)
        for old in log_files(self.directory)[:-self.max_files]:
            old.unlink(missing_ok=True)


def log_files(directory: pathlib.Path) -> List[pathlib.Path]:
    """The log's files, oldest first."""
    return sorted(pathlib.Path(directory).glob(FILE_GLOB),
                  key=lambda path: (path.stat().st_mtime, path.name))


def repair(directory: pathlib.Path) -> None:
    """Cuts off a last line a crash left incomplete (no newline), so every file parses; a file
    left without even its header line is removed."""
    for path in log_files(directory):
        size = path.stat().st_size
        if size:
            with path.open("rb+") as handle:
                handle.seek(-1, os.SEEK_END)
                if handle.read(1) != b"\n":
                    tail = min(size, 1 << 20)
                    handle.seek(size - tail)
                    cut = handle.read(tail).rfind(b"\n")
                    size = size - tail + cut + 1 if cut >= 0 else 0
                    handle.truncate(size)
        if size == 0:
            path.unlink()


def _csv_line(fields: Sequence[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(fields)
    return buffer.getvalue()


def _prediction(value) -> str:
    return value if isinstance(value, str) else f"{value:.6g}"


def _arrow_cell_column(column, kind: str, count: int):
    """A feature's flat column as the log writes it: missing -> null (an empty cell), bytes
    as UTF-8 text (undecodable bytes replaced, as `_cell` does)."""
    import pyarrow as pa   # see log_columns
    if column is None:
        return pa.nulls(count)
    if kind != BYTES:
        return column
    try:
        return column.cast(pa.string())
    except pa.ArrowInvalid:
        return pa.array([None if value is None else value.decode("utf-8", "replace")
                         for value in column.to_pylist()], type=pa.string())


def _cell(values: Optional[list], kind: str) -> str:
    if not values:
        return ""
    value = values[0]
    if kind == BYTES:
        return value.decode("utf-8", "replace")
    return repr(value) if isinstance(value, float) else str(value)

