"""A full disk (issue 22): the run home on a size-limited tmpfs, mounted in a private mount
namespace (`unshare --map-root-user --mount`: no privileges needed, nothing mounted outside).
The run stops with one line naming the component and "no space left", nothing is pushed, the
metadata store still reads (`mlpipe runs`); once the filesystem is grown, the rerun reuses what
completed from TFX's cache and pushes exactly one version."""

import json
import pathlib
import shutil
import subprocess
import textwrap

import pytest

import mlpipe  # noqa: F401  (process settings before TensorFlow)
from tests.support.cli import mlpipe_command
from tests.support.configs import write_config

pytestmark = pytest.mark.e2e

# A run of the 2,000-row table writes ~7 MB into its home: 5 MB fills up during the Evaluator
# (ML Metadata's SQLite is the first to find it full).
SIZE = "5m"

SCRIPT = textwrap.dedent("""\
    set -u
    home="$1"; out="$2"; size="$3"; config="$4"; shift 4   # then the mlpipe command
    mount -t tmpfs -o size="$size" tmpfs "$home" || exit 90
    "$@" run --config "$config" --home "$home" > "$out/run1.out" 2> "$out/run1.err"
    echo $? > "$out/run1.rc"
    "$@" runs --json --config "$config" --home "$home" > "$out/runs1.json" 2> "$out/runs1.err"
    echo $? > "$out/runs1.rc"
    find "$home" -path '*/serving/*' -maxdepth 3 > "$out/serving1.txt"
    mount -o remount,size=1g "$home" || exit 91
    "$@" run --config "$config" --home "$home" > "$out/run2.out" 2> "$out/run2.err"
    echo $? > "$out/run2.rc"
    "$@" runs --json --config "$config" --home "$home" > "$out/runs2.json" 2> "$out/runs2.err"
    find "$home" -path '*/serving/*' -maxdepth 3 -name '[0-9]*' > "$out/serving2.txt"
""")


@pytest.fixture(scope="module")
def config_file(trained_home, tmp_path_factory):
    return write_config(tmp_path_factory.mktemp("disk-full") / "config.yaml",
                        trained_home["config"])


def test_a_full_disk_stops_the_run_cleanly_and_the_rerun_completes(config_file, tmp_path):
    unshare = shutil.which("unshare")
    assert unshare, "util-linux's unshare is needed to mount a small filesystem for this test"
    home, out = tmp_path / "home", tmp_path / "out"
    home.mkdir()
    out.mkdir()
    script = tmp_path / "full.sh"
    script.write_text(SCRIPT)
    completed = subprocess.run([unshare, "--map-root-user", "--mount", "bash", str(script),
                                str(home), str(out), SIZE, str(config_file), *mlpipe_command()],
                               capture_output=True, text=True, timeout=900)
    assert completed.returncode not in (90, 91), completed.stderr
    read = lambda name: (out / name).read_text()  # noqa: E731

    assert read("run1.rc").strip() == "1", read("run1.out") + read("run1.err")
    failed = next(line for line in read("run1.err").splitlines() if line.startswith("FAILED at"))
    assert "no space left on the device of" in failed, read("run1.err")
    component = failed.split("FAILED at ")[1].split(":")[0]
    assert read("serving1.txt").strip() == "", "nothing may be pushed by a run that failed"

    assert read("runs1.rc").strip() == "0", read("runs1.err")
    [first] = json.loads(read("runs1.json"))
    # ML Metadata could not record the failure itself (its database is on the full disk): the
    # run reads as one that never finished.
    assert first["outcome"] in (f"failed at {component}", "incomplete")

    assert read("run2.rc").strip() == "0", read("run2.out") + read("run2.err")
    assert " cached " in read("run2.out"), "completed steps are reused from the cache"
    assert len(read("serving2.txt").split()) == 1
    second, _ = json.loads(read("runs2.json"))
    assert second["pushed_version"] == pathlib.Path(read("serving2.txt").strip()).name
