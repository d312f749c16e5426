"""Where training runs: the strategy from train.distribution and the orchestrator's cluster,
mixed precision and XLA from what the machine has, and two replicas in one process (the CPU
split into two logical devices) training the model one device trains."""

import json
import os
import subprocess
import sys
import textwrap

import mlpipe  # noqa: F401  (process settings before TensorFlow)
import pytest
import tensorflow as tf

from mlpipe.trainer import distribution
from mlpipe.trainer.distribution import DistributionError, TrainingPlan, choose_strategy

GPUS = len(tf.config.list_physical_devices("GPU"))


@pytest.fixture
def no_cluster(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    monkeypatch.delenv("CLUSTER_SPEC", raising=False)


def test_auto_without_a_cluster_or_gpus_is_one_device(no_cluster):
    if GPUS > 1:
        pytest.fail("this test expects a machine with at most one GPU")
    strategy, why = choose_strategy("auto")
    assert strategy is tf.distribute.get_strategy()
    assert not tf.distribute.has_strategy()
    assert strategy.num_replicas_in_sync == 1
    assert why == f"one device (auto: {'one GPU' if GPUS else 'no GPU'})"


def test_one_device_by_name(no_cluster):
    strategy, why = choose_strategy("one_device")
    assert strategy is tf.distribute.get_strategy() and why == "one device (configured)"


@pytest.mark.parametrize("cluster, workers", [
    ({"worker": ["host-a:2222", "host-b:2222"]}, 2),
    ({"chief": ["host-c:2222"], "worker": ["host-a:2222"]}, 2),
    ({"worker": ["host-a:2222"]}, 1),
    ({"ps": ["host-p:2222"]}, 0),
])
def test_workers_are_read_from_tf_config(no_cluster, monkeypatch, cluster, workers):
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster,
                                                "task": {"type": "worker", "index": 0}}))
    assert distribution.cluster_workers() == workers


def test_vertex_cluster_spec_is_read_as_tf_config(no_cluster, monkeypatch):
    """Vertex AI's worker pools 0-3 are TensorFlow's chief, worker, ps and evaluator."""
    monkeypatch.setenv("CLUSTER_SPEC", json.dumps({
        "cluster": {"workerpool0": ["cmle-0:2222"], "workerpool1": ["cmle-1:2222", "cmle-2:2222"]},
        "environment": "cloud", "task": {"type": "workerpool1", "index": 1}}))
    assert distribution.cluster_spec() == {
        "cluster": {"chief": ["cmle-0:2222"], "worker": ["cmle-1:2222", "cmle-2:2222"]},
        "task": {"type": "worker", "index": 1}}
    assert distribution.cluster_workers() == 3


def test_tf_config_wins_over_cluster_spec(no_cluster, monkeypatch):
    monkeypatch.setenv("CLUSTER_SPEC", json.dumps({"cluster": {"workerpool0": ["a:1"]},
                                                   "task": {"type": "workerpool0"}}))
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["b:1", "c:1"]},
                                                "task": {"type": "worker", "index": 0}}))
    assert distribution.cluster_spec()["cluster"] == {"worker": ["b:1", "c:1"]}


def test_a_one_worker_cluster_keeps_one_device(no_cluster, monkeypatch):
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["localhost:2222"]},
                                                "task": {"type": "worker", "index": 0}}))
    if GPUS > 1:
        pytest.fail("this test expects a machine with at most one GPU")
    assert choose_strategy("auto")[0] is tf.distribute.get_strategy()


def test_multi_worker_without_a_cluster_is_refused_before_training(no_cluster):
    with pytest.raises(DistributionError, match="neither TF_CONFIG nor CLUSTER_SPEC"):
        choose_strategy("multi_worker")


def test_more_devices_than_the_machine_has_is_refused_with_what_it_has(no_cluster):
    available = len(tf.config.list_logical_devices("GPU" if GPUS else "CPU"))
    with pytest.raises(DistributionError, match=rf"train.devices is {available + 1}, but this "
                                                rf"machine has {available} "):
        choose_strategy("mirrored", devices=available + 1)


def test_full_precision_unless_asked():
    assert distribution.choose_precision(False) == ("float32", "")


