"""Data by span before TFX runs: which spans a pattern finds (the same span TFX's ExampleGen
finds on the same files), the span a run ingests, and the preflight check reading that span's
files. Bad patterns and missing spans are exit-2 errors naming the pattern
and the spans found."""

import pathlib

import mlpipe  # noqa: F401  (process settings before TensorFlow)
import pytest

from mlpipe.errors import EXIT_BAD_INPUT, BadInputError, InputDataError
from mlpipe.local.preflight import check_input_data
from mlpipe.pipeline.span_files import (choose_span, input_base_and_pattern, parse_span,
                                        span_date)
from tests.support.cli import run_mlpipe
from tests.support.configs import write_config


def _touch(root: pathlib.Path, *names: str) -> pathlib.Path:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x\n")
    return root


def _error(pattern, requested=None) -> str:
    with pytest.raises(InputDataError) as caught:
        choose_span(pattern, requested)
    assert caught.value.exit_code == EXIT_BAD_INPUT
    return str(caught.value)


# --- which span ------------------------------------------------------------------------------

def test_the_newest_span_by_number_not_by_name(tmp_path):
    _touch(tmp_path, "span-1/a.csv", "span-2/a.csv", "span-10/a.csv", "span-10/b.csv")
    chosen = choose_span(f"{tmp_path}/span-{{SPAN}}/")
    assert (chosen.span, chosen.spans) == (10, (1, 2, 10))
    assert chosen.path == f"{tmp_path}/span-10/"
    assert chosen.files == (f"{tmp_path}/span-10/a.csv", f"{tmp_path}/span-10/b.csv")
    assert chosen.describe() == "10 (newest of 3: 1, 2, 10)"


def test_an_older_span_on_request(tmp_path):
    _touch(tmp_path, "trips-1.csv", "trips-2.csv", "trips-3.csv", "notes.txt")
    chosen = choose_span(f"{tmp_path}/trips-{{SPAN}}.csv", "2")
    assert (chosen.span, chosen.files) == (2, (f"{tmp_path}/trips-2.csv",))
    assert chosen.describe() == "2 (backfill; the newest is 3)"


def test_a_width_modifier_reads_zero_padded_spans(tmp_path):
    _touch(tmp_path, "span-007/a.csv", "span-012/a.csv")
    chosen = choose_span(f"{tmp_path}/span-{{SPAN:3}}/*.csv", 7)
    assert chosen.path == f"{tmp_path}/span-007/*.csv" and chosen.spans == (7, 12)


def test_zero_padded_names_without_a_width_are_refused_naming_the_fix(tmp_path):
    _touch(tmp_path, "span-01/a.csv", "span-02/a.csv")
    message = _error(f"{tmp_path}/span-{{SPAN}}/")
    assert "spelled '02'" in message and "{SPAN:2}" in message


def test_date_spans_are_days_since_1970_and_take_a_date(tmp_path):
    _touch(tmp_path, "2024-01-05/a.parquet", "2024-01-07/a.parquet")
    pattern = f"{tmp_path}/{{YYYY}}-{{MM}}-{{DD}}/*.parquet"
    newest = choose_span(pattern)
    assert span_date(newest.span) == "2024-01-07" and newest.path.endswith("/2024-01-07/*.parquet")
    by_date = choose_span(pattern, "2024-01-05")
    assert by_date.span == newest.span - 2
    assert choose_span(pattern, str(by_date.span)).files == by_date.files
    assert "2024-01-05" in by_date.describe()


def test_a_missing_span_names_the_pattern_and_the_spans_found(tmp_path):
    _touch(tmp_path, "span-1/a.csv", "span-3/a.csv")
    message = _error(f"{tmp_path}/span-{{SPAN}}/", "2")
    assert message == (f"--span 2: data.path {tmp_path}/span-{{SPAN}}/ has no span 2; "
                       "spans found: 1, 3")


def test_a_pattern_matching_nothing_names_the_pattern_and_the_glob(tmp_path):
    message = _error(f"{tmp_path}/span-{{SPAN}}/*.csv")
    assert f"data.path {tmp_path}/span-{{SPAN}}/*.csv: no file matches" in message
    assert f"{tmp_path}/span-*/*.csv" in message


def test_folders_need_a_trailing_slash(tmp_path):
    _touch(tmp_path, "span-1/a.csv")
    assert "end it with '/'" in _error(f"{tmp_path}/span-{{SPAN}}")


def test_a_matching_name_that_is_not_a_span_is_named(tmp_path):
    _touch(tmp_path, "span-1/a.csv", "span-latest/a.csv")
    message = _error(f"{tmp_path}/span-{{SPAN}}/")
    assert "span-latest/a.csv" in message and "'latest' is not a span number" in message


def test_an_impossible_date_is_named(tmp_path):
    _touch(tmp_path, "2024-02-30.csv")
    assert "2024-02-30 is not a date" in _error(f"{tmp_path}/{{YYYY}}-{{MM}}-{{DD}}.csv")


def test_one_span_spelled_two_ways_is_refused(tmp_path):
    _touch(tmp_path, "span-2/a.csv", "span-02/a.csv")
    assert "span 2 is spelled both" in _error(f"{tmp_path}/span-{{SPAN}}/")


