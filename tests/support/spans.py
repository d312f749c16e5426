"""Taxi data that arrives in spans: the bundled CSV cut by time into small spans, and a span
with a planted shift (the drift gate's tests).

Spans are consecutive blocks of `SPAN_ROWS` trips in `trip_start_timestamp` order (each covers
about five months), written as `<root>/span-<N>/trips.csv`, the layout of `SPAN_PATTERN`.
"""

import csv
import pathlib
from typing import Dict, List

from mlpipe.config import load_config

SPAN_ROWS = 1500
SPAN_FOLDER = "span-{SPAN}/"  # data.path below the data folder: every file of each span's folder
SHIFTED_FEATURES = ("payment_type", "trip_start_hour")


def taxi_by_time() -> List[Dict[str, str]]:
    """Every trip of the taxi CSV shipped with tfx, as text cells, oldest first."""
    with open(load_config().data.path, newline="") as source:
        rows = list(csv.DictReader(source))
    return sorted(rows, key=lambda row: int(row["trip_start_timestamp"]))


def taxi_rows() -> List[Dict[str, str]]:
    """Every trip of the taxi CSV shipped with tfx, as text cells, in file order."""
    with open(load_config().data.path, newline="") as source:
        return list(csv.DictReader(source))


def random_third(span: int, rows: List[Dict[str, str]]) -> List[Dict[str, str]]:
    """Span N of 3 dealt by row number (row i goes to span i mod 3 + 1): three random samples
    of one distribution."""
    return rows[span - 1::3]


def span_rows(span: int, rows: List[Dict[str, str]], size: int = SPAN_ROWS
              ) -> List[Dict[str, str]]:
    """Span N (from 1): the N-th block of `size` trips in time order."""
    return rows[(span - 1) * size:span * size]


def planted_shift(rows: List[Dict[str, str]]) -> List[Dict[str, str]]:
    """The same trips, paid by card instead of cash and all started at 3 am: a shift of
    payment_type (L-infinity) and trip_start_hour (Jensen-Shannon), inside the curated schema.
    (TFDV's Jensen-Shannon divergence on 10-bucket histograms barely sees a shift of the hours
    by 12: 0.09; a concentrated one it does.)"""
    shifted = []
    for row in rows:
        row = dict(row)
        if row["payment_type"] == "Cash":
            row["payment_type"] = "Credit Card"
        row["trip_start_hour"] = "3"
        shifted.append(row)
    return shifted


def write_span(folder, span: int, rows: List[Dict[str, str]]) -> pathlib.Path:
    """`folder`/span-N/trips.csv with `rows` (the taxi header)."""
    path = pathlib.Path(folder) / f"span-{span}" / "trips.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as sink:
        writer = csv.DictWriter(sink, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path
