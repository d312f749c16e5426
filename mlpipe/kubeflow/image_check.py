"""The pipeline image's smoke check, run inside the image (`make image` ends with it):

    python -m mlpipe.kubeflow.image_check [COMPILED_FILE ...]

With no file it compiles the bundled problem for both targets inside the image (offline, with
made-up cloud settings), which also proves that compiling works there. For every container task
of each compiled pipeline it checks what the step will need at run time: the module its command
runs (`python -m ...`), the executor class it names, the Python type of each of its artifacts
(a custom type is imported from its compiled schema title), every dotted path of user code a
parameter names (`run_fn`, `preprocessing_fn`, `tuner_fn`, `module_path`, ...), and every
absolute file path a parameter names that lies inside the image. Prints one line per task and exits
1 naming each missing piece, so a broken image is caught before any submit.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import pathlib
import sys
import tempfile
from typing import Any, Dict, Iterator, List, Tuple

import yaml

# Parameters whose values are dotted paths of Python objects (TFX's Trainer, Transform, Tuner
# and Evaluator), wherever they appear in a task's parameters, custom_config included.
DOTTED_PATH_KEYS = ("run_fn", "preprocessing_fn", "stats_options_updater_fn", "tuner_fn",
                    "module_path", "trainer_fn", "executor_class_path")
# Folders of the image a compiled step may read (a path elsewhere is the pipeline root or data).
IMAGE_PREFIXES = ("/opt/", "/usr/", "/etc/")
PLACEHOLDER_CLOUD = {"project": "image-check", "region": "us-central1", "bucket": "image-check",
                     "image": "image-check", "data_path": "gs://image-check/data/"}


def compiled_jobs(paths: List[str]) -> Iterator[Tuple[str, Dict[str, Any]]]:
    """(name, PipelineSpec) of each file, or of the bundled problem compiled for both targets."""
    if paths:
        for path in paths:
            text = pathlib.Path(path).read_text()
            raw = json.loads(text) if path.endswith(".json") else yaml.safe_load(text)
            yield path, raw.get("pipelineSpec", raw)
        return
    from mlpipe.config import load_config
    from mlpipe.config.cloud import resolve_cloud
    from mlpipe.kubeflow.compile import compile_pipeline
    config = load_config()
    with tempfile.TemporaryDirectory() as folder:
        for target in ("kubeflow", "vertex"):
            cloud = resolve_cloud(config, target, PLACEHOLDER_CLOUD)
            compiled = compile_pipeline(config, cloud, target,
                                        pathlib.Path(folder) / f"pipeline-{target}")
            yield f"{config.name} ({target})", compiled.spec


def task_problems(container: Dict[str, Any], parameters: Dict[str, Any]) -> List[str]:
    problems = []
    command = container.get("command", [])
    if command[:2] == ["python", "-m"] and importlib.util.find_spec(command[2]) is None:
        problems.append(f"module {command[2]} (the step's command) is not installed")
    args = container.get("args", [])
    for flag, value in zip(args, args[1:]):
        if flag == "--executor_class_path":
            problems += _importable(value, flag)
    for key, value in _strings(parameters):
        if key in DOTTED_PATH_KEYS and "." in value:
            problems += _importable(value, key)
        elif value.startswith(IMAGE_PREFIXES) and not pathlib.Path(value).exists():
            problems.append(f"{key}: {value} does not exist in the image")
    return problems


def _importable(dotted: str, what: str) -> List[str]:
    """[] when `dotted` names a module, or an attribute of one, that imports."""
    try:
        if importlib.util.find_spec(dotted) is not None:
            return []
    except ModuleNotFoundError:
        pass
    module, _, name = dotted.rpartition(".")
    try:
        if hasattr(importlib.import_module(module), name):
            return []
        return [f"{what}: {module} has no {name}"]
    except Exception as error:  # any import failure is what this check reports
        return [f"{what}: {dotted} does not import ({type(error).__name__}: {error})"]


def _strings(value: Any, key: str = "") -> Iterator[Tuple[str, str]]:
    """(key, string) of every string in a task's parameters, JSON-encoded ones opened."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, key if k in ("runtimeValue", "constantValue", "stringValue",
                                                "constant") else k)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v, key)
    elif isinstance(value, str):
        try:
            opened = json.loads(value)
        except ValueError:
            yield key, value
            return
        if isinstance(opened, (dict, list)):
            yield from _strings(opened, key)
        elif isinstance(opened, str):
            yield key, opened


def artifact_type_problems(component: Dict[str, Any]) -> List[str]:
    """The step recovers each artifact's Python type from its compiled schema (TFX's own types
    by table, custom ones by importing the schema title as a class path)."""
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2
    from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_entrypoint_utils as entry
    problems = []
    for side in ("inputDefinitions", "outputDefinitions"):
        for key, slot in component.get(side, {}).get("artifacts", {}).items():
            schema = json_format.ParseDict(slot["artifactType"],
                                           pipeline_spec_pb2.ArtifactTypeSchema())
            problems += _importable(entry._retrieve_class_path(schema), f"artifact {key}")
    return problems


def check(spec: Dict[str, Any]) -> Dict[str, List[str]]:
    """task name -> problems, for every container task of the spec."""
    executors = spec["deploymentSpec"]["executors"]
    result = {}
    for name, task in spec["root"]["dag"]["tasks"].items():
        component = spec["components"][task["componentRef"]["name"]]
        container = executors[component["executorLabel"]].get("container")
        if container is not None:
            result[name] = (task_problems(container, task.get("inputs", {}).get("parameters", {}))
                            + artifact_type_problems(component))
    return result


def main(argv: List[str]) -> int:
    failed = False
    for name, spec in compiled_jobs(argv):
        print(f"{name}:")
        for task, problems in sorted(check(spec).items()):
            print(f"  {task:<22} {'ok' if not problems else 'MISSING'}")
            for problem in problems:
                print(f"    {problem}")
            failed = failed or bool(problems)
    print("image check: " + ("FAILED" if failed else "every step's modules and files are here"))
    return 1 if failed else 0


if __name__ == "__main__":
    import mlpipe  # noqa: F401  (process settings before TensorFlow)
    sys.exit(main(sys.argv[1:]))
