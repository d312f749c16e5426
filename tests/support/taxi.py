"""The taxi data as the tests write it: its columns, one valid trip, and a CSV writer."""

import csv
import pathlib

# The column order of the taxi CSV shipped with tfx.
TAXI_HEADER = [
    "pickup_community_area", "fare", "trip_start_month", "trip_start_hour", "trip_start_day",
    "trip_start_timestamp", "pickup_latitude", "pickup_longitude", "dropoff_latitude",
    "dropoff_longitude", "trip_miles", "pickup_census_tract", "dropoff_census_tract",
    "payment_type", "company", "trip_seconds", "dropoff_community_area", "tips",
]

# One valid trip: every column present and inside the curated schema's domains.
TAXI_ROW = {
    "pickup_community_area": 8, "fare": 10.0, "trip_start_month": 5, "trip_start_hour": 19,
    "trip_start_day": 6, "trip_start_timestamp": 1400269500, "pickup_latitude": 41.89,
    "pickup_longitude": -87.63, "dropoff_latitude": 41.88, "dropoff_longitude": -87.62,
    "trip_miles": 2.5, "pickup_census_tract": 17031081700, "dropoff_census_tract": 17031320100,
    "payment_type": "Credit Card", "company": "Flash Cab", "trip_seconds": 600,
    "dropoff_community_area": 32, "tips": 3.0,
}


def taxi_row(**changes) -> dict:
    """A valid trip as a dict, with `changes` applied (only taxi columns)."""
    unknown = set(changes) - set(TAXI_ROW)
    assert not unknown, f"not taxi columns: {unknown}"
    return {**TAXI_ROW, **changes}


def write_csv(path, rows, header=TAXI_HEADER) -> pathlib.Path:
    """Writes dict rows under `header` (a missing key or None -> empty field)."""
    path = pathlib.Path(path)
    with path.open("w", newline="") as sink:
        writer = csv.writer(sink)
        writer.writerow(header)
        for row in rows:
            writer.writerow(["" if row.get(column) is None else row[column] for column in header])
    return path
