"""Missing-value tokens of a CSV (the config's `data.missing_values`: NA, NaN, null, ...) read as
blank cells.

TFDV's CSV statistics know one spelling of "no value": an empty cell. The schema proposal
(`mlpipe.schema.proposal`) reads a CSV that spells missing values with tokens through a copy
made by `blank_tokens`: every cell exactly equal to a declared token becomes empty, in every
column; nothing else changes (a quoted cell stays one cell, a value spanning lines stays one
value). The pipeline's CSV ExampleGen (`mlpipe.components.csv_example_gen`, on every runner) and
batch scoring apply the same rule as they read, so the curated schema describes exactly what the
ExampleGen writes.
"""

import csv
import pathlib
from typing import Iterable


def blank_tokens(source, target, tokens: Iterable[str]) -> int:
    """Writes the CSV `source` to `target` with every cell equal to one of `tokens` emptied;
    returns how many cells were emptied. Blank lines are dropped (CsvExampleGen skips them)."""
    tokens = frozenset(tokens)
    emptied = 0
    target = pathlib.Path(target)
    with open(source, newline="", encoding="utf-8") as reader_file, \
            open(target, "w", newline="", encoding="utf-8") as writer_file:
        writer = csv.writer(writer_file, lineterminator="\n")
        for row in csv.reader(reader_file):
            if not row:
                continue
            if tokens:
                blanked = ["" if cell in tokens else cell for cell in row]
                emptied += sum(1 for old, new in zip(row, blanked) if old != new)
                row = blanked
            writer.writerow(row)
    return emptied
