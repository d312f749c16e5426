"""The run home: one folder per pipeline holding everything its runs produce.

    <base>/<pipeline name>/
        pipeline_root/      TFX artifacts of every run
        metadata.sqlite     ML Metadata store (lineage, cache)
        serving/<version>/  pushed (blessed) models, never overwritten
        logs/               one log file per run: TensorFlow, Beam and TFX output
        compiled/           compiled pipeline IR, reused while the graph is unchanged
        summaries/          metrics read from each evaluation (TFMA is slow to import)
        request_log/        rows and predictions `mlpipe serve` logged (unless serving.log_dir)
        monitoring/         every `mlpipe monitor` result
        provenance/         one record per run of what ML Metadata does not hold: who ran it,
                            where and when, the config file, data file hashes, package versions
        reports/            HTML reports written by `mlpipe report --html`
        last-run.json       what the last completed run depended on and its outcome: an
                            unchanged re-run is answered from it (local/unchanged_run.py)
        schema-proposal.pbtxt   the latest `mlpipe schema` proposal
        run.lock            held by the `mlpipe run` under way (its pid and start inside)

Every command that reads results finds them from the config's name and the same base folder,
so a user never types an artifact path. ML Metadata records artifact paths as absolute paths: a
home copied or moved elsewhere still reads its own files through `RunHome.locate`.
"""

import contextlib
import dataclasses
import fcntl
import os
import pathlib
import time
from typing import Iterator, List

from mlpipe.config import ServingConfig
from mlpipe.errors import HomeBusyError

DEFAULT_BASE = "runs"
# The folders of a run home that runs record absolute paths into (ML Metadata, provenance).
_RECORDED_FOLDERS = ("pipeline_root", "serving", "logs")


@dataclasses.dataclass(frozen=True)
class RunHome:
    root: pathlib.Path

    @classmethod
    def for_pipeline(cls, name: str, base: str = DEFAULT_BASE) -> "RunHome":
        return cls(pathlib.Path(base).resolve() / name)

    @property
    def pipeline_root(self) -> pathlib.Path:
        return self.root / "pipeline_root"

    @property
    def metadata_path(self) -> pathlib.Path:
        return self.root / "metadata.sqlite"

    @property
    def serving_dir(self) -> pathlib.Path:
        return self.root / "serving"

    @property
    def logs_dir(self) -> pathlib.Path:
        return self.root / "logs"

    @property
    def compiled_dir(self) -> pathlib.Path:
        return self.root / "compiled"

    @property
    def summaries_dir(self) -> pathlib.Path:
        return self.root / "summaries"

    @property
    def monitoring_dir(self) -> pathlib.Path:
        return self.root / "monitoring"

    @property
    def reports_dir(self) -> pathlib.Path:
        return self.root / "reports"

    @property
    def last_run_path(self) -> pathlib.Path:
        return self.root / "last-run.json"

    @property
    def provenance_dir(self) -> pathlib.Path:
        return self.root / "provenance"

    @property
    def schema_proposal(self) -> pathlib.Path:
        return self.root / "schema-proposal.pbtxt"

    def request_log_dir(self, serving: ServingConfig) -> pathlib.Path:
        """Where `mlpipe serve` logs requests and `mlpipe monitor` reads them by default."""
        return pathlib.Path(serving.log_dir) if serving.log_dir else self.root / "request_log"

    @contextlib.contextmanager
    def run_lock(self) -> Iterator[None]:
        """Holds the run home for one run: a second run on it (a cron tick overlapping a manual
        run) refuses at once with HomeBusyError naming the holder, instead of racing it to the
        same metadata and serving folder. The kernel's lock (flock) is freed when its process
        ends however it ends, so a killed run never leaves the home locked."""
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / "run.lock"
        with open(path, "a+") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                lock.seek(0)
                holder = lock.read().strip() or "another process"
                raise HomeBusyError(f"run home {self.root} is in use by {holder}: wait for that "
                                    "run to end, or use another --home") from None
            lock.seek(0)
            lock.truncate()
            lock.write(f"mlpipe run pid {os.getpid()} on {os.uname().nodename}, started "
                       f"{time.strftime('%Y-%m-%d %H:%M:%S')}")
            lock.flush()
            try:
                yield
            finally:
                lock.truncate(0)

    def create(self) -> None:
        for folder in (self.pipeline_root, self.serving_dir, self.logs_dir):
            folder.mkdir(parents=True, exist_ok=True)

    def new_log_file(self) -> pathlib.Path:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        return self.logs_dir / f"run-{stamp}-{os.getpid()}.log"

    def locate(self, recorded: str) -> pathlib.Path:
        """Where a path a run recorded (an ML Metadata artifact URI, a pushed version) is now: as
        recorded when it exists there, else the same place under this run home, for a home that
        was copied or moved from the folder the run wrote it in. For local paths: a remote URI
        (gs://...) is not looked for."""
        path = pathlib.Path(recorded)
        if path.exists() or "://" in recorded:
            return path
        parts = path.parts
        for index in range(len(parts) - 1, -1, -1):
            if parts[index] in _RECORDED_FOLDERS:
                moved = self.root.joinpath(*parts[index:])
                if moved.exists():
                    return moved
        return path

    def pushed_versions(self) -> List[pathlib.Path]:
        """Pushed versions, oldest first. A local push appears whole (copied under
        serving/.incoming/, then renamed: mlpipe.components.atomic_pusher); a folder without a
        saved_model.pb (TFX copies it last) is not a version."""
        if not self.serving_dir.is_dir():
            return []
        return sorted((p for p in self.serving_dir.iterdir()
                       if p.is_dir() and (p / "saved_model.pb").exists()),
                      key=lambda p: int(p.name) if p.name.isdigit() else -1)
