"""The parts of a self-contained HTML page that the report (`mlpipe report --html`) and the model
card (`model_card.html`) share: one style block, one escaper, the page frame and the badges.
Styles are inline and charts inline SVG (core.charts); no script, font, image or stylesheet is
fetched from anywhere, so a page opens offline and can be attached to a ticket."""

import html
from typing import Mapping, NamedTuple, Optional, Sequence, Tuple

from mlpipe.core import captions
from mlpipe.core.formats import count, interval, number, percent, signed

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2rem;
  color:#1d2433;max-width:1100px}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem;
  border-bottom:1px solid #dde;padding-bottom:.3rem}h3{font-size:1rem;margin-top:1.2rem}
table{border-collapse:collapse;margin:.5rem 0}td,th{padding:.25rem .7rem;text-align:right;
  border-bottom:1px solid #eef;vertical-align:top}th{background:#f4f6fa}
td:first-child,th:first-child{text-align:left}td.text,th.text{text-align:left}
.badge{display:inline-block;padding:.2rem .7rem;border-radius:1rem;color:#fff;font-weight:600}
.pass{background:#1e8e3e}.fail{background:#d93025}.none{background:#80868b}
.small{color:#80868b;font-style:italic}.mono{font-family:ui-monospace,monospace;font-size:.85rem}
.charts{display:flex;flex-wrap:wrap;gap:1rem}svg text{font-size:11px;fill:#3c4043}
dl{display:grid;grid-template-columns:max-content auto;gap:.3rem 1rem}
dt{font-weight:600}dd{margin:0}
#monitoring td,#monitoring th{text-align:left}
.better{color:#1e8e3e}.worse{color:#d93025}
"""


def escape(value) -> str:
    """Any value as HTML text, quotes included (it may stand in an attribute)."""
    return html.escape(str(value), quote=True)


def page(title: str, body: Sequence[str]) -> str:
    """A whole page: the title (escaped here), the style block, the body's parts a line each."""
    return "\n".join(["<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
                      f"<title>{escape(title)}</title>",
                      f"<style>{STYLE}</style></head><body>", *body, "</body></html>"])


def badge(text: str, kind: str) -> str:
    """`kind`: pass (green), fail (red) or none (grey)."""
    return f"<span class='badge {kind}'>{escape(text)}</span>"


def decision_badge(blessed: Optional[bool]) -> str:
    """The evaluation's decision: BLESSED, NOT BLESSED, or NO DECISION (no Evaluator verdict)."""
    return {True: badge("BLESSED", "pass"),
            False: badge("NOT BLESSED", "fail")}.get(blessed, badge("NO DECISION", "none"))


def result_badge(passed: Optional[bool], unchecked: str = "not checked") -> str:
    """A check's result: pass, fail, or `unchecked` (grey) when it was not made."""
    return {True: badge("pass", "pass"),
            False: badge("fail", "fail")}.get(passed, badge(unchecked, "none"))


def fairness_section(fairness, table_id: str = "fairness-table") -> str:
    """The FairnessGate's checks: the verdict, then a plain table of every slice (value, overall,
    gap, bound, margin, result; a slice not judged says why), then the refusals. `table_id`: the
    table's id on the page."""
    if not fairness:
        return (f"<p class='small' id='fairness-none'>{captions.NO_FAIRNESS} (no "
                "FairnessGate, or no evaluation.fairness section)</p>")
    if not isinstance(fairness, dict) or "rows" not in fairness:
        return f"<pre class='mono' id='fairness-raw'>{escape(fairness)}</pre>"
    verdict = captions.fairness_verdict(fairness)
    parts = [f"<p id='fairness-verdict'>"
             f"{badge(verdict.upper(), {'PASSED': 'pass', 'FAILED': 'fail'}.get(verdict, 'none'))}"
             f" {escape(captions.fairness_caption(fairness))}</p>",
             f"<table id='{table_id}'><tr><th>slice</th><th>examples</th><th>metric</th>"
             "<th>value</th><th>overall</th><th>gap</th><th>bound</th><th>margin</th>"
             "<th>result</th></tr>"]
    for row in fairness.get("rows", []):
        result = (result_badge(bool(row.get("passed"))) if row.get("judged") else
                  f"<span class='small'>{escape(captions.fairness_result(row))}</span>")
        parts.append(
            f"<tr><td>{escape(captions.fairness_slice(row))}</td>"
            f"<td>{count(row.get('example_count'))}</td><td>{escape(row.get('metric', ''))}</td>"
            f"<td>{number(row.get('value'))}</td><td>{number(row.get('overall'))}</td>"
            f"<td>{signed(row.get('gap'))}</td><td>{escape(row.get('bound', ''))}</td>"
            f"<td>{signed(row.get('margin'))}</td><td>{result}</td></tr>")
    parts.append("</table>")
    failures = fairness.get("failures") or []
    if failures:
        parts.append("<ul id='fairness-failures'>"
                     + "".join(f"<li>{escape(failure)}</li>" for failure in failures) + "</ul>")
    return "".join(parts)


def thresholds_table(checks: Sequence[Mapping]) -> str:
    """Every bound TFMA applied (core.thresholds.ThresholdCheck's fields) with its value,
    result and margin."""
    if not checks:
        return "<p class='small' id='thresholds'>no thresholds configured</p>"
    rows = ["<table id='thresholds'><tr><th>metric</th><th>kind</th><th>value</th><th>bound</th>"
            "<th>result</th><th>margin</th></tr>"]
    for check in checks:
        rows.append(f"<tr><td>{escape(check.get('metric', ''))}</td>"
                    f"<td>{captions.threshold_kind(check.get('kind'))}</td>"
                    f"<td>{number(check.get('value'))}</td>"
                    f"<td>{escape(check.get('comparison', ''))} {number(check.get('bound'))}</td>"
                    f"<td>{result_badge(check.get('passed'))}</td>"
                    f"<td>{signed(check.get('margin'))}</td></tr>")
    return "".join(rows) + "</table>"


def per_class_table(rows: Sequence[Tuple[str, Optional[float], Optional[float]]]) -> str:
    """multiclass: (class name, precision, recall) per class, one-vs-rest."""
    if not rows:
        return "<p class='small' id='per-class'>no per-class metrics recorded</p>"
    return ("<table id='per-class'><tr><th>class</th><th>precision</th><th>recall</th></tr>"
            + "".join(f"<tr><td>{escape(name)}</td><td>{number(precision)}</td>"
                      f"<td>{number(recall)}</td></tr>" for name, precision, recall in rows)
            + "</table>")


class FeatureView(NamedTuple):
    """One feature as the data tables show it: TFDV's type, missing rate and one-line summary;
    the report adds its histogram (an SVG sparkline) and its anomaly."""
    name: str
    type: str
    missing_rate: Optional[float]
    summary: str
    sparkline: Optional[str] = None
    anomaly: Optional[str] = None


def features_table(rows: Sequence[FeatureView], table_id: str, charts: bool = False,
                   anomalies: bool = False) -> str:
    """A row per feature; `charts` adds the sparkline column, `anomalies` the anomaly column."""
    head = ("<tr><th>feature</th><th>type</th><th>missing</th><th class='text'>distribution</th>"
            + ("<th></th>" if charts else "") + ("<th>anomaly</th>" if anomalies else "")
            + "</tr>")
    body = []
    for row in rows:
        cells = (f"<td>{escape(row.name)}</td><td>{escape(row.type)}</td>"
                 f"<td>{percent(row.missing_rate)}</td>"
                 f"<td class='text mono'>{escape(row.summary)}</td>")
        if charts:
            cells += f"<td>{row.sparkline or ''}</td>"
        if anomalies:
            cells += ("<td>" + (f"<span class='badge fail'>{escape(row.anomaly)}</span>"
                                if row.anomaly else "none") + "</td>")
        body.append(f"<tr>{cells}</tr>")
    return f"<table class='dataset' id='{escape(table_id)}'>{head}{''.join(body)}</table>"


class SliceView(NamedTuple):
    """One slice as the slice table and chart (core.charts.slice_chart) show it: its label, the
    main metric's value and 95% interval (None where there is none), its examples, whether it is
    too small to trust, and the companion metric's value (core.captions.slice_companion)."""
    label: str
    value: Optional[float]
    interval: Optional[Tuple[float, float]]
    examples: Optional[float]
    too_small: bool
    companion: Optional[float] = None


def slices_table(main: str, companion: str, rows: Sequence[SliceView],
                 intervals: bool = False) -> str:
    """A row per slice in the caller's order; `intervals`: a column for the 95% interval."""
    if not rows:
        return "<p class='small' id='slices'>no slices configured</p>"
    parts = [f"<table id='slices'><tr><th>slice</th><th>examples</th><th>{escape(main)}</th>"
             + ("<th>95% interval</th>" if intervals else "")
             + f"<th>{escape(companion)}</th><th>note</th></tr>"]
    for row in rows:
        note = "<span class='small'>too small to trust</span>" if row.too_small else ""
        parts.append(f"<tr><td>{escape(row.label)}</td><td>{count(row.examples)}</td>"
                     f"<td>{number(row.value)}</td>"
                     + (f"<td>{escape(interval(row.interval))}</td>" if intervals else "")
                     + f"<td>{number(row.companion)}</td><td>{note}</td></tr>")
    return "".join(parts) + "</table>"
