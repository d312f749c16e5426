"""`mlpipe runs` and `mlpipe lineage` as text for a terminal (the --json forms are the data
itself)."""

import datetime
from typing import List, Optional

from mlpipe.core.contract import EVALUATOR_ID
from mlpipe.governance.runs import RunSummary, drift_text, short_digest

_LABEL = 17  # width of a lineage line's label


def runs_table(summaries: List[RunSummary], metric_names: List[str], pipeline: str) -> str:
    if not summaries:
        return f"{pipeline}: no runs recorded yet"
    # Data by span: the span each run ingested, the spans it trained on, the drift gate.
    by_span = any(s.span is not None for s in summaries)
    header = ["RUN", "STARTED", "TIME", "OUTCOME", *metric_names, "PUSHED", "DATA", "CODE",
              *(["SPAN", "TRAINED ON", "DRIFT GATE"] if by_span else [])]
    rows = [[s.run_id, _local_time(s.started), _seconds(s.seconds), s.outcome,
             *[_metric(s.metrics.get(name)) for name in metric_names],
             s.pushed_version or "-", short_digest(s.data_fingerprint) or "-",
             s.code_version or "-",
             *([_span(s.span), ",".join(map(str, s.trained_spans)) or "-", drift_text(s.drift)]
               if by_span else [])] for s in summaries]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    numeric = {2, *range(4, 4 + len(metric_names))}
    lines = ["  ".join(cell.rjust(width) if i in numeric else cell.ljust(width)
                       for i, (cell, width) in enumerate(zip(row, widths))).rstrip()
             for row in [header, *rows]]
    pushed = sum(1 for s in summaries if s.pushed_by_this_run)
    return "\n".join([f"{pipeline}: {len(summaries)} run{'s' if len(summaries) != 1 else ''}, "
                      f"{pushed} pushed a new version (newest first; DATA: digest of TFX's input "
                      f"fingerprint, CODE: trainer code version)", "", *lines])


