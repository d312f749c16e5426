"""The fairness part of a report: the FairnessGate's `fairness.json` of a run, as text and HTML.

Every number is the gate's own (see mlpipe/components/fairness_gate): each slice of each
sensitive feature with its rate, the overall rate, the gap, the bound, the margin, and whether it
was judged (a slice under `min_slice_size` examples, or whose rate is undefined, is shown and not
judged). A run without a fairness section has no gate and shows none of this.
"""

from typing import List, Optional, Tuple

from mlpipe.core import lineage
from mlpipe.core.formats import count, number, signed
from mlpipe.core.html import escape as _e
from mlpipe.errors import BadInputError

# Mirrors mlpipe.components.fairness_gate (NODE_ID, output keys): the loader reads ML Metadata
# without importing TFX's component modules.
NODE_ID = "FairnessGate"
BLESSING_KEY = "blessing"
FAIRNESS_KEY = "fairness"


def gate_outputs(store, nodes) -> Tuple[Optional[object], Optional[str]]:
    """(the gate's ModelBlessing, the URI of its fairness artifact) in one run, or (None, None)
    when the run has no FairnessGate execution."""
    execution = nodes.get(NODE_ID)
    if execution is None:
        return None, None
    outputs = lineage.outputs_of(store, execution.id)
    fairness = outputs.get(FAIRNESS_KEY)
    return outputs.get(BLESSING_KEY), fairness.uri if fairness else None


def load_fairness(uri: Optional[str]) -> dict:
    """The gate's fairness.json, or {} for a run without a gate."""
    if not uri:
        return {}
    from mlpipe.components.fairness_gate import read_fairness  # imports TFX: only when needed
    try:
        return read_fairness(uri)
    except (OSError, ValueError) as error:
        raise BadInputError(f"{uri}: cannot read the fairness checks "
                            f"({type(error).__name__}: {error})") from error


def verdict(fairness: dict) -> str:
    if fairness.get("passed"):
        return "PASSED"
    return "FAILED" if fairness.get("failures") else "no decision"


def caption(fairness: dict) -> str:
    return (f"{fairness.get('judged_slices', 0)} slice(s) judged, "
            f"{fairness.get('unjudged_slices', 0)} shown and not judged (under "
            f"{fairness.get('min_slice_size', '?')} examples, or rate undefined); "
            f"gap = slice value - overall value")


def result_text(row: dict) -> str:
    if not row.get("judged"):
        return f"not judged: {row.get('reason') or '?'}"
    return "pass" if row.get("passed") else "FAIL"


def text_lines(fairness: dict) -> List[str]:
    """The fairness table for the terminal, or one line saying the run has no fairness checks."""
    if not fairness:
        return ["Fairness: no fairness section in this run's config"]
    lines = [f"Fairness: {verdict(fairness)} ({caption(fairness)})",
             f"  {'slice':<28}{'examples':>9}  {'metric':<12}{'value':>8}{'overall':>9}"
             f"{'gap':>9}  {'bound':<24}{'margin':>9}  result"]
    for row in fairness.get("rows", []):
        lines.append(
            f"  {row['feature'] + ' = ' + row['slice']:<28}{count(row.get('example_count')):>9}"
            f"  {row['metric']:<12}{number(row.get('value')):>8}{number(row.get('overall')):>9}"
            f"{signed(row.get('gap')):>9}  {row.get('bound', ''):<24}"
            f"{signed(row.get('margin')):>9}  {result_text(row)}")
    lines += [f"  refused: {failure}" for failure in fairness.get("failures", [])]
    return lines


def html_section(fairness: dict) -> str:
    """A plain table (no script, no link) of every slice, then the refusals."""
    if not fairness:
        return "<p class='small'>no fairness section in this run's config</p>"
    badge = {"PASSED": "pass", "FAILED": "fail"}.get(verdict(fairness), "none")
    parts = [f"<p id='fairness-verdict'><span class='badge {badge}'>{verdict(fairness)}</span> "
             f"{_e(caption(fairness))}</p>",
             "<table id='fairness'><tr><th>slice</th><th>examples</th><th>metric</th>"
             "<th>value</th><th>overall</th><th>gap</th><th>bound</th><th>margin</th>"
             "<th>result</th></tr>"]
    for row in fairness.get("rows", []):
        if not row.get("judged"):
            result = f"<span class='small'>{_e(result_text(row))}</span>"
        elif row.get("passed"):
            result = "<span class='badge pass'>pass</span>"
        else:
            result = "<span class='badge fail'>fail</span>"
        parts.append(
            f"<tr><td>{_e(row['feature'])} = {_e(row['slice'])}</td>"
            f"<td>{count(row.get('example_count'))}</td><td>{_e(row['metric'])}</td>"
            f"<td>{number(row.get('value'))}</td><td>{number(row.get('overall'))}</td>"
            f"<td>{signed(row.get('gap'))}</td><td>{_e(row.get('bound', ''))}</td>"
            f"<td>{signed(row.get('margin'))}</td><td>{result}</td></tr>")
    parts.append("</table>")
    failures = fairness.get("failures", [])
    if failures:
        parts.append("<ul id='fairness-failures'>"
                     + "".join(f"<li>{_e(failure)}</li>" for failure in failures) + "</ul>")
    return "".join(parts)
