"""Reads a run's outcome back from ML Metadata and the Evaluator's output."""

import contextlib
import hashlib
import json
import os
import pathlib
from typing import Dict, Iterator, List, Optional, Tuple

import ml_metadata as mlmd
from ml_metadata.proto import metadata_store_pb2

from mlpipe.config.span_pattern import has_spec

EVAL_CONFIG_FILE = "eval_config.json"  # TFMA's copy of the EvalConfig it applied, in its output


@contextlib.contextmanager
def open_store(metadata_path: pathlib.Path) -> Iterator[mlmd.MetadataStore]:
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = str(metadata_path)
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    yield mlmd.MetadataStore(config)


def outputs_of(store: mlmd.MetadataStore,
               execution_id: int) -> Dict[str, metadata_store_pb2.Artifact]:
    """Output key -> artifact of one execution."""
    events = _output_events(store, [execution_id])
    artifacts = {artifact.id: artifact
                 for artifact in store.get_artifacts_by_id([e.artifact_id for e in events])}
    return {event.path.steps[0].key: artifacts[event.artifact_id]
            for event in events if event.path.steps and event.artifact_id in artifacts}


def output_uris(store: mlmd.MetadataStore, execution_ids) -> List[str]:
    """The URIs of every artifact the executions output."""
    ids = sorted({event.artifact_id for event in _output_events(store, execution_ids)})
    return [artifact.uri for artifact in store.get_artifacts_by_id(ids)] if ids else []


def _output_events(store: mlmd.MetadataStore, execution_ids) -> list:
    return [event for event in store.get_events_by_execution_ids(list(execution_ids))
            if event.type in (metadata_store_pb2.Event.OUTPUT,
                              metadata_store_pb2.Event.DECLARED_OUTPUT)]


def overall_metrics_cached(evaluation_uri: str, cache_dir: pathlib.Path,
                           read_from: Optional[str] = None) -> Dict[str, float]:
    """overall_metrics, remembered per evaluation (an evaluation artifact never changes), under
    the URI ML Metadata records; `read_from`: where the evaluation is now when the run home was
    moved since (see RunHome.locate)."""
    cached = cached_metrics_path(evaluation_uri, cache_dir)
    if cached.exists():
        return json.loads(cached.read_text())
    metrics = overall_metrics(read_from or evaluation_uri)
    cache_dir.mkdir(parents=True, exist_ok=True)
    cached.write_text(json.dumps(metrics, sort_keys=True))
    return metrics


def cached_metrics_path(evaluation_uri: str, cache_dir: pathlib.Path) -> pathlib.Path:
    """Where overall_metrics_cached keeps the metrics of the evaluation ML Metadata records at
    `evaluation_uri`."""
    return cache_dir / f"metrics-{hashlib.sha256(evaluation_uri.encode()).hexdigest()[:16]}.json"


def overall_metrics(evaluation_uri: str) -> Dict[str, float]:
    """The candidate model's overall (unsliced) metrics, as TFMA loads them."""
    import tensorflow_model_analysis as tfma
    result = tfma.load_eval_result(evaluation_uri, model_name=candidate_model_name(evaluation_uri))
    return slice_metrics(result.slicing_metrics)


def slice_metrics(slicing_metrics, slice_key=()) -> Dict[str, float]:
    """Metric name -> value of one slice (default: overall) of TFMA's `slicing_metrics`."""
    return next((metric_values(metrics) for key, metrics in slicing_metrics if key == slice_key),
                {})


def metric_values(metrics_by_output) -> Dict[str, float]:
    """The scalar metrics of one slice entry of TFMA's `slicing_metrics` (single output).

    A metric TFMA computed a confidence interval for comes as `boundedValue` (its `value` is the
    metric on all the examples, the same number `doubleValue` holds without intervals)."""
    values = metrics_by_output.get("", {}).get("", {})
    found = {}
    for name, value in values.items():
        if not isinstance(value, dict):
            continue
        if "doubleValue" in value:
            found[name] = float(value["doubleValue"])
        elif isinstance(value.get("boundedValue"), dict) and "value" in value["boundedValue"]:
            found[name] = float(value["boundedValue"]["value"])
    return found


def metric_bounds(metrics_by_output) -> Dict[str, Tuple[float, float]]:
    """Metric name -> (lower, upper) bound of its confidence interval, for the metrics of one
    slice entry of TFMA's `slicing_metrics` that have one (EvalConfig
    `options.compute_confidence_intervals`; TFMA does not bound example_count)."""
    values = metrics_by_output.get("", {}).get("", {})
    found = {}
    for name, value in values.items():
        bounded = value.get("boundedValue") if isinstance(value, dict) else None
        if isinstance(bounded, dict) and "lowerBound" in bounded and "upperBound" in bounded:
            found[name] = (float(bounded["lowerBound"]), float(bounded["upperBound"]))
    return found


