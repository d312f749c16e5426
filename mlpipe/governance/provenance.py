"""The provenance of a pushed version or a run, and the reverse: the runs a data file fed.

ML Metadata gives the artifacts (examples, schema, statistics, model, evaluation, blessing, the
baseline it was compared with, the push) and what TFX passed to the Trainer (hyperparameters,
code version); the run's own provenance record (`mlpipe.core.run_record`) gives the rest: who
ran it, where and when, the config file as it was, each data file's content hash and row count,
package versions. A data file is matched by content hash, so a renamed copy matches too.

Paths ML Metadata recorded are shown where they are now (`RunHome.locate`), so a run home copied
or moved to another folder reads its own files.
"""

import os
import pathlib
from typing import Dict, List, Optional

from mlpipe.core import run_record
from mlpipe.core.artifacts import SCHEMA_FILE
from mlpipe.core.run_home import RunHome
from mlpipe.errors import BadInputError
from mlpipe.governance import runs as run_index
from mlpipe.governance.runs import (EVALUATOR, EXAMPLE_GEN, PUSHER, SCHEMA_GEN, STATISTICS_GEN,
                                    TRAINER, RunSummary)

# Where the config's `train:` section sits in the custom_config passed to the Trainer.
TRAIN_SECTION = ("problem", "train")


class LineageError(BadInputError):
    """No run or version matches, or there is nothing to trace (exit 2)."""


def select_run(summaries: List[RunSummary], selector: str, home: RunHome) -> RunSummary:
    """A pushed version (the run that pushed it), a run id, or a unique prefix of one."""
    by_version = [s for s in summaries if s.pushed_version == selector]
    if by_version:
        # A cached re-run re-reports an earlier push: the run whose Pusher pushed it, else the
        # oldest run that reports it (summaries are newest first).
        return next((s for s in by_version if s.pushed_by_this_run), by_version[-1])
    exact = [s for s in summaries if s.run_id == selector]
    if exact:
        return exact[0]
    matching = [s for s in summaries if s.run_id.startswith(selector)]
    if len(matching) == 1:
        return matching[0]
    versions = sorted({s.pushed_version for s in summaries if s.pushed_version})
    latest = ", ".join(s.run_id for s in summaries[:5]) or "none"
    raise LineageError(f"'{selector}' names {'no' if not matching else 'more than one'} run or "
                       f"pushed model version in {home.root} (latest runs: {latest}; versions: "
                       f"{', '.join(versions) or 'none'})")


def run_lineage(summary: RunSummary, summaries: List[RunSummary], home: RunHome) -> dict:
    """Everything known of how one run came to be and what it produced."""
    record = run_record.read_record(home.provenance_dir, summary.run_id)
    nodes, artifacts = summary.executions, summary.artifacts
    trainer_config = run_index.custom_config(nodes.get(TRAINER)) or {}
    return {
        "pipeline": home.root.name,
        "run_id": summary.run_id,
        "outcome": summary.outcome,
        "started": run_index.iso_time(summary.started),
        "seconds": summary.seconds,
        "ran_by": _ran_by(record),
        "pushed": _pushed(summary, home),
        "data": {
            "files": record["data"] if record else None,
            "fingerprint": summary.data_fingerprint,
            "examples": _uri(home, artifacts.get((EXAMPLE_GEN, "examples"))),
            # Data by span (None otherwise): the span, the window, the drift gate's verdict.
            "span": summary.span,
            "trained_on_spans": summary.trained_spans,
            "drift_gate": summary.drift,
        },
        "schema": _schema(record, artifacts, home),
        "config": _config(record),
        "code_version": summary.code_version or (record or {}).get("code_version"),
        "package_fingerprint": (record or {}).get("package_fingerprint"),
        "packages": (record or {}).get("packages") or _tfx_version(artifacts),
        "hyperparameters": _section(trainer_config, TRAIN_SECTION),
        "training_statistics": _uri(home, artifacts.get((STATISTICS_GEN, "statistics"))),
        "model": _uri(home, artifacts.get((TRAINER, "model"))),
        "evaluation": _evaluation(summary, summaries, home),
        "log_file": _located(home, (record or {}).get("log_file")),
        "record": str(home.provenance_dir / (run_record.record_name(summary.run_id)
                                             + run_record.RECORD_SUFFIX)) if record else None,
    }


def data_lineage(path: str, summaries: List[RunSummary], home: RunHome) -> dict:
    """The runs whose recorded data includes a file with the content of `path` (a file, or each
    file of a folder), newest first, and the versions they pushed."""
    files = _files_under(path)
    hashes = {run_record.file_sha256(file): file for file in files}
    by_id = {s.run_id: s for s in summaries}
    found = []
    for record in run_record.read_records(home.provenance_dir):
        used = [item for item in record.get("data") or [] if item.get("sha256") in hashes]
        if not used:
            continue
        summary = by_id.get(record.get("run_id"))
        found.append({
            "run_id": record.get("run_id"),
            "started": record.get("started"),
            "outcome": summary.outcome if summary else "not in the metadata store",
            "pushed_version": summary.pushed_version if summary else None,
            "files": [{"recorded_path": item["path"], "sha256": item["sha256"],
                       "rows": item.get("rows"), "matches": hashes[item["sha256"]]}
                      for item in used],
        })
    found.sort(key=lambda run: run["started"] or "", reverse=True)
    versions = []
    for run in found:
        if run["pushed_version"] and run["pushed_version"] not in versions:
            versions.append(run["pushed_version"])
    return {"path": str(path), "sha256": sorted(hashes), "versions": versions, "runs": found}


