"""Which spans a span pattern finds on disk, and which one a run ingests.

`data.path` may carry TFX's span specs (`mlpipe.config.span_pattern`). TFX's ExampleGen resolves
them at run time; a local run resolves them first, here, with TFX's own rules
(tfx.components.example_gen.utils: each spec a wildcard for the glob, `{SPAN}` a number, the
date specs 4, 2 and 2 characters and the span the days since 1970-01-01), so that the preflight
check reads exactly the files the ExampleGen will ingest, and a missing span
is a clear error before anything runs. The run then pins the chosen span on the ExampleGen (a
static `RangeConfig`), which is how TFX itself re-runs an older span.

Pure Python on local paths: no TensorFlow, no TFX (tests/pipeline/test_span_files.py checks
that TFX finds the same span on the same files).
"""

import dataclasses
import datetime
import glob as glob_module
import os
import re
from typing import Dict, List, Optional, Tuple

from mlpipe.config import span_pattern
from mlpipe.config.span_pattern import DATE, DATE_SPECS, DATE_WIDTHS, SPAN, SPAN_SPEC
from mlpipe.core import data_files
from mlpipe.errors import BadInputError, InputDataError

EPOCH = datetime.date(1970, 1, 1)  # TFX: a date span is the number of days since this day


@dataclasses.dataclass(frozen=True)
class SpanChoice:
    """The span a run ingests, out of those a pattern finds."""

    pattern: str          # data.path as the config writes it, specs included
    kind: str             # SPAN or DATE
    span: int             # the chosen span's number
    path: str             # the pattern with the span's text in place: what preflight reads
    files: Tuple[str, ...]  # the chosen span's files
    spans: Tuple[int, ...]  # every span found, ascending

    @property
    def newest(self) -> int:
        return self.spans[-1]

    def describe(self) -> str:
        """'3 (newest of 1, 2, 3)' / '1 (backfill; newest is 3)'; dates beside date spans."""
        shown = [span_text(span, self.kind) for span in self.spans]
        listed = ", ".join(shown[-5:]) if len(shown) <= 5 else f"{shown[0]} ... {shown[-1]}"
        if self.span == self.newest:
            return f"{span_text(self.span, self.kind)} (newest of {len(shown)}: {listed})"
        return (f"{span_text(self.span, self.kind)} (backfill; the newest is "
                f"{span_text(self.newest, self.kind)})")


def span_text(span: int, kind: str) -> str:
    return f"{span} ({span_date(span)})" if kind == DATE else str(span)


def span_date(span: int) -> str:
    return (EPOCH + datetime.timedelta(days=span)).isoformat()


def parse_span(text, kind: str) -> int:
    """`--span`: a span number, or for a date pattern also a date YYYY-MM-DD."""
    value = str(text).strip()
    if re.fullmatch(r"\d+", value):
        return int(value)
    if kind == DATE:
        try:
            return (datetime.date.fromisoformat(value) - EPOCH).days
        except ValueError:
            pass
        raise BadInputError(f"--span {text}: give a span number or a date YYYY-MM-DD")
    raise BadInputError(f"--span {text}: give a span number (a whole number >= 0)")


def choose_span(data_path: str, requested=None) -> Optional[SpanChoice]:
    """The span a run ingests: `requested` (a number, or a date for a date pattern), else the
    newest; None when `data_path` has no span spec. InputDataError (exit 2) naming the pattern
    and the spans found when none matches."""
    kind = span_pattern.span_kind(data_path)
    if kind is None:
        if requested is not None:
            raise BadInputError(f"--span {requested}: data.path {data_path} has no span spec "
                                "({SPAN} or {YYYY}{MM}{DD}); it is read whole")
        return None
    found = find_spans(data_path, kind)
    span = max(found)
    if requested is not None:
        span = parse_span(requested, kind)
        if span not in found:
            raise InputDataError(
                f"--span {requested}: data.path {data_path} has no span "
                f"{span_text(span, kind)}; spans found: "
                f"{', '.join(span_text(s, kind) for s in sorted(found))}")
    token, files = found[span]
    _check_spelling(data_path, kind, span, token, files)
    return SpanChoice(pattern=data_path, kind=kind, span=span,
                      path=with_span(data_path, kind, span), files=tuple(files),
                      spans=tuple(sorted(found)))


def find_spans(data_path: str, kind: str) -> Dict[int, Tuple[str, List[str]]]:
    """Span -> (its text in the file names, its files), for every span the pattern matches."""
    glob = _glob(data_path)
    try:
        paths = data_files.data_files(glob)
    except InputDataError:
        raise InputDataError(_nothing_found(data_path, glob)) from None
    regex = _regex(data_path)
    found: Dict[int, Tuple[str, List[str]]] = {}
    for path in paths:
        match = regex.fullmatch(path)
        if match is None:  # e.g. a folder's name matched a file part: TFX would not read it
            continue
        token, span = _span_of(match, kind, path, data_path)
        spelled, files = found.setdefault(span, (token, []))
        if spelled != token:
            raise InputDataError(
                f"data.path {data_path}: span {span} is spelled both {spelled!r} and {token!r} "
                f"({files[0]}, {path}); TFX would read only one of them: rename one")
        files.append(path)
    if not found:
        raise InputDataError(_nothing_found(data_path, glob))
    return found


