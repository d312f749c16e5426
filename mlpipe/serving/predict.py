"""`mlpipe predict`: streaming batch scoring of a CSV file with a pushed model.

The input is never loaded whole: pyarrow's streaming CSV reader parses it a block at a time (in
C++, every column as text), and it is cut into chunks of `batch_size` rows. Each chunk's SERVING
features are checked a column at a time (`ExampleEncoder.check_csv_columns`: Arrow casts, the
same rules as the server's per-row check, errors naming line and column), encoded as tf.Examples
by tfx_bsl's C++ encoder and fed to the `serving_default` signature. While TensorFlow scores one
chunk, two threads check and encode the next ones (Arrow, tfx_bsl and TensorFlow release the
GIL), so at most four chunks and pyarrow's read-ahead (about ten chunks of text) are in memory.

The output CSV is every input column, as the input spelled it, plus the prediction's columns
(`outputs.output_columns`, numbers with 6 decimals): binary `probability`; multiclass
`predicted_class` (the class with the highest score) and `score_<class>` for each class of
label.classes, in that order; regression `value`. It is written a chunk at a time to
`<output>.partial` and renamed when complete, so a failed run never leaves a file that looks
finished. Line numbers in errors count the header as line 1 and one line per data row (blank
lines are skipped, as the csv module does; a quoted value spanning lines counts once).

By default the first row with a bad value stops the run (nothing written). With
`skip_bad_rows`, such rows are left out of the output and written, with their line, column and
reason, to `<output>.rejected.csv`; every output row still carries its own input text, so no
prediction can land beside another row. A malformed line (a wrong number of fields) stops the
run either way: the CSV itself is broken there.
"""

import collections
import concurrent.futures
import contextlib
import csv
import dataclasses
import io
import os
import pathlib
import time
from typing import Iterable, Iterator, List, Optional, Sequence, TextIO, Tuple

import numpy as np

from mlpipe.errors import BadInputError
from mlpipe.serving import outputs as task_outputs
from mlpipe.serving.examples import ExampleEncoder, RequestError
from mlpipe.serving.model import LoadedModel
from mlpipe.serving.outputs import ModelTask

PROGRESS_SECONDS = 2.0
MIN_BLOCK_BYTES = 64 << 10     # pyarrow reads the file in blocks of at least this size ...
MAX_BLOCK_BYTES = 4 << 20      # ... and at most this
CHECK_THREADS = 2              # chunks checked and encoded at once, ahead of the model
CHECK_THREAD_NAME = "csv-check"  # ... on threads of this name
MAX_ROW_BYTES = 1 << 30        # blocks grow up to this size when a row does not fit in one
_NEEDS_QUOTES = (b",", b'"', b"\n", b"\r")


@dataclasses.dataclass
class ScoreSummary:
    rows: int
    seconds: float
    version: int
    output: pathlib.Path
    rejected: int = 0                          # rows left out (skip_bad_rows)
    rejected_output: Optional[pathlib.Path] = None

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else float("inf")


class InputError(BadInputError):
    """The input CSV cannot be scored; the message names file, line and column."""


@dataclasses.dataclass
class RejectedRow:
    line: int
    column: Optional[str]
    reason: str
    cells: List[str]       # the row's input cells, as strings


@dataclasses.dataclass
class CsvChunk:
    """`batch_size` rows (fewer at the end) of the input CSV."""
    first_line: int        # line number of the chunk's first row (the header is line 1)
    text: object           # pyarrow.RecordBatch: every input column, as strings (kept rows)
    serialized: List[bytes]
    rejected: List[RejectedRow] = dataclasses.field(default_factory=list)

    @property
    def rows(self) -> int:
        return self.text.num_rows


def read_header(path: pathlib.Path) -> List[str]:
    with path.open(newline="") as source:
        header = next(csv.reader(source), None)
    if not header:
        raise InputError(f"{path}: empty file (no header line)")
    seen = set()
    for name in header:
        if name in seen:
            raise InputError(f"{path}: column '{name}' appears twice in the header")
        seen.add(name)
    return header


