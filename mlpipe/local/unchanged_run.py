"""An unchanged re-run, recognised without TFX.

Through TFX's LocalDagRunner a re-run whose config, code and data have not changed executes
nothing: TFX finds every component's outputs in its cache. It still costs about 10 s, because
TFX decides what is cached only after resolving each node's inputs against ML Metadata, and
importing its runner imports TensorFlow, Beam and every TFX component first (9.9 s of an 11.5 s
re-run of the taxi problem under cProfile; the work itself took 0.5 s).

So after each completed run the local runner writes down, in the run home, what TFX's cache
decision depends on and the run's outcome:
- the run key: the compiled pipeline's key (config, runner settings, package code, TFX version)
  and, per data file, its content hash, size and modification time (TFX's own input fingerprint
  is made of sizes and modification times: a touched file makes TFX ingest it again, so it
  makes a run here too);
- the digest of the metadata store as the run left it: any later write (another run, a run that
  failed half-way, a newer blessed model the baseline resolver would pick) changes it;
- the URIs of the run's outputs: TFX's cache also checks that they still exist.
A run whose key and store digest match, and whose outputs all exist, would be served entirely
from TFX's cache; it is answered from that record instead, and touches nothing. `mlpipe run
--recheck` always goes through TFX.
"""

import dataclasses
import hashlib
import json
import os
import pathlib
from typing import Any, Dict, Iterable, List, Optional, Sequence

from mlpipe.core.run_record import DataFile, file_sha256

RECORD_FORMAT = 1
# SQLite's side files: present while a write is under way (or was interrupted).
_STORE_SIDE_FILES = ("-journal", "-wal")


@dataclasses.dataclass(frozen=True)
class PreviousRun:
    """The completed run an unchanged re-run stands for."""

    run_id: Optional[str]
    components: List[Dict[str, Any]]  # {"name", "state", "execution_id"} in run order
    outcome: Dict[str, Any]


def run_key(pipeline_key: str, data: Sequence[DataFile]) -> str:
    """Everything outside the metadata store that TFX's cache decision depends on."""
    files = []
    for item in data:
        stat = os.stat(item.path)
        files.append([item.path, item.sha256, stat.st_size, stat.st_mtime_ns])
    text = json.dumps({"pipeline": pipeline_key, "data": sorted(files)}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def remember(record_path: pathlib.Path, metadata_path: pathlib.Path, key: str,
             previous: PreviousRun, outputs: Iterable[str]) -> None:
    """Writes the record of a completed run (aside first, then renamed into place)."""
    record = {"format": RECORD_FORMAT, "key": key, "store": store_digest(metadata_path),
              "run_id": previous.run_id, "components": previous.components,
              "outcome": previous.outcome, "outputs": sorted(set(outputs))}
    partial = record_path.with_name(f".{record_path.name}.{os.getpid()}.partial")
    partial.write_text(json.dumps(record, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(partial, record_path)


def find_unchanged(record_path: pathlib.Path, metadata_path: pathlib.Path,
                   key: str) -> Optional[PreviousRun]:
    """The previous run, if nothing TFX's cache looks at has changed since it; else None."""
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("format") != RECORD_FORMAT \
            or record.get("key") != key:
        return None
    digest = store_digest(metadata_path)
    if digest is None or record.get("store") != digest:
        return None
    if not all(os.path.exists(uri) for uri in record.get("outputs", [])):
        return None
    return PreviousRun(run_id=record.get("run_id"), components=record["components"],
                       outcome=record["outcome"])


def store_digest(metadata_path: pathlib.Path) -> Optional[str]:
    """sha256 of the SQLite metadata store; None when there is none, or a write is under way."""
    if any(pathlib.Path(f"{metadata_path}{suffix}").exists() for suffix in _STORE_SIDE_FILES):
        return None
    try:
        return file_sha256(str(metadata_path))
    except OSError:
        return None
