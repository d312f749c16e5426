"""A stand-in for the KFP v2 / Vertex AI Pipelines backend: it executes a compiled PipelineSpec's
tasks in containers of the pipeline image, on this machine. It is a test harness, not a product
runner: it does what the backend does for the task kinds TFX compiles, and nothing more.

- Container tasks run with the exact command and arguments of the spec, under Kubernetes
  semantics (the spec's `command` replaces the image's entrypoint), given the ExecutorInput a
  KFP v2 launcher builds (`{{$}}`): parameters, input artifacts with their URIs and metadata,
  output artifacts with URIs under the pipeline root, and the executor output file. A task with a
  `lifecycle.preCacheCheck` (TFX's ExampleGen driver) runs that command first, as Vertex does.
- The outputs a step reports in its executor output file (metadata such as `split_names` or
  `blessed`) are recorded, like ML Metadata records them, and passed downstream along the DAG.
- Resolver tasks (`outputArtifactQueries`) are answered from those records with the filters
  TFX compiles (schema title, LIVE, metadata values, name); the records persist under the
  pipeline root, so a second run on the same root finds the first run's blessed model.
- Pipeline root: Cloud Storage is a local folder mounted in every container at `/gcs`, and
  every `gs://BUCKET/...` in a step's input is passed as `/gcs/BUCKET/...`, which is Vertex AI's
  own Cloud Storage FUSE convention. No emulator stands in for GCS: TensorFlow's built-in `gs://`
  filesystem, which TFX reads and writes artifacts through, has no endpoint setting; its modular
  one (tensorflow-io-gcs-filesystem 0.37.1 under TF_USE_MODULAR_FILESYSTEM=1) reads
  CLOUD_STORAGE_EMULATOR_ENDPOINT but crashes (SIGSEGV) on its first call with it set, before
  any request reaches the emulator (tried with gcp-storage-emulator on 127.0.0.1). So what only
  an emulator would catch is not caught here: a step that needs real `gs://` semantics (object
  listing without folders, no rename, eventual listing) or that writes through another client.

- A Vertex AI CustomJob (what TFX's Vertex Trainer step submits) runs as its worker pools'
  replicas, one container each, told the cluster by CLUSTER_SPEC and TF_CONFIG as Vertex tells
  them (`run_custom_job`). The hop from the step to the Vertex API is not made: TFX's Vertex
  training client builds its endpoint from the region (`{region}-aiplatform.googleapis.com`) with
  no override, so the test builds the job with that client's own request builder.

Not emulated: caching (every task runs), parallel tasks (they run one at a time in DAG order),
retries, and the Kubernetes / Vertex resource requests of a task.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import re
import subprocess
import time
import uuid
from typing import Any, Dict, List, Optional, Sequence

import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

from tests.support.ports import free_ports

GCS = "gs://"
MOUNT = "/gcs"  # where the bucket folder is mounted in every container
ARTIFACT_NAME = "projects/stand-in/locations/local/metadataStores/default/artifacts/{}"


class StepFailed(RuntimeError):
    """A container task exited non-zero: its name, exit code and the tail of its log."""

    def __init__(self, task: str, code: int, log: pathlib.Path):
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
        super().__init__(f"step {task} exited {code} (log {log}):\n{tail}")
        self.task, self.code, self.log = task, code, log


@dataclasses.dataclass
class TaskRun:
    name: str
    seconds: float
    kind: str  # "container" or "resolver"


@dataclasses.dataclass
class PipelineRun:
    job_id: str
    tasks: List[TaskRun]
    outputs: Dict[str, Dict[str, List[dict]]]  # task -> output key -> RuntimeArtifact dicts

    def artifact(self, task: str, key: str) -> Optional[dict]:
        found = self.outputs.get(task, {}).get(key) or []
        return found[0] if found else None


class LocalBackend:
    """`storage`: the host folder that holds the buckets (`gs://b/x` is `storage/b/x`)."""

    def __init__(self, docker: str, storage: pathlib.Path, logs: pathlib.Path,
                 network: str = "none", extra_run_args: Sequence[str] = ()):
        self.docker = docker
        self.storage = storage
        self.logs = logs
        self.network = network
        self.extra_run_args = list(extra_run_args)
        self.records_file = storage / ".stand-in-metadata.json"

    # ---- paths ----

    def local_path(self, uri: str) -> pathlib.Path:
        """A gs:// URI or a /gcs path as the host sees it."""
        if uri.startswith(GCS):
            return self.storage / uri[len(GCS):]
        if uri.startswith(MOUNT + "/"):
            return self.storage / uri[len(MOUNT) + 1:]
        raise ValueError(f"not a pipeline-root path: {uri}")

    @staticmethod
    def mounted(text: str) -> str:
        return text.replace(GCS, MOUNT + "/")

    # ---- the run ----

    def run(self, spec: Dict[str, Any], pipeline_root: str) -> PipelineRun:
        """Runs every task of `spec` (a PipelineSpec dict) in DAG order; raises StepFailed."""
        job_id = (f"{spec['pipelineInfo']['name']}-{time.strftime('%Y%m%d%H%M%S')}-"
                  f"{uuid.uuid4().hex[:6]}")
        root = _stand_in_root(pipeline_root, job_id)
        outputs: Dict[str, Dict[str, List[dict]]] = {}
        timings: List[TaskRun] = []
        for name in _topological(spec["root"]["dag"]["tasks"]):
            task, component, executor = _task(spec, name)
            inputs = self._input_artifacts(task, outputs)
            start = time.monotonic()
            if "resolver" in executor:
                outputs[name] = self._resolve(executor["resolver"], inputs)
                kind = "resolver"
            elif "container" in executor:
                outputs[name] = self._run_container(name, executor["container"], component, task,
                                                    inputs, _task_root(root, name))
                kind = "container"
            else:
                raise NotImplementedError(f"task {name}: executor kind {list(executor)}")
            timings.append(TaskRun(name, time.monotonic() - start, kind))
        return PipelineRun(job_id, timings, outputs)

    def run_task(self, spec: Dict[str, Any], name: str, outputs: Dict[str, Dict[str, List[dict]]],
                 pipeline_root: str) -> Dict[str, List[dict]]:
        """Runs the one container task `name` of `spec`, its inputs taken from `outputs` (a
        PipelineRun's outputs, edited to feed it other artifacts); returns its outputs."""
        task, component, executor = _task(spec, name)
        return self._run_container(name, executor["container"], component, task,
                                   self._input_artifacts(task, outputs),
                                   _task_root(_stand_in_root(pipeline_root), name))

    def executor_input(self, spec: Dict[str, Any], name: str,
                       outputs: Dict[str, Dict[str, List[dict]]], pipeline_root: str
                       ) -> Dict[str, Any]:
        """The ExecutorInput the launcher would hand task `name`, inputs from `outputs`."""
        task, component, _ = _task(spec, name)
        return self._executor_input(component, task, self._input_artifacts(task, outputs),
                                    _task_root(_stand_in_root(pipeline_root), name))

    def run_custom_job(self, custom_job: Dict[str, Any], name: str) -> Dict[str, pathlib.Path]:
        """Runs a Vertex AI CustomJob's worker pools as Vertex does: every replica a container of
        its pool's image running the pool's command, all at once, each told the cluster by
        CLUSTER_SPEC and TF_CONFIG in Vertex's formats (pool 0 is TensorFlow's chief, pool 1 its
        workers); the replicas reach each other on 127.0.0.1 (host network). Returns each
        replica's log; raises StepFailed naming the first replica that failed."""
        pools = custom_job["job_spec"]["worker_pool_specs"]
        cluster = {f"workerpool{i}": [f"127.0.0.1:{port}"
                                      for port in free_ports(pool.get("replica_count", 1))]
                   for i, pool in enumerate(pools)}
        tf_cluster = {_TF_TASK[pool]: addresses for pool, addresses in cluster.items()
                      if _TF_TASK[pool] != "evaluator"}
        self.logs.mkdir(parents=True, exist_ok=True)
        started = []
        for (pool_name, addresses), pool in zip(cluster.items(), pools):
            container = pool["container_spec"]
            command = container["command"]
            for index in range(len(addresses)):
                environment = {
                    "CLUSTER_SPEC": {"cluster": cluster, "environment": "cloud",
                                     "task": {"type": pool_name, "index": index}},
                    "TF_CONFIG": {"cluster": tf_cluster, "environment": "cloud",
                                  "task": {"type": _TF_TASK[pool_name], "index": index},
                                  "job": custom_job["job_spec"]},
                }
                replica = f"{name}.{pool_name}-{index}"
                log = self.logs / f"{replica}.log"
                cmd = [self.docker, "run", "--rm", "--network=host",
                       "-v", f"{self.storage}:{MOUNT}", *self.extra_run_args,
                       *[arg for key, value in environment.items()
                         for arg in ("-e", f"{key}={json.dumps(value)}")],
                       "--entrypoint", command[0], container["image_uri"], *command[1:],
                       *container.get("args", [])]
                with open(log, "w") as out:
                    started.append((replica, log, subprocess.Popen(
                        cmd, stdout=out, stderr=subprocess.STDOUT)))
        codes = [(replica, log, process.wait()) for replica, log, process in started]
        for replica, log, code in codes:
            if code != 0:
                raise StepFailed(replica, code, log)
        return {replica: log for replica, log, _ in codes}

    def _input_artifacts(self, task: Dict[str, Any], outputs) -> Dict[str, List[dict]]:
        result = {}
        for key, source in task.get("inputs", {}).get("artifacts", {}).items():
            producer = source["taskOutputArtifact"]
            result[key] = outputs[producer["producerTask"]].get(producer["outputArtifactKey"], [])
        return result

    # ---- container tasks ----

    def _run_container(self, name: str, container: Dict[str, Any], component: Dict[str, Any],
                       task: Dict[str, Any], inputs: Dict[str, List[dict]], task_root: str
                       ) -> Dict[str, List[dict]]:
        executor_input = self._executor_input(component, task, inputs, task_root)
        output_file = self.local_path(executor_input["outputs"]["outputFile"])
        output_file.parent.mkdir(parents=True, exist_ok=True)
        pre_cache = container.get("lifecycle", {}).get("preCacheCheck")
        if pre_cache:
            self._docker_run(f"{name}.preCacheCheck", container["image"], pre_cache["command"],
                             pre_cache["args"], executor_input)
        self._docker_run(name, container["image"], container["command"], container["args"],
                         executor_input)
        reported = json.loads(output_file.read_text()) if output_file.exists() else {}
        produced = {}
        for key, slot in executor_input["outputs"]["artifacts"].items():
            artifacts = reported.get("artifacts", {}).get(key, slot)["artifacts"]
            produced[key] = [self._record(dict(slot["artifacts"][0], **artifact))
                             for artifact in artifacts]
        return produced

    def _executor_input(self, component, task, inputs, task_root) -> Dict[str, Any]:
        parameters = {}
        for key, source in task.get("inputs", {}).get("parameters", {}).items():
            if "runtimeValue" not in source:
                raise NotImplementedError(f"parameter {key}: {list(source)}")
            value = source["runtimeValue"]["constantValue"]
            if "stringValue" in value:
                value = {"stringValue": self.mounted(value["stringValue"])}
            parameters[key] = value
        artifacts = {key: {"artifacts": [dict(a, uri=self.mounted(a["uri"])) for a in found]}
                     for key, found in inputs.items()}
        outputs = {}
        for key, definition in component.get("outputDefinitions", {}).get("artifacts", {}).items():
            outputs[key] = {"artifacts": [{
                "name": ARTIFACT_NAME.format(uuid.uuid4().hex),
                "type": definition["artifactType"],
                "uri": self.mounted(f"{task_root}/{key}"),
                "metadata": {},
            }]}
        executor_input = {
            "inputs": {"parameters": parameters, "artifacts": artifacts},
            "outputs": {"artifacts": outputs,
                        "outputFile": self.mounted(f"{task_root}/executor_output.json")},
        }
        # What the launcher sends must parse as KFP's own ExecutorInput message.
        json_format.ParseDict(executor_input, pipeline_spec_pb2.ExecutorInput())
        return executor_input

    def _docker_run(self, name: str, image: str, command: List[str], args: List[str],
                    executor_input: Dict[str, Any]) -> None:
        serialized = json.dumps(executor_input)
        args = [arg.replace("{{$}}", serialized) for arg in args]
        unresolved = [arg for arg in args if "{{$" in arg]
        if unresolved:
            raise NotImplementedError(f"{name}: placeholders this stand-in does not fill: "
                                      f"{unresolved}")
        self.logs.mkdir(parents=True, exist_ok=True)
        log = self.logs / f"{name}.log"
        # Kubernetes semantics: the task's command replaces the image's entrypoint.
        cmd = [self.docker, "run", "--rm", f"--network={self.network}",
               "-v", f"{self.storage}:{MOUNT}", *self.extra_run_args,
               "--entrypoint", command[0], image, *command[1:], *args]
        with open(log, "w") as out:
            code = subprocess.call(cmd, stdout=out, stderr=subprocess.STDOUT)
        if code != 0:
            raise StepFailed(name, code, log)

    # ---- ML Metadata, as far as resolvers need it ----

    def _records(self) -> List[dict]:
        if self.records_file.exists():
            return json.loads(self.records_file.read_text())
        return []

    def _record(self, artifact: dict) -> dict:
        records = self._records()
        records.append({
            "name": artifact["name"],
            "schema_title": _schema_title(artifact["type"]),
            "state": "LIVE",
            "artifact": artifact,
        })
        self.records_file.parent.mkdir(parents=True, exist_ok=True)
        self.records_file.write_text(json.dumps(records))
        return artifact

    def _resolve(self, resolver: Dict[str, Any], inputs: Dict[str, List[dict]]
                 ) -> Dict[str, List[dict]]:
        result = {}
        for key, query in resolver["outputArtifactQueries"].items():
            text = _fill_input_placeholders(query["filter"], inputs)
            if text is None:  # the input it refers to resolved to nothing
                result[key] = []
                continue
            matches = [r for r in self._records() if _matches(r, text)]
            result[key] = [matches[-1]["artifact"]] if matches else []  # the latest
        return result