def csv_chunks(path, encoder: ExampleEncoder, batch_size: int,
               header: Optional[Sequence[str]] = None,
               workers: int = CHECK_THREADS, skip_bad_rows: bool = False) -> Iterator[CsvChunk]:
    """The CSV a chunk at a time, in order, checked and serialized by `workers` threads (Arrow
    and tfx_bsl release the GIL) while the caller scores; InputError names line and column.
    A caller that stops reading early closes the generator (`contextlib.closing`)."""
    path = pathlib.Path(path)
    header = list(header) if header is not None else read_header(path)
    texts = _text_chunks(path, header, batch_size)
    pool = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix=CHECK_THREAD_NAME)
    try:
        in_flight: collections.deque = collections.deque()
        while True:
            try:
                first_line, text = next(texts)
            except StopIteration:
                break
            except InputError:
                while in_flight:  # an error on an earlier line is reported first
                    yield in_flight.popleft().result()
                raise
            in_flight.append(pool.submit(_checked, path, encoder, text, first_line,
                                         skip_bad_rows))
            if len(in_flight) > workers:
                yield in_flight.popleft().result()
        while in_flight:
            yield in_flight.popleft().result()
    finally:
        # Never waits for the workers: a generator left unfinished is closed by whoever drops
        # it last, which can be the garbage collector inside another thread's start, where
        # joining a thread deadlocks Python's threading module (test-fast hung so, twice). The
        # checks in flight finish on their own, and the idle workers exit.
        pool.shutdown(wait=False, cancel_futures=True)


def _text_chunks(path: pathlib.Path, header: List[str],
                 batch_size: int) -> Iterator[Tuple[int, object]]:
    """(line of the first row, RecordBatch of `batch_size` rows as strings), streaming."""
    import pyarrow as pa

    block_size = _block_size(path, batch_size)
    reader = _open(path, header, block_size, 0)
    line = 2
    pending: List = []
    pending_rows = 0
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            batch = None
        except pa.ArrowInvalid as error:
            if "straddle" not in str(error) or block_size >= MAX_ROW_BYTES:
                raise InputError(_read_error(path, header, error)) from error
            # A row longer than a block: read on from the first row not yet chunked.
            block_size *= 16
            reader = _open(path, header, block_size, line - 2)
            pending, pending_rows = [], 0
            continue
        if batch is not None:
            if batch.num_rows:
                pending.append(batch)
                pending_rows += batch.num_rows
            if pending_rows < batch_size:
                continue
        while pending_rows >= batch_size or (batch is None and pending_rows):
            table = pa.Table.from_batches(pending)
            size = min(batch_size, pending_rows)
            text = table.slice(0, size).combine_chunks().to_batches()[0]
            rest = table.slice(size)
            pending = rest.to_batches() if rest.num_rows else []
            pending_rows -= size
            yield line, text
            line += size
        if batch is None:
            return