def test_span_argument_forms():
    assert parse_span("12", "span") == 12 and parse_span(3, "date") == 3
    with pytest.raises(BadInputError, match="a span number"):
        parse_span("2024-01-05", "span")
    with pytest.raises(BadInputError, match="YYYY-MM-DD"):
        parse_span("2024-13-01", "date")


def test_span_on_data_without_spans_is_refused(tmp_path):
    with pytest.raises(BadInputError, match="has no span spec"):
        choose_span(str(tmp_path / "trips.csv"), "1")
    assert choose_span(str(tmp_path / "trips.csv")) is None


@pytest.mark.parametrize("path, expected", [
    ("/d/span-{SPAN}/*.csv", ("/d", "span-{SPAN}/*.csv")),
    ("/d/span-{SPAN}/", ("/d", "span-{SPAN}/*")),
    ("/d/x/{YYYY}{MM}{DD}.csv", ("/d/x", "{YYYY}{MM}{DD}.csv")),
    ("/d/x/trips.csv", ("/d/x", "trips.csv")),
    ("/d/2024-*/part-*.parquet", ("/d", "2024-*/part-*.parquet")),
    ("gs://b/data/span-{SPAN}/", ("gs://b/data", "span-{SPAN}/*")),
])
def test_input_base_and_pattern(path, expected):
    assert input_base_and_pattern(path) == expected


@pytest.mark.parametrize("layout, pattern, requested", [
    (["span-1/a.csv", "span-2/a.csv", "span-10/a.csv"], "span-{SPAN}/", None),
    (["span-1/a.csv", "span-2/a.csv", "span-10/a.csv"], "span-{SPAN}/*.csv", 2),
    (["t-007.csv", "t-012.csv"], "t-{SPAN:3}.csv", None),
    (["2024-01-05/a.csv", "2023-12-31/a.csv"], "{YYYY}-{MM}-{DD}/", None),
    (["d20240105.csv", "d20240107.csv"], "d{YYYY}{MM}{DD}.csv", 19727),
])
def test_tfx_finds_the_same_span_on_the_same_files(tmp_path, layout, pattern, requested):
    """TFX's own resolution (what CsvExampleGen's driver runs) agrees with ours, with and
    without the static range a run pins."""
    from tfx.components.example_gen import utils
    from tfx.proto import example_gen_pb2, range_config_pb2
    _touch(tmp_path, *layout)
    chosen = choose_span(f"{tmp_path}/{pattern}", requested)
    base, relative = input_base_and_pattern(f"{tmp_path}/{pattern}")
    split = example_gen_pb2.Input.Split(name="all", pattern=relative)
    range_config = None if requested is None else range_config_pb2.RangeConfig(
        static_range=range_config_pb2.StaticRange(start_span_number=chosen.span,
                                                  end_span_number=chosen.span))
    _, span, _ = utils.calculate_splits_fingerprint_span_and_version(base, [split],
                                                                      range_config)
    assert span == chosen.span
    # TFX writes the span into the pattern; the files it reads are the ones we checked.
    resolved = sorted(str(p) for p in pathlib.Path(base).glob(split.pattern) if p.is_file())
    assert resolved == sorted(chosen.files)


# --- the preflight check reads the chosen span ------------------------------------------------

@pytest.fixture
def span_data(tmp_path, write_csv, taxi_row):
    """spans 1 and 2 of taxi rows; span 1 holds a non-number in trip_seconds."""
    for span in (1, 2):
        (tmp_path / "data" / f"span-{span}").mkdir(parents=True)
    write_csv(tmp_path / "data" / "span-1" / "trips.csv",
              [taxi_row(trip_seconds="soon"), taxi_row()])
    write_csv(tmp_path / "data" / "span-2" / "trips.csv", [taxi_row(), taxi_row(), taxi_row()])
    return f"{tmp_path}/data/span-{{SPAN}}/"


def test_preflight_reads_the_newest_span(span_data, config_for_data, numeric_columns):
    summary = check_input_data(config_for_data(span_data), numeric_columns)
    assert summary.span.span == 2 and summary.rows == 3
    assert summary.files == [span_data.replace("{SPAN}/", "2/trips.csv")]


def test_preflight_reads_the_span_asked_for_and_names_its_file(span_data, config_for_data,
                                                                numeric_columns):
    with pytest.raises(InputDataError) as caught:
        check_input_data(config_for_data(span_data), numeric_columns,
                         choose_span(span_data, "1"))
    assert str(caught.value).startswith(span_data.replace("{SPAN}/", "1/trips.csv") + ", line 2")


# --- the command -----------------------------------------------------------------------------

def test_run_with_a_span_that_does_not_exist_exits_2_naming_the_spans(span_data, tmp_path):
    def edit(raw):
        raw["data"]["path"] = span_data
    config = write_config(tmp_path / "problem.yaml", edit=edit)
    result = run_mlpipe("run", "--config", config, "--home", tmp_path / "runs", "--span", "7")
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == (f"error: --span 7: data.path {span_data} has no span 7; "
                                     "spans found: 1, 2")
    assert not (tmp_path / "runs").exists()
