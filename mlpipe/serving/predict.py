"""`mlpipe predict`: streaming batch scoring of a CSV file with a pushed model.

The input is read, checked, serialized and scored a chunk at a time (never loaded whole); the
output CSV is every input column plus `probability`, written to `<output>.partial` and renamed
when complete, so a failed run never leaves a file that looks finished. While TensorFlow scores
one chunk, a second thread reads and serializes the next one.
"""

import concurrent.futures
import csv
import dataclasses
import itertools
import os
import pathlib
import time
from typing import Iterator, List, Optional, TextIO, Tuple

from mlpipe.serving.examples import ExampleEncoder, RequestError
from mlpipe.serving.model import LoadedModel

PROBABILITY_COLUMN = "probability"
PROGRESS_SECONDS = 2.0


@dataclasses.dataclass
class ScoreSummary:
    rows: int
    seconds: float
    version: int
    output: pathlib.Path

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else float("inf")


class InputError(ValueError):
    """The input CSV cannot be scored; the message names file, line and column."""


def score_csv(model: LoadedModel, encoder: ExampleEncoder, input_path, output_path,
              batch_size: int = 2048, progress: Optional[TextIO] = None) -> ScoreSummary:
    input_path, output_path = pathlib.Path(input_path), pathlib.Path(output_path)
    partial = output_path.with_name(output_path.name + ".partial")
    started = last_report = time.monotonic()
    rows_done = 0
    try:
        with input_path.open(newline="") as source, partial.open("w", newline="") as sink:
            reader = csv.DictReader(source)
            if not reader.fieldnames:
                raise InputError(f"{input_path}: empty file (no header line)")
            if PROBABILITY_COLUMN in reader.fieldnames:
                raise InputError(f"{input_path}: already has a '{PROBABILITY_COLUMN}' column")
            writer = csv.writer(sink, lineterminator="\n")
            writer.writerow(reader.fieldnames + [PROBABILITY_COLUMN])
            chunks = _chunks(reader, encoder, input_path, batch_size)
            with concurrent.futures.ThreadPoolExecutor(1) as reader_thread:
                upcoming = reader_thread.submit(next, chunks, None)
                while True:
                    chunk = upcoming.result()
                    if chunk is None:
                        break
                    upcoming = reader_thread.submit(next, chunks, None)
                    raw_rows, serialized = chunk
                    probabilities = _probabilities(model.predict(serialized))
                    writer.writerows(
                        [row.get(column, "") for column in reader.fieldnames] + [f"{p:.6f}"]
                        for row, p in zip(raw_rows, probabilities))
                    rows_done += len(raw_rows)
                    now = time.monotonic()
                    if progress is not None and now - last_report >= PROGRESS_SECONDS:
                        _report(progress, rows_done, now - started)
                        last_report = now
        os.replace(partial, output_path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    seconds = time.monotonic() - started
    if progress is not None:
        _report(progress, rows_done, seconds, final=True)
    return ScoreSummary(rows_done, seconds, model.version, output_path)


def _chunks(reader: csv.DictReader, encoder: ExampleEncoder, path: pathlib.Path,
            batch_size: int) -> Iterator[Tuple[List[dict], List[bytes]]]:
    line = 1
    while True:
        raw_rows = list(itertools.islice(reader, batch_size))
        if not raw_rows:
            return
        serialized = []
        for row in raw_rows:
            line += 1
            if None in row:
                raise InputError(f"{path}, line {reader.line_num}: more fields than the header")
            try:
                serialized.append(encoder.serialize(encoder.check_csv_row(row, f"line {line}")))
            except RequestError as error:
                raise InputError(f"{path}, {error}") from error
        yield raw_rows, serialized


def _probabilities(outputs) -> List[float]:
    values = outputs.get(PROBABILITY_COLUMN, next(iter(outputs.values())))
    return values.reshape(len(values), -1)[:, 0].tolist()


def _report(out: TextIO, rows: int, seconds: float, final: bool = False) -> None:
    rate = rows / seconds if seconds > 0 else 0.0
    prefix = "scored" if final else "scoring:"
    print(f"  {prefix} {rows:,} rows in {seconds:.1f}s ({rate:,.0f} rows/s)", file=out,
          flush=True)
