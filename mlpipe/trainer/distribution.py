"""Where and how the Trainer computes: the tf.distribute strategy, mixed precision and XLA.

Each is chosen from `train:` and from what the machine has, and each choice comes with the
reason, which the Trainer logs and the run output shows (`TrainingPlan.describe`). An option the
machine cannot use is said and dropped before training starts, never a traceback mid-run.

The cluster of a multi-worker job is the orchestrator's contract with TensorFlow: TF_CONFIG, or
Vertex AI's CLUSTER_SPEC (its worker pools 0-3 are TensorFlow's chief, worker, ps, evaluator).
"""

import dataclasses
import json
import os
import pathlib
from typing import Dict, List, Optional, Tuple

import tensorflow as tf

from mlpipe.config.problem import TrainConfig

# Vertex AI's worker pools, in order, as TensorFlow's task types.
WORKER_POOL_TASKS = ("chief", "worker", "ps", "evaluator")
# The CPU instructions that make bfloat16 arithmetic fast (without them it is emulated).
BFLOAT16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
# float16 tensor cores: compute capability 7.0 (Volta) or more.
FLOAT16_MIN_CAPABILITY = (7, 0)
FLOAT32 = "float32"


class DistributionError(ValueError):
    """`train:` asks for devices this machine does not have."""


@dataclasses.dataclass(frozen=True)
class TrainingPlan:
    """What the Trainer runs on, each with why."""
    strategy: tf.distribute.Strategy
    distribution: str
    precision: str                 # a Keras dtype policy name: float32, mixed_float16, ...
    precision_reason: str
    jit_compile: bool
    jit_reason: str = ""

    @property
    def replicas(self) -> int:
        return self.strategy.num_replicas_in_sync

    def without_jit(self, reason: str) -> "TrainingPlan":
        return dataclasses.replace(self, jit_compile=False, jit_reason=reason)

    def describe(self) -> str:
        jit = "XLA on" if self.jit_compile else "XLA off"
        return "; ".join([self.distribution,
                          f"{self.precision}{_because(self.precision_reason)}",
                          f"{jit}{_because(self.jit_reason)}"])


def _because(reason: str) -> str:
    return f" ({reason})" if reason else ""


def plan_training(train: TrainConfig) -> TrainingPlan:
    """The plan for `train:` on this machine; raises DistributionError for devices it lacks."""
    strategy, distribution = choose_strategy(train.distribution, train.devices)
    precision, precision_reason = choose_precision(train.mixed_precision)
    return TrainingPlan(strategy=strategy, distribution=distribution, precision=precision,
                        precision_reason=precision_reason, jit_compile=train.jit_compile)


def choose_strategy(name: str, devices: Optional[int] = None
                    ) -> Tuple[tf.distribute.Strategy, str]:
    """(strategy, what it is and why). `auto`: several workers in the cluster -> multi_worker;
    several GPUs -> mirrored over them; else one device."""
    # A multi-worker strategy must be made before TensorFlow's runtime starts, so nothing
    # here may start it first: physical devices are listed without starting it.
    cluster = cluster_spec()
    if name == "auto":
        workers = _workers(cluster)
        if workers > 1:
            return _multi_worker(cluster, f"auto: the cluster has {workers} workers")
        gpus = tf.config.list_physical_devices("GPU")
        if len(gpus) > 1:
            return _mirrored(None, f"auto: {len(gpus)} GPUs")
        device = "one GPU" if gpus else "no GPU"
        return tf.distribute.get_strategy(), f"one device (auto: {device})"
    if name == "multi_worker":
        return _multi_worker(cluster, "configured")
    if name == "mirrored":
        return _mirrored(devices, "configured")
    return tf.distribute.get_strategy(), "one device (configured)"


def _mirrored(count: Optional[int], why: str) -> Tuple[tf.distribute.Strategy, str]:
    """Mirrored over the GPUs, or over the CPU's logical devices where there is no GPU."""
    kind = "GPU" if tf.config.list_logical_devices("GPU") else "CPU"
    available = [device.name for device in tf.config.list_logical_devices(kind)]
    count = count or len(available)
    if count > len(available):
        raise DistributionError(
            f"train.devices is {count}, but this machine has {len(available)} {kind} "
            f"device(s): {', '.join(available)}")
    strategy = tf.distribute.MirroredStrategy(devices=available[:count])
    label = "GPUs" if kind == "GPU" else "CPU logical devices"
    return strategy, f"mirrored over {count} {label} ({why})"


