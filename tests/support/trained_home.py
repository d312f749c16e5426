"""One real pipeline run (2,000 taxi rows) shared by the serving and monitoring tests.

The `trained_home` session fixture (tests/conftest.py) calls `trained_home(tmp_path_factory)`:
the first call runs the pipeline with `run_local` into the session's temporary folder, later
calls find it done and reuse it.
"""

import io
import json

import mlpipe  # noqa: F401  (process settings before TensorFlow)
from mlpipe.config import Bound, load_config
from mlpipe.core.run_home import RunHome
from mlpipe.local.local_runner import run_local
from tests.support.cli import outbound_connections_refused

SLICE_ROWS = 2000


def trained_home(tmp_path_factory) -> dict:
    """{root, config, home, csv, base, pushed}: a run home with one blessed, pushed model."""
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
    # A local run never reaches the network (tests/pipeline/test_offline.py reads its log).
    with outbound_connections_refused():
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


def save_without_features_signature(source, target) -> None:
    """A copy of the pushed SavedModel at `source` as models exported before the
    `serving_features` signature are: `serving_default` and `transform_features` only."""
    import tensorflow as tf
    from mlpipe.core.contract import SERVING_SIGNATURE, TRANSFORM_SIGNATURE
    loaded = tf.saved_model.load(str(source))
    tf.saved_model.save(loaded, str(target), signatures={
        name: loaded.signatures[name] for name in (SERVING_SIGNATURE, TRANSFORM_SIGNATURE)})