def _task(spec: Dict[str, Any], name: str):
    """Task `name` of `spec`: its DAG entry, its component and its executor."""
    task = spec["root"]["dag"]["tasks"][name]
    component = spec["components"][task["componentRef"]["name"]]
    return task, component, spec["deploymentSpec"]["executors"][component["executorLabel"]]


def _stand_in_root(pipeline_root: str, *sub: str) -> str:
    """Where the stand-in writes under the pipeline root (a run's job id, when given)."""
    return "/".join([pipeline_root.rstrip("/"), "stand-in", *sub])


def _task_root(root: str, name: str) -> str:
    """A task execution's own folder: its outputs and its executor output file."""
    return f"{root}/{name}_{uuid.uuid4().hex[:8]}"


# Vertex AI's worker pools as TensorFlow's task types (TF_CONFIG); CLUSTER_SPEC keeps pool names.
_TF_TASK = {"workerpool0": "chief", "workerpool1": "worker", "workerpool2": "ps",
            "workerpool3": "evaluator"}


def _schema_title(artifact_type: Dict[str, Any]) -> str:
    if "schemaTitle" in artifact_type:
        return artifact_type["schemaTitle"]
    return yaml.safe_load(artifact_type["instanceSchema"])["title"]


_INPUT_METADATA = re.compile(r"\{\{\$\.inputs\.artifacts\['([^']+)'\]\.metadata\['([^']+)'\]\}\}")