def _open(path: pathlib.Path, header: Sequence[str], block_size: int, skip_rows: int):
    """pyarrow's streaming reader, every column as text ("" for an empty value)."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv
    try:
        return pa_csv.open_csv(
            str(path),
            read_options=pa_csv.ReadOptions(block_size=block_size,
                                            skip_rows_after_names=skip_rows),
            parse_options=pa_csv.ParseOptions(newlines_in_values=True),
            convert_options=pa_csv.ConvertOptions(
                column_types={name: pa.string() for name in header}, strings_can_be_null=False))
    except pa.ArrowInvalid as error:
        if "straddle" in str(error) and block_size < MAX_ROW_BYTES:
            return _open(path, header, block_size * 16, skip_rows)
        raise InputError(_read_error(path, header, error)) from error


def _checked(path, encoder: ExampleEncoder, text, first_line: int,
             skip_bad_rows: bool = False) -> CsvChunk:
    """The chunk checked and serialized. With `skip_bad_rows`, each row the check refuses is
    taken out (and recorded) and the rest checked again."""
    lines = list(range(first_line, first_line + text.num_rows))  # each kept row's line
    rejected: List[RejectedRow] = []
    while True:
        columns = {name: text.column(i) for i, name in enumerate(text.schema.names)}
        try:
            examples = encoder.check_csv_columns(columns, text.num_rows, first_line)
            break
        except RequestError as error:
            if not skip_bad_rows or error.row is None:
                if rejected:  # rows were taken out: the message's line count is off
                    raise InputError(f"{path}, {_without_line(error)}") from error
                raise InputError(f"{path}, {error}") from error
            rejected.append(RejectedRow(lines.pop(error.row), error.field,
                                        _without_line(error), _cells(text, error.row)))
            text = _drop_row(text, error.row)
    return CsvChunk(first_line, text, encoder.serialize_batch(examples), rejected)


def _without_line(error: RequestError) -> str:
    """The reason, without the 'line N: ' the check put in front."""
    message = str(error)
    return message.split(": ", 1)[1] if message.startswith("line ") else message


def _cells(text, row: int) -> List[str]:
    return ["" if value is None else str(value)
            for value in text.slice(row, 1).to_pylist()[0].values()]


def _drop_row(text, row: int):
    import pyarrow as pa
    keep = [i for i in range(text.num_rows) if i != row]
    return text.take(pa.array(keep, pa.int64()))


def scored_chunks(model: LoadedModel,
                  chunks: Iterable[CsvChunk]) -> Iterator[Tuple[CsvChunk, np.ndarray]]:
    """(chunk, probabilities) for each chunk of a binary model (a regression model: values);
    `csv_chunks` prepares the next ones meanwhile."""
    for chunk, outputs in scored_outputs(model, chunks):
        yield chunk, probabilities(outputs, chunk.rows)


def scored_outputs(model: LoadedModel,
                   chunks: Iterable[CsvChunk]) -> Iterator[Tuple[CsvChunk, dict]]:
    """(chunk, the model's outputs: name -> one row per row) for each chunk, any task (a
    chunk whose every row was rejected: no outputs)."""
    for chunk in chunks:
        yield chunk, model.predict(chunk.serialized) if chunk.rows else {}


def model_task(model) -> ModelTask:
    """The model's task (`LoadedModel.task`); binary for an object that does not say."""
    return getattr(model, "task", None) or ModelTask()


def rejected_path(output_path: pathlib.Path) -> pathlib.Path:
    return output_path.with_name(output_path.name + ".rejected.csv")


def score_csv(model: LoadedModel, encoder: ExampleEncoder, input_path, output_path,
              batch_size: int = 2048, progress: Optional[TextIO] = None,
              skip_bad_rows: bool = False) -> ScoreSummary:
    input_path, output_path = pathlib.Path(input_path), pathlib.Path(output_path)
    partial = output_path.with_name(output_path.name + ".partial")
    rejects = rejected_path(output_path)
    rejects_partial = rejects.with_name(rejects.name + ".partial")
    started = last_report = time.monotonic()
    rows_done = rejected = 0
    task = model_task(model)
    added = task_outputs.output_columns(task)
    try:
        header = read_header(input_path)
        taken = [name for name in added if name in header]
        if taken:
            raise InputError(f"{input_path}: already has a '{taken[0]}' column (the output "
                             f"adds {', '.join(added)})")
        with contextlib.ExitStack() as stack:
            sink = stack.enter_context(partial.open("wb"))
            rejects_sink = stack.enter_context(rejects_partial.open("w", newline="")
                                               if skip_bad_rows else contextlib.nullcontext())
            sink.write(_csv_line(header + added))
            rejects_writer = csv.writer(rejects_sink) if skip_bad_rows else None
            if rejects_writer:
                rejects_writer.writerow(["line", "column", "error", *header])
            chunks = stack.enter_context(contextlib.closing(
                csv_chunks(input_path, encoder, batch_size, header, skip_bad_rows=skip_bad_rows)))
            for chunk, outputs in scored_outputs(model, chunks):
                for row in chunk.rejected:
                    rejects_writer.writerow([row.line, row.column or "", row.reason, *row.cells])
                rejected += len(chunk.rejected)
                if not chunk.rows:
                    continue
                sink.write(csv_text(chunk.text, *task_outputs.output_text(
                    task, outputs, chunk.rows, fixed_6)))
                rows_done += chunk.rows
                now = time.monotonic()
                if progress is not None and now - last_report >= PROGRESS_SECONDS:
                    _report(progress, rows_done, now - started)
                    last_report = now
        if skip_bad_rows:
            os.replace(rejects_partial, rejects)
        os.replace(partial, output_path)
    except BaseException:
        partial.unlink(missing_ok=True)
        rejects_partial.unlink(missing_ok=True)
        raise
    seconds = time.monotonic() - started
    if progress is not None:
        _report(progress, rows_done, seconds, final=True)
    return ScoreSummary(rows_done, seconds, model.version, output_path, rejected,
                        rejects if skip_bad_rows else None)