def _files_under(path: str) -> List[str]:
    if os.path.isfile(path):
        return [path]
    if os.path.isdir(path):
        files = sorted(str(p) for p in pathlib.Path(path).iterdir() if p.is_file())
        if files:
            return files
        raise LineageError(f"--data {path}: the folder holds no files")
    raise LineageError(f"--data {path}: no such file or folder")


def _ran_by(record: Optional[dict]) -> Optional[dict]:
    if not record:
        return None
    return {key: record.get(key) for key in ("user", "host", "pid", "python", "started",
                                             "finished", "seconds", "run_home")}


def _pushed(summary: RunSummary, home: RunHome) -> Optional[dict]:
    pushed = summary.artifacts.get((PUSHER, "pushed_model"))
    if not summary.pushed_version or pushed is None:
        return None
    destination = pushed.custom_properties["pushed_destination"].string_value
    return {"version": summary.pushed_version, "destination": _located(home, destination),
            "by_this_run": summary.pushed_by_this_run}


def _schema(record, artifacts, home: RunHome) -> dict:
    """The curated schema the run started with (its record: path and sha256) and the run's Schema
    artifact; without a record, the sha256 of the artifact's schema.pbtxt (the same bytes: the
    schema step writes the text it was given, mlpipe.components.embedded_schema)."""
    curated = (record or {}).get("schema") or {}
    artifact = _uri(home, artifacts.get((SCHEMA_GEN, "schema")))
    sha256 = curated.get("sha256")
    written = os.path.join(artifact, SCHEMA_FILE) if artifact else None
    if sha256 is None and written and os.path.isfile(written):
        sha256 = run_record.file_sha256(written)
    return {"path": curated.get("path"), "sha256": sha256, "artifact": artifact}


def _config(record: Optional[dict]) -> Optional[dict]:
    if not record:
        return None
    facts = record.get("config") or {}
    return {key: facts.get(key) for key in ("file", "sha256", "text", "effective_sha256",
                                            "differs_from_file", "effective")}


def _evaluation(summary: RunSummary, summaries: List[RunSummary], home: RunHome) -> Optional[dict]:
    evaluation = summary.artifacts.get((EVALUATOR, "evaluation"))
    blessing = summary.artifacts.get((EVALUATOR, run_index.BLESSING))
    blessings = run_index.blessings_of(summary.artifacts)
    if evaluation is None and not blessings:
        return None
    return {
        "uri": _uri(home, evaluation),
        "metrics": summary.metrics,
        # Blessed when every blessing says so (a gate after the Evaluator may withhold it).
        "blessed": all(blessings.values()) if blessings else None,
        "blessings": blessings,
        "blessing": _uri(home, blessing),
        "baseline": _baseline(summary.artifacts.get((EVALUATOR, "baseline_model")), summaries,
                              home),
    }


def _baseline(model, summaries: List[RunSummary], home: RunHome) -> Optional[dict]:
    """The blessed model the candidate was compared with: where it is, the run that trained it
    and the version it was pushed as."""
    if model is None:
        return None
    same = [s for s in summaries
            if (TRAINER, "model") in s.artifacts and s.artifacts[(TRAINER, "model")].id == model.id]
    trained_by = next((s for s in same if _executed(s, TRAINER)), same[-1] if same else None)
    version = next((s.pushed_version for s in same if s.pushed_version), None)
    return {"model": _located(home, model.uri), "run_id": trained_by.run_id if trained_by else None,
            "version": version}


def _executed(summary: RunSummary, node: str) -> bool:
    execution = summary.executions.get(node)
    return execution is not None and execution.last_known_state == execution.COMPLETE


def _section(config: Dict, keys) -> Optional[dict]:
    for key in keys:
        if not isinstance(config, dict) or key not in config:
            return None
        config = config[key]
    return config


def _tfx_version(artifacts) -> Optional[Dict[str, str]]:
    """Without a record: the TFX version ML Metadata stamps on each artifact."""
    for artifact in artifacts.values():
        if "tfx_version" in artifact.custom_properties:
            return {"tfx": artifact.custom_properties["tfx_version"].string_value}
    return None


def _uri(home: RunHome, artifact) -> Optional[str]:
    return _located(home, artifact.uri) if artifact is not None else None


def _located(home: RunHome, recorded: Optional[str]) -> Optional[str]:
    if not recorded or "://" in recorded:  # a remote URI (gs://...) is where it was
        return recorded
    return str(home.locate(recorded))
