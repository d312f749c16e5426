"""The real `mlpipe` command in a child process, as a user runs it."""

import os
import pathlib
import shutil
import signal
import subprocess
import sys
import threading
from typing import Mapping, Optional, Sequence

from mlpipe.process import environment


def mlpipe_command() -> Sequence[str]:
    """The installed `mlpipe` console script (next to this Python, else on PATH); without one,
    `python -m mlpipe.cli`."""
    script = pathlib.Path(sys.executable).parent / "mlpipe"
    if script.is_file():
        return [str(script)]
    found = shutil.which("mlpipe")
    return [found] if found else [sys.executable, "-m", "mlpipe.cli"]


def run_mlpipe(*args, cwd=None, env: Optional[Mapping[str, str]] = None,
               timeout: float = 60) -> subprocess.CompletedProcess:
    """`mlpipe ARGS...` to completion; stdout and stderr captured as text.

    env: the child's whole environment (default: this process's); see `offline_env`.
    """
    return subprocess.run([*mlpipe_command(), *map(str, args)], cwd=cwd,
                          env=dict(os.environ if env is None else env), capture_output=True,
                          text=True, timeout=timeout)


DEAD_PROXY = "http://127.0.0.1:9"  # discard port: nothing listens
PROXY_VARIABLES = ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY")


def outbound_connections_refused():
    """This process's HTTP(S) traffic goes to a closed port while the block runs."""
    return environment({name: DEAD_PROXY for name in PROXY_VARIABLES})


def offline_env(home) -> dict:
    """This environment without Google credentials or settings, HOME=`home`, proxies pointing at
    a closed port and the GCE metadata server disabled: any attempt to reach the network or find
    credentials fails."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GOOGLE_", "CLOUDSDK_", "GCE_", "KF_PIPELINES"))
           and k.lower() not in ("http_proxy", "https_proxy", "no_proxy", "all_proxy")}
    env.update({name: DEAD_PROXY for name in PROXY_VARIABLES})
    env.update(HOME=str(home), NO_GCE_CHECK="True", GCE_METADATA_HOST="127.0.0.1:9",
               GCE_METADATA_IP="127.0.0.1:9")
    return env


class ServerProcess:
    """`mlpipe serve --port 0` as a child process; `url` once it printed READY."""

    def __init__(self, config_file, base, *extra, timeout=180):
        self.lines = []
        self._ready = threading.Event()
        self.process = subprocess.Popen(
            [*mlpipe_command(), "serve", "--config", str(config_file), "--home", str(base),
             "--port", "0", *map(str, extra)],
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
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)
