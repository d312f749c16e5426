"""One real pipeline run (2,000 taxi rows) shared by the serving and monitoring tests.

Both test folders' conftests call `trained_home(tmp_path_factory)`: the first call runs the
pipeline with `run_local` into the session's temporary folder, later calls (from either folder)
find it done and reuse it.
"""

import io
import json

import mlpipe  # noqa: F401  (process settings before TensorFlow)
from mlpipe.config import Bound, load_config
from mlpipe.pipeline.local_runner import run_local
from mlpipe.core.run_home import RunHome

SLICE_ROWS = 2000


def trained_home(tmp_path_factory) -> dict:
    root = tmp_path_factory.getbasetemp() / "trained-home"
    done = root / "done.json"
    if done.exists():
        return _workspace(root, json.loads(done.read_text()))
    root.mkdir(parents=True, exist_ok=True)
    default = load_config()
    csv_path = root / "data.csv"
    with open(default.data.path) as source, open(csv_path, "w") as target:
        for _, line in zip(range(SLICE_ROWS + 1), source):
            target.write(line)
    config = _config(default, csv_path)
    result = run_local(config, RunHome.for_pipeline(config.name, str(root / "runs")),
                       out=io.StringIO())
    assert result.blessed and result.pushed_version, (result.blessed, result.metrics)
    done.write_text(json.dumps({"pushed": result.pushed_version}))
    return _workspace(root, {"pushed": result.pushed_version})


def _config(default, csv_path):
    evaluation = default.evaluation.model_copy(update={"kpi": {"auc": Bound(min=0.8)}})
    return default.model_copy(update={
        "data": default.data.model_copy(update={"path": str(csv_path)}),
        "evaluation": evaluation})


def _workspace(root, facts) -> dict:
    config = _config(load_config(), root / "data.csv")
    home = RunHome.for_pipeline(config.name, str(root / "runs"))
    return {"root": root, "config": config, "home": home, "csv": root / "data.csv",
            "base": str(root / "runs"), "pushed": facts["pushed"]}


def write_config(config, path, **sections):
    """The config as a YAML file for `mlpipe --config`, with sections replaced."""
    import yaml
    dumped = config.model_copy(update=sections).model_dump(by_alias=True, mode="json",
                                                            exclude={"source"})
    path.write_text(yaml.safe_dump(dumped))
    return path


class ServerProcess:
    """`mlpipe serve --port 0` as a child process; `url` once it printed READY."""

    def __init__(self, config_file, base, *extra, timeout=180):
        import os
        import subprocess
        import sys
        import threading
        self.lines = []
        self._ready = threading.Event()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mlpipe.cli", "serve", "--config", str(config_file),
             "--home", str(base), "--port", "0", *extra],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=dict(os.environ))
        threading.Thread(target=self._drain, daemon=True).start()
        if not self._ready.wait(timeout) or self.process.poll() is not None:
            self.stop()
            raise RuntimeError("server did not start:\n" + "".join(self.lines[-40:]))
        ready = next(line for line in self.lines if line.startswith("READY "))
        self.url = ready.split()[1]
        self.base_url = self.url.split("/v1/")[0]

    def _drain(self):
        for line in self.process.stdout:
            self.lines.append(line)
            if line.startswith("READY "):
                self._ready.set()
        self._ready.set()

    def output(self) -> str:
        return "".join(self.lines)

    def stop(self, timeout=60) -> int:
        import signal
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)