def probabilities(outputs, rows: int) -> np.ndarray:
    """binary: P(label = 1) per row (regression: the value)."""
    return task_outputs.single_values(outputs, rows)


# ---- output ------------------------------------------------------------------------------

def _csv_line(fields: Iterable[str]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(list(fields))
    return out.getvalue().encode()


def csv_text(text, *extra) -> bytes:
    """A chunk's string columns plus more columns, as CSV lines (quoted as the csv module
    quotes: only values holding a comma, a quote or a line break), joined in C++."""
    import pyarrow as pa
    import pyarrow.compute as pc
    columns = [_quoted(column) for column in list(text.columns) + list(extra)]
    lines = pc.binary_join_element_wise(*columns, ",")
    lines = pc.binary_join_element_wise(lines, "", "\n")
    if len(lines) == 0:
        return b""
    _, offsets, data = lines.buffers()
    bounds = np.frombuffer(offsets, dtype=np.int32 if lines.type == pa.string() else np.int64,
                           count=lines.offset + len(lines) + 1)
    return memoryview(data)[bounds[lines.offset]:bounds[-1]]


def _quoted(column):
    import pyarrow.compute as pc
    data = column.buffers()[2]
    if data is None or not any(mark in data.to_pybytes() for mark in _NEEDS_QUOTES):
        return column
    needs = pc.match_substring_regex(column, '[,"\r\n]')
    escaped = pc.binary_join_element_wise('"', pc.replace_substring(column, '"', '""'), '"', "")
    return pc.if_else(needs, escaped, column)


def fixed_6(values: np.ndarray):
    """Numbers as text with 6 decimals, like f"{value:.6f}" (vectorized for usual values)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    values = np.asarray(values, dtype=np.float64)
    if not (np.all(np.isfinite(values)) and np.all(np.abs(values) < 1e12)):
        return pa.array([f"{value:.6f}" for value in values.tolist()], pa.string())
    scaled = np.rint(np.abs(values) * 1e6).astype(np.int64)
    whole, fraction = np.divmod(scaled, 1_000_000)
    text = pc.binary_join_element_wise(
        pc.cast(pa.array(whole), pa.string()),
        pc.utf8_lpad(pc.cast(pa.array(fraction), pa.string()), 6, "0"), ".")
    negative = np.signbit(values)
    if negative.any():
        text = pc.if_else(pa.array(negative),
                          pc.binary_join_element_wise("-", text, ""), text)
    return text


# ---- helpers -----------------------------------------------------------------------------

def _block_size(path: pathlib.Path, batch_size: int) -> int:
    """About a quarter chunk's worth of bytes (from the average line length of the file's
    start): pyarrow's reader keeps up to about 40 blocks read ahead, so this bounds the memory
    the input takes to about ten chunks, whatever the file's size."""
    with path.open("rb") as source:
        sample = source.read(1 << 16)
    per_row = len(sample) / max(1, sample.count(b"\n"))
    return int(min(MAX_BLOCK_BYTES, max(MIN_BLOCK_BYTES, batch_size * per_row / 4)))


def _read_error(path: pathlib.Path, header: Sequence[str], error: Exception) -> str:
    """pyarrow's parse error with the line it is about, found by re-reading with the csv module
    (only on this error path)."""
    with path.open(newline="") as source:
        reader = csv.reader(source)
        next(reader, None)
        try:
            for row in reader:
                if row and len(row) != len(header):
                    return (f"{path}, line {reader.line_num}: {len(row)} fields, the header has "
                            f"{len(header)}")
        except (csv.Error, UnicodeDecodeError) as csv_error:
            return f"{path}, line {reader.line_num}: {csv_error}"
    return f"{path}: cannot read as CSV ({str(error).strip()})"


def _report(out: TextIO, rows: int, seconds: float, final: bool = False) -> None:
    rate = rows / seconds if seconds > 0 else 0.0
    prefix = "scored" if final else "scoring:"
    print(f"  {prefix} {rows:,} rows in {seconds:.1f}s ({rate:,.0f} rows/s)", file=out,
          flush=True)
