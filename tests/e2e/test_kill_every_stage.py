"""`kill -9` at every stage (issue 22): one run home, one `mlpipe run` after another, each killed
(its whole process group) as soon as the next component not yet killed starts, until a run
completes. Each rerun takes what completed from TFX's cache, so the chain costs about one run
plus a process start per component.

What must hold: after every kill, every version `RunHome.pushed_versions()` lists is whole (its
variables are in: a push becomes visible only when complete); the last run completes and pushes
exactly one version; `mlpipe runs` lists every killed run as incomplete and nothing else."""

import json
import os
import re
import signal
import subprocess
import time

import pytest

import mlpipe  # noqa: F401  (process settings before TensorFlow)
from mlpipe.core.run_home import RunHome
from tests.support.cli import mlpipe_command, run_mlpipe
from tests.support.configs import write_config

pytestmark = pytest.mark.e2e

STARTED = re.compile(r"Component (\S+) is running\.")
# Resolvers run in no time and write nothing: killing "during" one is killing between steps.
SKIPPED = re.compile(r"_resolver$")
KILL_AFTER_SECONDS = 0.3   # into the step: past its start, before most steps finish
MAX_RUNS = 25


def _run_until_a_new_component_starts(config_file, base, home: RunHome, visited: set):
    """Starts `mlpipe run`; kills its process group once a component not in `visited` starts.
    Returns (the component killed at or None when the run finished, its exit code)."""
    process = subprocess.Popen([*mlpipe_command(), "run", "--config", str(config_file),
                                "--home", str(base)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    log = None
    seen = 0
    while process.poll() is None:
        time.sleep(0.05)
        if log is None:
            found = list(home.root.glob(f"logs/run-*-{process.pid}.log"))
            log = found[0] if found else None
            continue
        text = log.read_text(errors="replace")
        for match in STARTED.finditer(text, seen):
            seen = match.end()
            component = match.group(1)
            if component in visited or SKIPPED.search(component):
                continue
            visited.add(component)
            time.sleep(KILL_AFTER_SECONDS)
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return component, process.returncode
    return None, process.returncode


def _whole(version) -> bool:
    return ((version / "saved_model.pb").is_file()
            and (version / "variables" / "variables.index").is_file())


def test_a_run_killed_at_every_stage_completes_on_rerun_and_pushes_once(trained_home,
                                                                        tmp_path):
    config_file = write_config(tmp_path / "config.yaml", trained_home["config"])
    base = tmp_path / "runs"
    home = RunHome.for_pipeline(trained_home["config"].name, str(base))
    visited, killed = set(), []
    for _ in range(MAX_RUNS):
        component, code = _run_until_a_new_component_starts(config_file, base, home, visited)
        assert all(_whole(version) for version in home.pushed_versions()), \
            f"a partial version is listed after the kill at {component}"
        if component is None:
            assert code == 0, "the run after the last kill must complete"
            break
        assert code == -signal.SIGKILL
        killed.append(component)
    else:
        pytest.fail(f"no run completed after {MAX_RUNS} runs; killed at {killed}")

    for step in ("CsvExampleGen", "StatisticsGen", "Transform", "Trainer", "Evaluator",
                 "Pusher", "ModelCard"):
        assert step in killed, (step, killed)
    assert len(home.pushed_versions()) == 1

    listed = run_mlpipe("runs", "--json", "--config", config_file, "--home", base, timeout=300)
    assert listed.returncode == 0, listed.stderr
    runs = json.loads(listed.stdout)  # newest first
    # A run killed before it recorded anything in ML Metadata is not listed at all; every other
    # killed one is incomplete (after the Pusher: pushed, then incomplete); the last completes.
    assert runs[0]["outcome"] == "blessed and pushed"
    assert {run["outcome"] for run in runs[1:]} <= {"incomplete", "pushed, then incomplete"}
    assert "incomplete" in {run["outcome"] for run in runs[1:]}
    # One version, whichever runs show it (a rerun's Pusher is taken from the cache).
    assert {run["pushed_version"] for run in runs if run["pushed_version"]} == {
        home.pushed_versions()[0].name}
