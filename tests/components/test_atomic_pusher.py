"""The Pusher's local pushes appear whole (mlpipe.components.atomic_pusher), run for real: TFX's
Pusher executor under it, a push killed in the middle of its copy leaves no version, and the
next push completes and clears what the killed one left."""

import os
import pathlib
import signal
import subprocess
import sys
import textwrap
import time

import mlpipe  # noqa: F401  (process settings before TensorFlow)
import pytest
from tfx.proto import pusher_pb2
from tfx.types import standard_artifacts
from tfx.utils import proto_utils

from mlpipe.components.atomic_pusher.executor import INCOMING, Executor
from mlpipe.core.run_home import RunHome

PUSH = textwrap.dedent("""
    import json, sys
    import mlpipe
    from tests.components.test_atomic_pusher import push
    print(json.dumps(push(*sys.argv[1:])), flush=True)
""")


def make_model(folder: pathlib.Path, variables_bytes: int = 1024) -> pathlib.Path:
    """A model export as the Trainer leaves it: <model>/Format-Serving/{saved_model.pb,...}."""
    export = folder / "Format-Serving"
    (export / "variables").mkdir(parents=True)
    (export / "saved_model.pb").write_bytes(b"graph" * 100)
    with open(export / "variables" / "variables.data-00000-of-00001", "wb") as data:
        data.truncate(variables_bytes)
    (export / "variables" / "variables.index").write_bytes(b"index")
    return folder


def push(model_dir: str, serving: str, work: str) -> dict:
    """One push by the executor of a blessed model; the pushed_model's custom properties."""
    model = standard_artifacts.Model()
    model.uri = model_dir
    blessing = standard_artifacts.ModelBlessing()
    blessing.uri = os.path.join(work, "blessing")
    blessing.set_int_custom_property("blessed", 1)
    pushed = standard_artifacts.PushedModel()
    pushed.uri = os.path.join(work, "pushed_model")
    os.makedirs(pushed.uri, exist_ok=True)
    destination = pusher_pb2.PushDestination(
        filesystem=pusher_pb2.PushDestination.Filesystem(base_directory=serving))
    Executor().Do({"model": [model], "model_blessing": [blessing]}, {"pushed_model": [pushed]},
                  {"push_destination": proto_utils.proto_to_json(destination)})
    return {key: pushed.get_custom_property(key) for key in
            ("pushed", "pushed_destination", "pushed_version")}


def test_a_push_lands_whole_under_its_version(tmp_path):
    model = make_model(tmp_path / "model")
    serving = tmp_path / "home" / "serving"
    first = push(str(model), str(serving), str(tmp_path / "w1"))
    second = push(str(model), str(serving), str(tmp_path / "w2"))   # the same second, maybe
    for pushed in (first, second):
        version = pathlib.Path(pushed["pushed_destination"])
        assert pushed["pushed"] == 1 and version.parent == serving
        assert version.name == pushed["pushed_version"]
        assert sorted(p.relative_to(version).as_posix() for p in version.rglob("*")) == [
            "saved_model.pb", "variables", "variables/variables.data-00000-of-00001",
            "variables/variables.index"]
    assert first["pushed_version"] != second["pushed_version"]
    assert [p.name for p in RunHome(serving.parent).pushed_versions()] == sorted(
        [first["pushed_version"], second["pushed_version"]], key=int)
    assert not (serving / INCOMING).exists()


def test_a_push_that_fails_mid_copy_leaves_nothing_in_the_serving_folder(tmp_path):
    """A file the copy cannot read (a dangling link) fails the push after part of the model is
    copied, as a full disk does: no version, and no partial copy left in .incoming/."""
    model = make_model(tmp_path / "model")
    (model / "Format-Serving" / "variables" / "zz-unreadable").symlink_to(tmp_path / "absent")
    serving = tmp_path / "home" / "serving"
    with pytest.raises(Exception):
        push(str(model), str(serving), str(tmp_path / "w1"))
    assert RunHome(serving.parent).pushed_versions() == []
    assert list(serving.iterdir()) == []


@pytest.mark.slow  # a 600 MB variables file, so the copy lasts long enough to be killed
def test_a_push_killed_mid_copy_leaves_no_version_and_the_next_one_completes(tmp_path):
    model = make_model(tmp_path / "model", variables_bytes=600_000_000)
    serving = tmp_path / "home" / "serving"
    repo = pathlib.Path(__file__).resolve().parents[2]
    process = subprocess.Popen([sys.executable, "-c", PUSH, str(model), str(serving),
                                str(tmp_path / "w1")], cwd=repo, stdout=subprocess.PIPE)
    copying = serving / INCOMING
    deadline = time.monotonic() + 120
    while not any(copying.rglob("variables.data-*")) and time.monotonic() < deadline:
        assert process.poll() is None, "the push ended before it could be killed"
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert any(copying.rglob("variables.data-*"))          # killed in the middle of the copy
    assert RunHome(serving.parent).pushed_versions() == []   # ... and no version to be seen
    assert [p.name for p in serving.iterdir()] == [INCOMING]
    pushed = push(str(model), str(serving), str(tmp_path / "w2"))
    version = pathlib.Path(pushed["pushed_destination"])
    assert RunHome(serving.parent).pushed_versions() == [version]
    assert os.path.getsize(version / "variables" / "variables.data-00000-of-00001") == 600_000_000
    assert not copying.exists()
