"""The provenance record a run writes about itself: what ML Metadata does not hold.

ML Metadata knows every artifact and execution of a run, but not who ran it or on which machine,
the config file as it was, the content of the data files (TFX's input fingerprint is made of
sizes and modification times, not content), or the versions of the packages that ran. The local
runner writes one record per run, whatever its outcome, into `<run home>/provenance/`, named by
the run id (the name of the run's pipeline_run context); `mlpipe runs` and `mlpipe lineage` read
them. What the run starts with (config file, schema, code) is taken as it starts (`RunStart`), so
a file edited while the run goes on does not change its record. A record is written aside, then
renamed: a reader never sees half a record.
"""

import dataclasses
import datetime
import getpass
import hashlib
import importlib.metadata
import json
import os
import pathlib
import platform
import socket
import time
from typing import Any, Dict, List, Optional

from mlpipe.config import ProblemConfig, load_config
from mlpipe.core.code_version import package_fingerprint, trainer_code_version
from mlpipe.errors import MlpipeError

RECORD_FORMAT = 1
RECORD_SUFFIX = ".json"
# The distributions whose versions shape a model; recorded with every run.
PACKAGES = ("tfx", "tensorflow", "tensorflow-model-analysis", "tensorflow-transform",
            "apache-beam", "mlpipe")
_CHUNK = 1 << 20


@dataclasses.dataclass(frozen=True)
class DataFile:
    """One input data file as the run read it."""

    path: str
    sha256: str
    rows: int   # data rows, the header and blank lines not counted
    bytes: int


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        for chunk in iter(lambda: source.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclasses.dataclass(frozen=True)
class RunStart:
    """What a run starts with, taken when it starts."""

    time: float  # Unix time
    pipeline: str
    config: Dict[str, Any]
    schema: Dict[str, Any]
    code_version: str
    package_fingerprint: str

    @classmethod
    def capture(cls, config: ProblemConfig) -> "RunStart":
        return cls(time=time.time(), pipeline=config.name, config=_config_facts(config),
                   schema={"path": config.schema_path,
                           "sha256": _sha256_or_none(config.schema_path)},
                   code_version=trainer_code_version(), package_fingerprint=package_fingerprint())


def new_record(start: RunStart, *, run_id: Optional[str], data: List[DataFile],
               run_home: pathlib.Path, log_file: pathlib.Path, finished: float,
               failed_component: Optional[str] = None,
               error: Optional[BaseException] = None) -> Dict[str, Any]:
    """The record of one run; `finished` is a Unix time."""
    return {
        "format": RECORD_FORMAT,
        "run_id": run_id,
        "pipeline": start.pipeline,
        "started": _iso(start.time),
        "finished": _iso(finished),
        "seconds": round(finished - start.time, 3),
        "user": _user(),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "python": platform.python_version(),
        "run_home": str(run_home),
        "log_file": str(log_file),
        "config": start.config,
        "data": [dataclasses.asdict(item) for item in data],
        "schema": start.schema,
        "code_version": start.code_version,
        "package_fingerprint": start.package_fingerprint,
        "packages": package_versions(),
        "failed_component": failed_component,
        "error": _first_line(error) if error is not None else None,
    }


def write_record(folder: pathlib.Path, record: Dict[str, Any]) -> pathlib.Path:
    """Writes `record` as `<folder>/<run id>.json`, aside first, then renamed into place."""
    folder.mkdir(parents=True, exist_ok=True)
    name = record["run_id"] or f"unregistered-{record['started']}-{record['pid']}"
    path = folder / (record_name(name) + RECORD_SUFFIX)
    partial = folder / f".{path.name}.{os.getpid()}.partial"
    partial.write_text(json.dumps(record, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(partial, path)
    return path


def read_record(folder: pathlib.Path, run_id: str) -> Optional[Dict[str, Any]]:
    """The record of one run, or None when the run wrote none (an older mlpipe, a killed run)."""
    path = folder / (record_name(run_id) + RECORD_SUFFIX)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def read_records(folder: pathlib.Path) -> List[Dict[str, Any]]:
    """Every complete record in `folder` (files being written are skipped), in name order."""
    if not folder.is_dir():
        return []
    records = []
    for path in sorted(folder.glob("*" + RECORD_SUFFIX)):
        try:
            records.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue
    return records


def record_name(run_id: str) -> str:
    """A run id as a file name (run ids are ISO times: ':' is not portable)."""
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in run_id)


def package_versions() -> Dict[str, Optional[str]]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _config_facts(config: ProblemConfig) -> Dict[str, Any]:
    """The config file as it was (path, hash, text) and the config the run used, which differs
    from the file where a caller changed it in code (the differing fields are listed)."""
    effective = config.model_dump(mode="json", by_alias=True, exclude={"source"})
    effective_text = json.dumps(effective, sort_keys=True)
    facts: Dict[str, Any] = {
        "file": config.source or None, "sha256": None, "text": None,
        "effective": effective,
        "effective_sha256": hashlib.sha256(effective_text.encode()).hexdigest(),
        "differs_from_file": None,
    }
    if config.source and os.path.isfile(config.source):
        raw = pathlib.Path(config.source).read_bytes()
        facts["sha256"] = hashlib.sha256(raw).hexdigest()
        facts["text"] = raw.decode("utf-8", errors="replace")
        try:
            as_loaded = load_config(config.source).model_dump(mode="json", by_alias=True,
                                                              exclude={"source"})
            facts["differs_from_file"] = _differing_fields(as_loaded, effective)
        except MlpipeError:
            pass
    return facts


def _differing_fields(first: Any, second: Any, prefix: str = "") -> List[str]:
    if isinstance(first, dict) and isinstance(second, dict):
        found = []
        for key in sorted(set(first) | set(second)):
            found += _differing_fields(first.get(key), second.get(key),
                                       f"{prefix}.{key}" if prefix else str(key))
        return found
    return [] if first == second else [prefix]


def _sha256_or_none(path: str) -> Optional[str]:
    return file_sha256(path) if os.path.isfile(path) else None


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name (a container user without a passwd entry)
        return str(os.getuid())


def _iso(timestamp: float) -> str:
    return datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc).isoformat()


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}".rstrip(": ")