def pushed_destination(store: mlmd.MetadataStore, pusher_execution_id: int) -> Optional[str]:
    """Where a Pusher execution pushed its model, or None when it pushed nothing."""
    pushed = outputs_of(store, pusher_execution_id).get("pushed_model")
    if pushed and pushed.custom_properties["pushed"].int_value == 1:
        return pushed.custom_properties["pushed_destination"].string_value
    return None


def candidate_model_name(evaluation_uri: str) -> Optional[str]:
    """The candidate's name in TFMA's output when the evaluation compared it with a baseline,
    else None. The one reader of that name: the report, the FairnessGate and the ModelCard."""
    path = os.path.join(evaluation_uri, EVAL_CONFIG_FILE)
    if "://" in evaluation_uri:
        # An evaluation on gs:// (inside a cloud pipeline step): TFX's filesystem layer, imported
        # only then so that reading a local run's results does not load TFX.
        from tfx.dsl.io import fileio
        with fileio.open(path, "r") as source:
            config = json.loads(source.read())
    else:
        config = json.loads(pathlib.Path(path).read_text())
    specs = config.get("evalConfig", {}).get("modelSpecs", [])
    if len(specs) < 2:
        return None
    return next((spec.get("name") for spec in specs if not spec.get("isBaseline")), None)


def inputs_of(store: mlmd.MetadataStore,
              execution_id: int) -> Dict[str, metadata_store_pb2.Artifact]:
    """Input key -> artifact of one execution (the first artifact when a key holds several)."""
    events = [event for event in store.get_events_by_execution_ids([execution_id])
              if event.type == metadata_store_pb2.Event.INPUT]
    artifacts = {artifact.id: artifact
                 for artifact in store.get_artifacts_by_id([e.artifact_id for e in events])}
    found: Dict[str, metadata_store_pb2.Artifact] = {}
    for event in events:
        if event.path.steps and event.artifact_id in artifacts:
            found.setdefault(event.path.steps[0].key, artifacts[event.artifact_id])
    return found


def input_artifacts(store: mlmd.MetadataStore, execution_id: int, key: str) -> list:
    """Every artifact an execution read under one input key (Transform reads several Examples
    with a span window), in id order."""
    ids = [event.artifact_id for event in store.get_events_by_execution_ids([execution_id])
           if event.type == metadata_store_pb2.Event.INPUT and event.path.steps
           and event.path.steps[0].key == key]
    return sorted(store.get_artifacts_by_id(ids), key=lambda a: a.id) if ids else []


def reads_spans(example_gen) -> bool:
    """Whether an ExampleGen execution read a span: it was given a range (a local run pins the
    span), or its input pattern has a span spec (an executed ExampleGen records the pattern TFX
    resolved, the span written in; a cached one, the pattern as given)."""
    properties = example_gen.custom_properties
    if "range_config" in properties:
        return True
    if "input_config" not in properties:
        return False
    try:
        splits = json.loads(properties["input_config"].string_value)["splits"]
    except (ValueError, KeyError, TypeError):
        return False
    return any(has_spec(split.get("pattern", "")) for split in splits)


def pipeline_runs(store: mlmd.MetadataStore) -> list:
    """The pipeline_run contexts, oldest first (their names are the run ids)."""
    return sorted(store.get_contexts_by_type("pipeline_run"),
                  key=lambda context: (context.create_time_since_epoch, context.id))


def executions_by_node(store: mlmd.MetadataStore, run_context_id: int) -> Dict[str, object]:
    """Node id (e.g. 'Evaluator') -> the execution of that node in one pipeline run."""
    found = {}
    for execution in store.get_executions_by_context(run_context_id):
        for context in store.get_contexts_by_execution(execution.id):
            if context.type == "node":
                found[context.name.split(".", 1)[-1]] = execution
    return found


def find_run_id(metadata_path: pathlib.Path, execution_ids, since_ms: int) -> Optional[str]:
    """The id LocalDagRunner gave a run: the pipeline_run context of the run's executions (the
    ids TFX logged), else of the newest run begun since `since_ms` (Unix ms); None when TFX
    registered nothing."""
    if not metadata_path.exists():
        return None
    with open_store(metadata_path) as store:
        return run_of_executions(store, execution_ids) or newest_run_since(store, since_ms)


def run_of_executions(store: mlmd.MetadataStore, execution_ids) -> Optional[str]:
    """The run id (pipeline_run context name) of the first of `execution_ids` that has one."""
    for execution_id in execution_ids:
        for context in store.get_contexts_by_execution(execution_id):
            if context.type == "pipeline_run":
                return context.name
    return None


def newest_run_since(store: mlmd.MetadataStore, since_ms: int) -> Optional[str]:
    """The id of the newest run whose context was created at or after `since_ms` (Unix ms)."""
    runs = [run for run in pipeline_runs(store) if run.create_time_since_epoch >= since_ms]
    return runs[-1].name if runs else None
