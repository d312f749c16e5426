"""One `mlpipe run` at a time on a run home: a second one refuses at once naming the first (exit
5, nothing done), and a run that was killed leaves nothing locked."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from mlpipe.core.run_home import RunHome
from mlpipe.errors import EXIT_BUSY, HomeBusyError
from tests.support.cli import run_mlpipe

HOLDER = textwrap.dedent("""
    import sys, time
    from mlpipe.core.run_home import RunHome
    with RunHome(__import__("pathlib").Path(sys.argv[1])).run_lock():
        print("holding", flush=True)
        time.sleep(120)
""")


@pytest.fixture
def holder(tmp_path):
    """Another process holding tmp_path/home, as a run under way does; killed with -9 after."""
    home = tmp_path / "base" / "taxi-big-tipper"
    process = subprocess.Popen([sys.executable, "-c", HOLDER, str(home)], stdout=subprocess.PIPE,
                               text=True)
    assert process.stdout.readline().strip() == "holding"
    yield home, process
    if process.poll() is None:
        process.kill()
        process.wait()


def test_a_second_run_is_refused_naming_the_first(holder):
    home, process = holder
    with pytest.raises(HomeBusyError, match=rf"in use by mlpipe run pid {process.pid} "):
        with RunHome(home).run_lock():
            pytest.fail("took a lock another process holds")


def test_a_killed_run_leaves_the_home_free(holder):
    home, process = holder
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    with RunHome(home).run_lock():
        assert f"pid {os.getpid()} " in (home / "run.lock").read_text()
    assert (home / "run.lock").read_text() == ""   # released: nothing names a holder


def test_mlpipe_run_on_a_busy_home_exits_5_at_once_and_writes_nothing(holder, tmp_path):
    home, process = holder
    before = sorted(path.name for path in home.iterdir())
    started = time.monotonic()
    result = run_mlpipe("run", "--home", home.parent, timeout=120)
    assert result.returncode == EXIT_BUSY, result.stderr[-2000:]
    assert f"is in use by mlpipe run pid {process.pid}" in result.stderr
    assert "wait for that run to end, or use another --home" in result.stderr
    assert sorted(path.name for path in home.iterdir()) == before   # no metadata, no logs
    assert time.monotonic() - started < 100
