"""What a data path may say about spans: TFX's span specs, checked when the config loads.

TFX's ExampleGen reads a path whose file or folder part carries `{SPAN}` (optionally with a
width, `{SPAN:2}` for zero-padded numbers) or the date form `{YYYY}`, `{MM}`, `{DD}` (each once;
the span is then the number of days since 1970-01-01) as data that arrives in spans: a run
ingests one span. These are TFX's own rules (tfx.components.example_gen.utils), restated here so
that a bad pattern is a config error before anything runs; `mlpipe.pipeline.span_files` finds
the spans on disk with the same rules.
"""

import re
from typing import Optional

SPAN = "span"
DATE = "date"
SPAN_SPEC = re.compile(r"\{SPAN(?::(?P<width>[^}]*))?\}")
DATE_SPECS = ("{YYYY}", "{MM}", "{DD}")
DATE_WIDTHS = (4, 2, 2)
_VERSION_SPEC = re.compile(r"\{VERSION(?::[^}]*)?\}")
# A spec spelled in another case ({span}, {Yyyy}): TFX would read it as text.
_MISSPELT = re.compile(r"\{(span|yyyy|mm|dd|version)(:[^}]*)?\}", re.IGNORECASE)


def span_kind(path: str) -> Optional[str]:
    """SPAN, DATE or None (no span spec) for a data path; ValueError saying what is wrong when
    TFX would refuse the pattern (or mlpipe does not support it)."""
    spans = SPAN_SPEC.findall(path)
    dates = [spec for spec in DATE_SPECS if spec in path]
    if _VERSION_SPEC.search(path):
        raise ValueError(f"{path}: {{VERSION}} is not supported; a span is replaced by "
                         "writing its files again (an unchanged span re-runs from the cache)")
    for found in _MISSPELT.finditer(path):
        if found.group(0) not in DATE_SPECS and not SPAN_SPEC.fullmatch(found.group(0)):
            raise ValueError(f"{path}: {found.group(0)} is not a span spec; TFX spells them "
                             "{SPAN} (or {SPAN:WIDTH}) and {YYYY}, {MM}, {DD}")
    if spans and dates:
        raise ValueError(f"{path}: give {{SPAN}} or the date specs {{YYYY}}{{MM}}{{DD}}, "
                         "not both")
    if len(spans) > 1:
        raise ValueError(f"{path}: {{SPAN}} may appear once")
    if spans:
        width = spans[0]
        if width and not (width.isdigit() and int(width) > 0):
            raise ValueError(f"{path}: the width in {{SPAN:{width}}} must be a positive "
                             "number, e.g. {SPAN:2} for 01, 02, ...")
        return SPAN
    if dates:
        if any(path.count(spec) != 1 for spec in DATE_SPECS):
            raise ValueError(f"{path}: a date span needs each of {{YYYY}}, {{MM}} and {{DD}} "
                             "exactly once")
        return DATE
    return None


def span_width(path: str) -> int:
    """The width of `{SPAN:W}` (0: none, the number as it is)."""
    found = SPAN_SPEC.search(path)
    return int(found.group("width")) if found and found.group("width") else 0


def has_spec(text: str) -> bool:
    """Whether a path part carries a span spec (TFX reads its files as a span)."""
    return bool(SPAN_SPEC.search(text)) or any(spec in text for spec in DATE_SPECS)