def _nothing_found(data_path: str, glob: str) -> str:
    folders = [path for path in glob_module.glob(glob) if os.path.isdir(path)]
    if folders:
        return (f"data.path {data_path}: matches folders ({folders[0]}), not files; end it "
                "with '/' to read the files in each span's folder")
    return f"data.path {data_path}: no file matches this span pattern (looked for {glob})"


def with_span(data_path: str, kind: str, span: int) -> str:
    """The pattern with span `span` written in, as TFX writes it for a static range: the number
    (zero-padded to `{SPAN:W}`'s width), or the date's YYYY, MM, DD."""
    if kind == SPAN:
        width = span_pattern.span_width(data_path)
        return SPAN_SPEC.sub(str(span).zfill(width), data_path)
    date = EPOCH + datetime.timedelta(days=span)
    for spec, value, width in zip(DATE_SPECS, (date.year, date.month, date.day), DATE_WIDTHS):
        data_path = data_path.replace(spec, str(value).zfill(width))
    return data_path


def input_base_and_pattern(data_path: str) -> Tuple[str, str]:
    """(TFX's input_base, its file pattern relative to it) for a data path: a folder and '*';
    a file's folder and its name; for a glob or a span pattern, the folder above the first part
    that has a wildcard or a span spec, and the rest ('data/span-{SPAN}/*.csv' ->
    ('data', 'span-{SPAN}/*.csv')). A pattern ending in '/' names folders: every file in them."""
    parts = data_path.split("/")
    first = next((index for index, part in enumerate(parts)
                  if data_files.is_glob(part) or span_pattern.has_spec(part)), None)
    if first is None:
        if data_path.endswith("/") or os.path.isdir(data_path):
            return data_path, "*"
        return os.path.dirname(data_path), os.path.basename(data_path)
    base = "/".join(parts[:first]) or ("/" if data_path.startswith("/") else ".")
    pattern = "/".join(parts[first:])
    return base, (pattern + "*" if pattern.endswith("/") else pattern)


def _glob(data_path: str) -> str:
    """The pattern with each spec a wildcard (a pattern ending in '/': the files in the
    folders)."""
    glob = SPAN_SPEC.sub("*", data_path)
    for spec in DATE_SPECS:
        glob = glob.replace(spec, "*")
    return glob + "*" if glob.endswith("/") else glob


def _regex(data_path: str):
    """TFX's regex for a span pattern: a wildcard stays within a path part, `{SPAN}` is any
    text (or exactly W characters for `{SPAN:W}`), the date specs 4, 2 and 2 characters."""
    pattern = data_path + "*" if data_path.endswith("/") else data_path
    pieces = re.split(r"(\{SPAN(?::[^}]*)?\}|\{YYYY\}|\{MM\}|\{DD\}|\*|\?)", pattern)
    regex = []
    for piece in pieces:
        if piece == "*":
            regex.append(r"[^/]*")
        elif piece == "?":
            regex.append(r"[^/]")
        elif SPAN_SPEC.fullmatch(piece or "-"):
            width = span_pattern.span_width(piece)
            regex.append(f"(?P<span>.{{{width}}})" if width else "(?P<span>.*)")
        elif piece in DATE_SPECS:
            name, width = {"{YYYY}": ("year", 4), "{MM}": ("month", 2), "{DD}": ("day", 2)}[piece]
            regex.append(f"(?P<{name}>.{{{width}}})")
        else:
            regex.append(re.escape(piece))
    return re.compile("".join(regex))


def _span_of(match, kind: str, path: str, data_path: str) -> Tuple[str, int]:
    """(the span's text in `path`, the span number)."""
    if kind == SPAN:
        token = match.group("span")
        if not token.isdigit():
            raise InputDataError(
                f"{path}: matches data.path {data_path}, but {token!r} is not a span number; "
                "TFX's ExampleGen would fail on it: move the file out of the data folder")
        return token, int(token)
    token = "".join(match.group(name) for name in ("year", "month", "day"))
    try:
        date = datetime.date(int(match.group("year")), int(match.group("month")),
                             int(match.group("day")))
    except ValueError:
        raise InputDataError(
            f"{path}: matches data.path {data_path}, but "
            f"{match.group('year')}-{match.group('month')}-{match.group('day')} is not a date; "
            "TFX's ExampleGen would fail on it: move the file out of the data folder") from None
    return token, (date - EPOCH).days


def _check_spelling(data_path: str, kind: str, span: int, token: str,
                    files: List[str]) -> None:
    """TFX finds a pinned span by writing its number into the pattern: files that spell it
    otherwise ('03' for 3 without a width) would not be found."""
    expected = with_span(data_path, kind, span)
    if kind == SPAN and token != str(span).zfill(span_pattern.span_width(data_path)):
        raise InputDataError(
            f"data.path {data_path}: span {span} is spelled {token!r} ({files[0]}), but TFX "
            f"looks for {os.path.basename(expected)!r} when it ingests a chosen span; write "
            f"the width into the pattern ({{SPAN:{len(token)}}}) or rename the files")