@pytest.mark.skipif(GPUS > 0, reason="the CPU rules apply on a machine without a GPU; "
                                     "scripts/gpu-check.sh covers the GPU")
@pytest.mark.parametrize("flags, policy", [(["avx2", "avx512_bf16"], "mixed_bfloat16"),
                                           (["avx2", "amx_bf16"], "mixed_bfloat16"),
                                           (["avx2", "fma"], "float32")])
def test_mixed_precision_on_a_cpu_needs_bfloat16_instructions(monkeypatch, flags, policy):
    monkeypatch.setattr(distribution, "cpu_flags", lambda: flags)
    chosen, why = distribution.choose_precision(True)
    assert chosen == policy
    if policy == "float32":
        assert "this machine has neither: training in float32" in why


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse avx512_bf16\nbugs\t: none\n")
    assert distribution.cpu_flags(cpuinfo) == ["fpu", "sse", "avx512_bf16"]
    assert distribution.cpu_flags(tmp_path / "absent") == []


def test_the_plan_says_each_choice_and_why():
    plan = TrainingPlan(strategy=tf.distribute.get_strategy(), distribution="one device (x)",
                        precision="float32", precision_reason="no bfloat16", jit_compile=True)
    assert plan.describe() == "one device (x); float32 (no bfloat16); XLA on"
    assert plan.without_jit("cannot").describe() == (
        "one device (x); float32 (no bfloat16); XLA off (cannot)")


TWO_REPLICAS = textwrap.dedent("""
    import json, pathlib, sys
    import mlpipe  # process settings before TensorFlow
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])
    from mlpipe.trainer import model as model_lib
    from mlpipe.trainer.distribution import plan_training
    from mlpipe.trainer.inputs import training_input
    from tests.support import transformed

    folder = transformed.write_examples(pathlib.Path(sys.argv[1]),
                                        {"train": 4000, "eval": 2000})
    fn_args, output = transformed.fn_args(folder), transformed.transform_output()
    report = {}
    for name, train in (("one", {}), ("two", {"distribution": "mirrored", "devices": 2})):
        spec = transformed.spec(epochs=3, batch_size=64, hidden_units=[8], **train)
        plan = plan_training(spec.train)
        data = training_input(fn_args.train_files, fn_args.data_accessor,
                              output.transformed_metadata.schema, spec.label_key,
                              spec.train.batch_size, 0, spec.train.in_memory_mb)
        first = next(iter(plan.strategy.experimental_distribute_dataset(data.dataset)))
        per_replica = [int(t.shape[0]) for t in plan.strategy.experimental_local_results(first[1])]
        model = model_lib.fit_model(spec, fn_args, output, plan)
        eval_data = training_input(fn_args.eval_files, fn_args.data_accessor,
                                   output.transformed_metadata.schema, spec.label_key,
                                   500, 0, 100)
        scores = model.evaluate(eval_data.dataset, verbose=0, return_dict=True)
        report[name] = {"replicas": plan.replicas, "per_replica": per_replica,
                        "plan": plan.describe(), "auc": scores["auc"]}
    print(json.dumps(report))
""")


@pytest.mark.slow  # two trainings in a TensorFlow process of its own: about 40 s on 2 cores
def test_two_replicas_split_the_global_batch_and_train_the_one_device_model(tmp_path):
    """In one process over two CPU logical devices (set before TensorFlow starts, hence a
    process of its own): each replica gets half of each global batch, and the model's eval
    AUC is the one-device model's within noise."""
    script = tmp_path / "two_replicas.py"
    script.write_text(TWO_REPLICAS)
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "PYTHONPATH": os.getcwd()}
    env.pop("TF_CONFIG", None)
    done = subprocess.run([sys.executable, str(script), str(tmp_path / "data")], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["one"]["replicas"] == 1 and report["one"]["per_replica"] == [64]
    assert report["two"]["replicas"] == 2 and report["two"]["per_replica"] == [32, 32]
    assert report["two"]["plan"].startswith("mirrored over 2 CPU logical devices (configured)")
    assert report["one"]["auc"] > 0.8
    assert abs(report["two"]["auc"] - report["one"]["auc"]) < 0.02, report
