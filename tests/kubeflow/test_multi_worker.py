"""Multi-worker training for real: two worker processes on 127.0.0.1 (CPU), a chief and a worker,
train the trainer's own model (`mlpipe.trainer.model.build_model`) under
`choose_strategy('auto')` and must end with the same weights (one model trained together),
different from where they started. The chief learns the cluster from TF_CONFIG, the worker from
Vertex AI's CLUSTER_SPEC alone (its worker pools 0 and 1), as a CustomJob of two replicas sets
them: both must describe the same cluster.
"""

import json
import os
import pathlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tests.support.ports import free_ports

WORKER = textwrap.dedent("""
    import json, os, sys
    import mlpipe  # process settings (TF_USE_LEGACY_KERAS) before TensorFlow
    import numpy as np
    import tensorflow as tf
    from mlpipe.config import load_config
    from mlpipe.trainer.features import ProblemSpec
    from mlpipe.trainer.distribution import choose_strategy, cluster_spec
    from mlpipe.trainer.model import build_model

    out = sys.argv[1]
    config = load_config()
    train = config.train.model_copy(update={"hidden_units": [8], "batch_size": 16})
    spec = ProblemSpec(label=config.label, features=config.features, train=train)
    strategy, _ = choose_strategy("auto")
    tf.keras.utils.set_random_seed(1)  # same data on both workers; sharding splits it
    vocab = lambda name: 4
    rows = 256
    features = {key: np.random.normal(size=(rows, 1)).astype("float32")
                for key in spec.scalar_keys()}
    for key, width in spec.categorical_keys_and_sizes(vocab):
        features[key] = np.random.randint(0, width, size=(rows, 1)).astype("int64")
    labels = (features[spec.scalar_keys()[0]][:, 0] > 0).astype("float32")
    dataset = tf.data.Dataset.from_tensor_slices((features, labels)).batch(32).repeat()
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    dataset = dataset.with_options(options)
    with strategy.scope():
        model = build_model(spec, vocab)
    initial = [w.copy() for w in model.get_weights()]
    history = model.fit(dataset, epochs=2, steps_per_epoch=5, verbose=0)
    np.savez(out, *model.get_weights())
    with open(out + ".json", "w") as sink:
        json.dump({"strategy": type(strategy).__name__,
                   "multi_worker": isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy),
                   "replicas": strategy.num_replicas_in_sync,
                   "task": cluster_spec()["task"],
                   "loss": history.history["loss"],
                   "moved": float(sum(np.abs(a - b).sum()
                                      for a, b in zip(initial, model.get_weights())))}, sink)
""")


@pytest.mark.slow  # two TensorFlow processes: about 30-110 s on 2 busy cores
def test_two_workers_train_one_model(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    chief, worker = (f"127.0.0.1:{port}" for port in free_ports(2))
    tf_config = {"cluster": {"chief": [chief], "worker": [worker]},
                 "task": {"type": "chief", "index": 0}}
    vertex = {"cluster": {"workerpool0": [chief], "workerpool1": [worker]},
              "environment": "cloud", "task": {"type": "workerpool1", "index": 0}}
    processes = []
    for index, cluster in enumerate([{"TF_CONFIG": json.dumps(tf_config)},
                                     {"CLUSTER_SPEC": json.dumps(vertex)}]):
        env = {k: v for k, v in os.environ.items()
               if k.lower() not in ("http_proxy", "https_proxy", "all_proxy")
               and k not in ("TF_CONFIG", "CLUSTER_SPEC")}
        env.update(cluster, CUDA_VISIBLE_DEVICES="", NO_PROXY="127.0.0.1", no_proxy="127.0.0.1")
        log = open(tmp_path / f"worker{index}.log", "w")
        processes.append((subprocess.Popen(
            [sys.executable, str(script), str(tmp_path / f"weights{index}.npz")],
            env=env, stdout=log, stderr=subprocess.STDOUT), log))
    try:
        for process, _ in processes:
            process.wait(timeout=240)
    finally:
        for process, log in processes:
            if process.poll() is None:
                process.kill()
            log.close()
    for index, (process, _) in enumerate(processes):
        assert process.returncode == 0, (tmp_path / f"worker{index}.log").read_text()[-4000:]

    reports = [json.loads(pathlib.Path(f"{tmp_path}/weights{i}.npz.json").read_text())
               for i in range(2)]
    assert [report["task"] for report in reports] == [{"type": "chief", "index": 0},
                                                      {"type": "worker", "index": 0}]
    for report in reports:
        assert report["multi_worker"], report["strategy"]
        assert report["replicas"] == 2
        assert report["moved"] > 0  # training changed the weights
    # Every step's loss is all-reduced: the two workers report the same history.
    np.testing.assert_allclose(reports[0]["loss"], reports[1]["loss"], rtol=1e-5)
    weights = [np.load(tmp_path / f"weights{i}.npz") for i in range(2)]
    assert weights[0].files == weights[1].files and weights[0].files
    for name in weights[0].files:
        np.testing.assert_allclose(weights[0][name], weights[1][name], rtol=1e-5, atol=1e-6)
