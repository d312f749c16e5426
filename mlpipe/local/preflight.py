"""Checks the input data before any TFX component starts, so bad input fails in a second with a
message naming the file, the column and the row, instead of deep inside a Beam job.

It reads the data once, streaming (memory stays flat on large files), in the format
`data.format` names (`mlpipe.core.data_files`: a file, a folder or a glob), and hashes each file
for the run's provenance record. The same checks hold for every format, each an
`InputDataError` (exit 2) raised before anything is written:

- the columns the config needs are there (a CSV header, a parquet schema, a feature of some
  tf.Example);
- a numeric column (INT or FLOAT in the curated schema; a numeric or bucketized feature of the
  config) holds numbers of that kind in every row: the first row where it does not is named
  with its value, and whether the column changed type there. A parquet column has one type per
  file: it must be of that kind, and of the same type in every file. A tf.Example feature
  carries its own kind: it must be the same in every record;
- the label: binary, 0/1 or a `positive_class` that occurs; multiclass, a value of
  `label.classes` in every row (`LabelConfig.class_index`), never blank, and no class seen in
  only one row (it could not be both trained on and evaluated); regression, a number in every
  row; a derived label computable in all but `max_underivable_fraction` of the rows;
- CSV only: UTF-8 text and the same number of fields as the header in every line.

Missing values. In a CSV every cell is text, and `data.missing_values` tokens (NA, null, ...)
mean "no value" in every column (the pipeline's CSV ExampleGen reads them as blank cells:
`mlpipe.components.csv_example_gen`). Parquet and TFRecord files are typed: a numeric column
cannot hold `NA` at all, and a missing value has its own spelling there (a null or a float NaN;
an absent feature or an empty value list), which TFX reads as missing. TFX would read a token in a
text column as a category like any other, and only the CSV ExampleGen blanks tokens, so with
`data.format` parquet or tfrecord a config that declares `data.missing_values` is refused here:
write missing values as nulls (or leave the feature out) and remove the tokens.

Data by span. When `data.path` carries a span spec (`{SPAN}`, `{YYYY}{MM}{DD}`), the check reads
the files of the span the run ingests (`mlpipe.pipeline.span_files.choose_span`: the newest, or
the one `--span` names), and names that span's path in its messages.

The curated schema, checked by ExampleValidator and the AnomalyGate inside the pipeline, remains
the full data contract; this is the fast first line for what would otherwise surface as a
stack trace.
Where each check lives: this module reads the files (data.path, data.format, the files' names)
and sums up what it found (`DataSummary`); `preflight_csv` checks a CSV file, `preflight_typed` a
parquet or TFRecord file, `preflight_label` the label (and a derived label), and
`preflight_kinds` says which kind each numeric column must hold.
"""

import dataclasses
import os
from typing import Dict, List, Optional

from mlpipe.config import ProblemConfig
from mlpipe.core import data_files
from mlpipe.core.run_record import DataFile
from mlpipe.errors import InputDataError
from mlpipe.local.preflight_csv import check_csv_file
from mlpipe.local.preflight_kinds import numeric_kinds
from mlpipe.local.preflight_label import LabelCheck, check_derivable
from mlpipe.local.preflight_typed import TypedColumns, check_parquet, check_tfrecord
from mlpipe.pipeline.span_files import SpanChoice, choose_span

_DATA_FILES = {"csv": "*.csv", "parquet": "*.parquet", "tfrecord": "*.tfrecord*"}


@dataclasses.dataclass
class DataSummary:
    files: List[str]
    rows: int
    underivable_labels: int
    contents: List[DataFile] = dataclasses.field(default_factory=list)  # per file: hash, rows
    span: Optional[SpanChoice] = None  # with data by span: the span checked


def check_input_data(config: ProblemConfig, numeric_columns: Dict[str, str],
                     span: Optional[SpanChoice] = None) -> DataSummary:
    """`numeric_columns`: column -> 'INT' or 'FLOAT', as the curated schema declares them.
    `span`: with data by span, the span the run ingests (default: the newest)."""
    if config.data.has_spans:
        span = span or choose_span(config.data.path)
        # Every check below reads, and names, the chosen span's files.
        config = config.model_copy(update={
            "data": config.data.model_copy(update={"path": span.path})})
    summary = _check(config, numeric_columns)
    summary.span = span
    return summary


def _check(config: ProblemConfig, numeric_columns: Dict[str, str]) -> DataSummary:
    data_format = config.data.format
    files = data_files.data_files(config.data.path)
    if data_format != "csv" and config.data.missing_values:
        raise InputDataError(
            f"{config.data.path}: data.missing_values {config.data.missing_values} applies to "
            f"CSV files only; {data_format} files are typed and spell a missing value their own "
            "way (a null; an absent feature or an empty value list), which TFX reads as "
            "missing, while it would read a token as text: write missing values that way and "
            "remove data.missing_values")
    for path in files:
        named = data_files.format_of(path)
        if named is not None and named != data_format:
            raise InputDataError(f"{path}: a {named} file by its name, but data.format is "
                                 f"{data_format}: set data.format: {named} (or point data.path "
                                 f"at the {data_format} files)")
    kinds = numeric_kinds(config, numeric_columns)
    label = LabelCheck(config)
    rows = underivable = 0
    contents = []
    typed = TypedColumns(config, kinds)
    check = {"csv": lambda path: check_csv_file(path, config, kinds, label),
             "parquet": lambda path: check_parquet(path, config, typed, label),
             "tfrecord": lambda path: check_tfrecord(path, config, typed, label)}[data_format]
    for path in files:
        try:
            file_rows, file_underivable, content = check(path)
        except InputDataError as error:
            if os.path.isdir(config.data.path) and data_files.format_of(path) is None:
                pattern = os.path.join(config.data.path, _DATA_FILES[data_format])
                raise InputDataError(
                    f"{error} (data.path is a folder: TFX reads every file in it, hidden ones "
                    f"too; a glob such as {pattern} reads only the data files)") from None
            raise
        rows += file_rows
        underivable += file_underivable
        contents.append(content)
    if data_format == "tfrecord":
        typed.finish_tfrecord(config.data.path)
    label.finish(config.data.path)
    check_derivable(config, rows, underivable)
    return DataSummary(files=files, rows=rows, underivable_labels=underivable, contents=contents)