def _multi_worker(cluster: Dict, why: str) -> Tuple[tf.distribute.Strategy, str]:
    if not cluster.get("cluster"):
        raise DistributionError("train.distribution is multi_worker, but neither TF_CONFIG nor "
                                "CLUSTER_SPEC describes a cluster")
    task = cluster.get("task", {})
    resolver = tf.distribute.cluster_resolver.SimpleClusterResolver(
        tf.train.ClusterSpec(cluster["cluster"]), task_type=task.get("type"),
        task_id=int(task.get("index", 0)), rpc_layer="grpc")
    strategy = tf.distribute.MultiWorkerMirroredStrategy(cluster_resolver=resolver)
    return strategy, (f"multi_worker over {_workers(cluster)} workers, "
                      f"{strategy.num_replicas_in_sync} replicas ({why})")


def cluster_spec() -> Dict:
    """The cluster as TF_CONFIG spells it ({} outside one): TF_CONFIG when set, else Vertex
    AI's CLUSTER_SPEC translated."""
    if os.environ.get("TF_CONFIG"):
        return json.loads(os.environ["TF_CONFIG"])
    if os.environ.get("CLUSTER_SPEC"):
        return from_vertex_cluster_spec(json.loads(os.environ["CLUSTER_SPEC"]))
    return {}


def from_vertex_cluster_spec(spec: Dict) -> Dict:
    """Vertex AI's CLUSTER_SPEC ({"cluster": {"workerpool0": [...], ...}, "task": {"type":
    "workerpool1", "index": 0}}) as TF_CONFIG."""
    def task_type(pool: str) -> str:
        return WORKER_POOL_TASKS[int(pool.replace("workerpool", ""))]

    cluster = {task_type(pool): hosts for pool, hosts in spec.get("cluster", {}).items()
               if hosts}
    task = spec.get("task", {})
    return {"cluster": cluster,
            "task": {"type": task_type(task.get("type", "workerpool0")),
                     "index": int(task.get("index", 0))}}


def _workers(cluster: Dict) -> int:
    members = cluster.get("cluster", {})
    return len(members.get("chief", [])) + len(members.get("worker", []))


def cluster_workers() -> int:
    """How many workers (chief included) the orchestrator's cluster has; 0 outside one."""
    return _workers(cluster_spec())


def choose_precision(mixed: bool) -> Tuple[str, str]:
    """(Keras dtype policy, why): float16 on a recent GPU, bfloat16 on a CPU with its
    instructions, else float32 with the reason."""
    if not mixed:
        return FLOAT32, ""
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        capabilities = [tf.config.experimental.get_device_details(gpu).get("compute_capability")
                        for gpu in gpus]
        if all(capability and tuple(capability) >= FLOAT16_MIN_CAPABILITY
               for capability in capabilities):
            return "mixed_float16", ""
        return FLOAT32, (f"mixed precision needs GPUs of compute capability "
                         f"{'.'.join(map(str, FLOAT16_MIN_CAPABILITY))} or more, these have "
                         f"{capabilities}: training in float32")
    flags = cpu_flags()
    if any(flag in flags for flag in BFLOAT16_CPU_FLAGS):
        return "mixed_bfloat16", "no GPU; the CPU has bfloat16 instructions"
    return FLOAT32, ("mixed precision needs a GPU or a CPU with bfloat16 instructions "
                     f"({' or '.join(BFLOAT16_CPU_FLAGS)}); this machine has neither: "
                     "training in float32")


def cpu_flags(cpuinfo: pathlib.Path = pathlib.Path("/proc/cpuinfo")) -> List[str]:
    """The CPU's instruction-set flags (Linux); [] where they cannot be read."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return []
    for line in text.splitlines():
        if line.startswith("flags"):
            return line.split(":", 1)[1].split()
    return []