def run_lineage(traced: dict) -> str:
    pushed = traced["pushed"]
    title = (f"Lineage of version {pushed['version']} (run {traced['run_id']})" if pushed
             else f"Lineage of run {traced['run_id']}")
    lines = [f"{title}: {traced['outcome']}", ""]
    add = _adder(lines)
    ran_by = traced["ran_by"]
    if ran_by:
        add("Ran by", f"{ran_by['user']} on {ran_by['host']} (pid {ran_by['pid']}, Python "
                      f"{ran_by['python']})")
        add("When", f"{ran_by['started']} -> {ran_by['finished']} ({ran_by['seconds']:.1f} s; "
                    f"components {_seconds(traced['seconds'])})")
    else:
        add("Ran by", _NOT_RECORDED)
        add("When", f"{traced['started']} (from ML Metadata; components "
                    f"{_seconds(traced['seconds'])})")
    if pushed:
        add("Pushed to", pushed["destination"] + ("" if pushed["by_this_run"]
                                                  else " (pushed by an earlier run; cached)"))
    data = traced["data"]
    if data.get("span") is not None:
        trained = ", ".join(map(str, data["trained_on_spans"])) or "-"
        add("Span", f"{data['span']} (the model trained on span"
                    f"{'s' if len(data['trained_on_spans']) != 1 else ''} {trained})")
        add("Drift gate", _drift_line(data.get("drift_gate")))
    if data["files"]:
        for item in data["files"]:
            add("Data", item["path"])
            add("", f"  sha256 {item['sha256']}, {item['rows']:,} rows, {item['bytes']:,} bytes")
    else:
        add("Data", _NOT_RECORDED)
    add("", f"  TFX fingerprint: {data['fingerprint'] or '-'}")
    add("", f"  examples: {data['examples'] or '-'}")
    schema = traced["schema"]
    add("Schema", f"{schema['path'] or '-'}")
    add("", f"  sha256 {schema['sha256'] or '-'}")
    add("", f"  artifact: {schema['artifact'] or '-'}")
    config = traced["config"]
    if config:
        add("Config", f"{config['file'] or '(built in code, no file)'}")
        add("", f"  sha256 {config['sha256'] or '-'}")
        changed = config.get("differs_from_file")
        if changed:
            add("", f"  run with changes made in code to: {', '.join(changed)} (effective "
                    f"config sha256 {config['effective_sha256']})")
    else:
        add("Config", _NOT_RECORDED)
    add("Code version", f"{traced['code_version'] or '-'}"
                        + (f" (package {traced['package_fingerprint']})"
                           if traced["package_fingerprint"] else ""))
    packages = traced["packages"] or {}
    add("Packages", ", ".join(f"{name} {version}" for name, version in packages.items()) or "-")
    train = traced["hyperparameters"]
    add("Hyperparameters", ", ".join(f"{key} {value}" for key, value in train.items())
        if train else "- (the run did not reach the Trainer)")
    add("Statistics", traced["training_statistics"] or "-")
    add("Model", traced["model"] or "-")
    evaluation = traced["evaluation"]
    if evaluation:
        add("Evaluation", evaluation["uri"] or "-")
        if evaluation["metrics"]:
            add("", "  " + ", ".join(f"{name} {value:.4f}"
                                     for name, value in evaluation["metrics"].items()))
        verdict = {True: "BLESSED", False: "NOT BLESSED", None: "no decision"}[
            evaluation["blessed"]]
        by_node = evaluation["blessings"]
        if set(by_node) - {EVALUATOR_ID}:
            verdict += " (" + ", ".join(f"{node}: {'yes' if blessed else 'no'}"
                                        for node, blessed in by_node.items()) + ")"
        add("Blessing", f"{verdict}; {evaluation['blessing'] or '-'}")
        baseline = evaluation["baseline"]
        add("Baseline", "none: the first blessed model, judged on the KPI alone" if not baseline
            else f"{baseline['model']} (run {baseline['run_id'] or '?'}, version "
                 f"{baseline['version'] or 'not pushed'})")
    else:
        add("Evaluation", "- (the run did not reach the Evaluator)")
    add("Log", traced["log_file"] or "-")
    add("Record", traced["record"] or "-")
    if config and config.get("text") is not None:
        lines += ["", f"Config file as it was ({config['file']}):"]
        lines += [f"  | {line}" for line in config["text"].splitlines()]
    return "\n".join(lines)


def data_lineage(found: dict) -> str:
    runs = found["runs"]
    digests = ", ".join(digest[:16] for digest in found["sha256"])
    if not runs:
        return (f"{found['path']} (sha256 {digests}...): no recorded run read this content "
                f"(runs made before provenance records cannot be matched)")
    lines = [f"{found['path']} (sha256 {digests}...) was read by {len(runs)} run"
             f"{'s' if len(runs) != 1 else ''}",
             f"Versions trained on it: {', '.join(found['versions']) or 'none pushed'}", ""]
    for run in runs:
        recorded = ", ".join(sorted({item["recorded_path"] for item in run["files"]}))
        lines.append(f"  {run['run_id']}  {run['outcome']:<24} "
                     f"{run['pushed_version'] or '-':<12} as {recorded}")
    return "\n".join(lines)


_NOT_RECORDED = "not recorded (no provenance record: a run made before mlpipe wrote them)"


def _drift_line(drift: Optional[dict]) -> str:
    if drift is None:
        return "- (not in this run's graph)"
    text = drift_text(drift)
    if drift["passed"] and drift["accepted"]:
        text += " (drift accepted for this run: --accept-drift, recorded on the DriftGate)"
    return text


def _span(span: Optional[int]) -> str:
    return "-" if span is None else str(span)


def _adder(lines: List[str]):
    def add(label: str, value: str) -> None:
        lines.append(f"{(label + ':') if label else '':<{_LABEL}}{value}")
    return add


def _local_time(seconds: float) -> str:
    return datetime.datetime.fromtimestamp(seconds).strftime("%Y-%m-%d %H:%M:%S")


def _seconds(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.1f}s"


def _metric(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.4f}"