def _fill_input_placeholders(text: str, inputs: Dict[str, List[dict]]) -> Optional[str]:
    for key, field in _INPUT_METADATA.findall(text):
        found = inputs.get(key) or []
        if not found:
            return None
        value = found[0].get("metadata", {}).get(field)
        text = text.replace(f"{{{{$.inputs.artifacts['{key}'].metadata['{field}']}}}}", str(value))
    return text


def _matches(record: dict, text: str) -> bool:
    """The ML Metadata filter clauses TFX's resolver compiles, joined by AND."""
    artifact = record["artifact"]
    for clause in text.split(" AND "):
        clause = clause.strip()
        if m := re.fullmatch(r'schema_title="([^"]+)"', clause):
            ok = record["schema_title"] == m.group(1)
        elif clause == "state=LIVE":
            ok = record["state"] == "LIVE"
        elif m := re.fullmatch(r'name="([^"]*)"', clause):
            ok = record["name"] == m.group(1)
        elif m := re.fullmatch(r"metadata\.(\w+)\.number_value=(\S+)", clause):
            value = artifact.get("metadata", {}).get(m.group(1))
            ok = value is not None and float(value) == float(m.group(2))
        elif m := re.fullmatch(r'metadata\.(\w+)\.string_value="([^"]*)"', clause):
            ok = artifact.get("metadata", {}).get(m.group(1)) == m.group(2)
        else:
            raise NotImplementedError(f"resolver filter clause this stand-in does not know: "
                                      f"{clause!r}")
        if not ok:
            return False
    return True


def _topological(tasks: Dict[str, Any]) -> List[str]:
    """Task names in an order where every task follows the tasks it depends on (by name)."""
    def depends(task):
        found = set(task.get("dependentTasks", []))
        for source in task.get("inputs", {}).get("artifacts", {}).values():
            found.add(source["taskOutputArtifact"]["producerTask"])
        return found

    order, done = [], set()
    pending = dict(sorted(tasks.items()))
    while pending:
        ready = [name for name, task in pending.items() if depends(task) <= done]
        if not ready:
            raise ValueError(f"tasks with unmet dependencies: {sorted(pending)}")
        for name in ready:
            order.append(name)
            done.add(name)
            del pending[name]
    return order
