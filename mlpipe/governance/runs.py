"""Every run of a problem, newest first, read from ML Metadata with batched queries.

A store holds hundreds of runs: the executions of every run are read with one query per run,
their node names with one query per pipeline node, and the events and the few artifacts a
summary needs with one query each, whatever the number of runs. Metrics come from the run
home's per-evaluation cache (`lineage.overall_metrics_cached`), TFMA only for an evaluation read
for the first time.
"""

import dataclasses
import datetime
import hashlib
import json
from typing import Dict, List, Optional

from ml_metadata.proto import metadata_store_pb2

from mlpipe.core import lineage, run_record
from mlpipe.core.artifacts import is_blessed, span_of
from mlpipe.core.contract import (EVALUATOR_ID, EXAMPLE_GEN_ID, PUSHER_ID, SCHEMA_GEN_ID,
                                  TRAINER_ID, TRANSFORM_ID)
from mlpipe.core.run_home import RunHome

# Node ids of the pipeline (mlpipe.pipeline.pipeline: TFX's default ids and `with_id` names).
EXAMPLE_GEN = EXAMPLE_GEN_ID
SCHEMA_GEN = SCHEMA_GEN_ID
STATISTICS_GEN = "StatisticsGen"
GATE = "AnomalyGate"
DRIFT_GATE = "DriftGate"  # mlpipe.components.drift_gate (data by span)
TRANSFORM, TRAINER, EVALUATOR, PUSHER = TRANSFORM_ID, TRAINER_ID, EVALUATOR_ID, PUSHER_ID

BLESSED_AND_PUSHED = "blessed and pushed"
NOT_BLESSED = "not blessed"
STOPPED_AT_GATE = "stopped at the gate"
STOPPED_AT_DRIFT_GATE = "stopped at the drift gate"
INCOMPLETE = "incomplete"  # no component failed, no blessing: killed, or still running
PUSHED_INCOMPLETE = "pushed, then incomplete"  # a step after the Pusher never finished

_Execution = metadata_store_pb2.Execution
_OUTPUT_EVENTS = (metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.DECLARED_OUTPUT)
_INPUT_EVENTS = (metadata_store_pb2.Event.INPUT, metadata_store_pb2.Event.DECLARED_INPUT)
# (node, output or input key) of the artifacts a summary or a lineage reads.
_OUTPUTS = [(EXAMPLE_GEN, "examples"), (SCHEMA_GEN, "schema"), (STATISTICS_GEN, "statistics"),
            (TRAINER, "model"), (EVALUATOR, "evaluation"), (EVALUATOR, "blessing"),
            (PUSHER, "pushed_model"), (DRIFT_GATE, "report")]
_INPUTS = [(EVALUATOR, "baseline_model")]
# Inputs that hold several artifacts: the Examples Transform read (a span window).
_INPUT_LISTS = [(TRANSFORM, "examples")]
# The DriftGate's report (mlpipe.components.drift_gate.executor's property names) and flag.
_REPORT_SPAN, _REPORT_PREVIOUS = "span", "previous_span"
_REPORT_DRIFTED, _REPORT_ACCEPTED = "drifted_features", "accepted_drift"
_ACCEPT_FLAG = "accept_drift"
# A ModelBlessing output of any node: the Evaluator's, and a gate's after it that re-blesses.
BLESSING = "blessing"


@dataclasses.dataclass
class RunSummary:
    run_id: str
    started: float                  # Unix seconds: when the run's first component registered
    seconds: Optional[float]        # from then to the last update of any of its executions
    outcome: str
    failed_component: Optional[str]
    metrics: Dict[str, float]       # the KPI metrics (and the main metric), overall slice
    pushed_version: Optional[str]
    data_fingerprint: Optional[str]  # TFX's input_fingerprint of the data ExampleGen read
    code_version: Optional[str]     # custom_config code_version passed to Trainer / Transform
    # Node -> its execution; (node, input or output key) -> artifact, for the keys read here.
    executions: Dict[str, _Execution] = dataclasses.field(repr=False, default_factory=dict)
    artifacts: Dict[tuple, metadata_store_pb2.Artifact] = dataclasses.field(
        repr=False, default_factory=dict)
    # Data by span (None / [] / None otherwise): the span the run ingested, the spans its model
    # trained on (data.window), and the DriftGate's verdict (see `drift_verdict`).
    span: Optional[int] = None
    trained_spans: List[int] = dataclasses.field(default_factory=list)
    drift: Optional[dict] = None

    @property
    def pushed_by_this_run(self) -> bool:
        """Whether this run's Pusher pushed (a cached Pusher re-reports an earlier push)."""
        pusher = self.executions.get(PUSHER)
        return bool(self.pushed_version) and pusher.last_known_state == _Execution.COMPLETE

    def to_json(self) -> dict:
        return {"run_id": self.run_id, "started": iso_time(self.started),
                "seconds": self.seconds, "outcome": self.outcome,
                "failed_component": self.failed_component, "metrics": self.metrics,
                "pushed_version": self.pushed_version,
                "data_fingerprint": self.data_fingerprint, "code_version": self.code_version,
                "span": self.span, "trained_on_spans": self.trained_spans,
                "drift_gate": self.drift}


def collect_runs(store, home: RunHome, metric_names: List[str]) -> List[RunSummary]:
    """Every run in the store, newest first."""
    runs = lineage.pipeline_runs(store)
    node_of = _node_names(store)
    executions_by_run = {run.id: store.get_executions_by_context(run.id) for run in runs}
    every_execution = [e.id for executions in executions_by_run.values() for e in executions]
    events = store.get_events_by_execution_ids(every_execution) if every_execution else []
    wanted = {**{key: _OUTPUT_EVENTS for key in _OUTPUTS},
              **{key: _INPUT_EVENTS for key in _INPUTS}}
    artifact_of: Dict[tuple, int] = {}   # (execution id, key) -> artifact id
    artifacts_of: Dict[tuple, List[int]] = {}  # (execution id, key) -> ids, for _INPUT_LISTS
    for event in events:
        key = event.path.steps[0].key if event.path.steps else None
        node = node_of.get(event.execution_id)
        if (node, key) in wanted and event.type in wanted[(node, key)] \
                or key == BLESSING and event.type in _OUTPUT_EVENTS:
            artifact_of[(event.execution_id, key)] = event.artifact_id
        if (node, key) in _INPUT_LISTS and event.type in _INPUT_EVENTS:
            artifacts_of.setdefault((event.execution_id, key), []).append(event.artifact_id)
    every_id = set(artifact_of.values()) | {i for ids in artifacts_of.values() for i in ids}
    artifacts = {artifact.id: artifact
                 for artifact in store.get_artifacts_by_id(sorted(every_id))} \
        if every_id else {}
    summaries = []
    for run in runs:
        nodes = _by_node(executions_by_run[run.id], node_of)
        found = {}
        for node, key in [*wanted, *((node, BLESSING) for node in nodes)]:
            execution = nodes.get(node)
            artifact_id = artifact_of.get((execution.id, key)) if execution else None
            if artifact_id in artifacts:
                found[(node, key)] = artifacts[artifact_id]
        summary = _summary(run, nodes, found, home, metric_names)
        transform = nodes.get(TRANSFORM)
        read = artifacts_of.get((transform.id, "examples"), []) if transform else []
        _add_spans(summary, [artifacts[i] for i in read if i in artifacts])
        summaries.append(summary)
    return sorted(summaries, key=lambda s: (s.started, s.run_id), reverse=True)


def _add_spans(summary: RunSummary, trained_on: List[metadata_store_pb2.Artifact]) -> None:
    """Data by span (a span spec in the pattern the ExampleGen was given): the span, the spans
    trained on, the drift gate's verdict."""
    example_gen = summary.executions.get(EXAMPLE_GEN)
    if example_gen is None or not lineage.reads_spans(example_gen):
        return
    examples = summary.artifacts.get((EXAMPLE_GEN, "examples"))
    summary.span = span_of(examples) if examples is not None else None
    summary.trained_spans = sorted({span_of(artifact) for artifact in trained_on})
    summary.drift = drift_verdict(summary.executions.get(DRIFT_GATE),
                                  summary.artifacts.get((DRIFT_GATE, "report")))


def drift_verdict(gate: Optional[_Execution], report) -> Optional[dict]:
    """What the DriftGate decided: the spans compared, the features that crossed, whether the
    crossing was accepted (--accept-drift) and whether that flag was given; None without a gate
    (a run stopped by the gate has no report: its outcome says so)."""
    if gate is None:
        return None
    flag = bool(gate.custom_properties[_ACCEPT_FLAG].int_value) \
        if _ACCEPT_FLAG in gate.custom_properties else False
    if report is None:
        return {"passed": False, "accept_drift_flag": flag}
    previous = report.custom_properties[_REPORT_PREVIOUS].int_value
    drifted = report.custom_properties[_REPORT_DRIFTED].string_value
    return {"passed": True, "span": report.custom_properties[_REPORT_SPAN].int_value,
            "previous_span": None if previous < 0 else previous,
            "drifted_features": [name for name in drifted.split(", ") if name],
            "accepted": bool(report.custom_properties[_REPORT_ACCEPTED].int_value),
            "accept_drift_flag": flag}


def drift_text(drift: Optional[dict]) -> str:
    """A run's drift gate verdict in a few words."""
    if drift is None:
        return "-"
    if not drift["passed"]:
        return "stopped" + (" (--accept-drift given)" if drift["accept_drift_flag"] else "")
    if drift["previous_span"] is None:
        return "first span"
    if drift["accepted"]:
        return f"ACCEPTED vs {drift['previous_span']}: {', '.join(drift['drifted_features'])}"
    return f"passed vs {drift['previous_span']}"


def _node_names(store) -> Dict[int, str]:
    """Execution id -> node id, for every execution in the store."""
    found = {}
    for context in store.get_contexts_by_type("node"):
        name = context.name.split(".", 1)[-1]
        for execution in store.get_executions_by_context(context.id):
            found[execution.id] = name
    return found


def _by_node(executions, node_of: Dict[int, str]) -> Dict[str, _Execution]:
    """Node -> its execution in one run (the last registered when a node ran twice)."""
    nodes = {}
    for execution in sorted(executions, key=lambda e: e.id):
        nodes[node_of.get(execution.id, execution.type)] = execution
    return nodes


def _summary(run, nodes, artifacts, home: RunHome, metric_names: List[str]) -> RunSummary:
    started = run.create_time_since_epoch / 1000
    updates = [e.last_update_time_since_epoch for e in nodes.values()]
    seconds = round(max(updates) / 1000 - started, 3) if updates else None
    pushed = artifacts.get((PUSHER, "pushed_model"))
    pushed_version = (pushed.custom_properties["pushed_version"].string_value
                      if pushed and pushed.custom_properties["pushed"].int_value == 1 else None)
    blessings = blessings_of(artifacts)
    failed = _failed_node(nodes)
    if failed is None and pushed_version is None and not blessings:
        # No failure in ML Metadata and no outcome: the run's own record may name one (a step
        # that failed before TFX registered an execution).
        record = run_record.read_record(home.provenance_dir, run.name)
        failed = record.get("failed_component") if record else None
    evaluation = artifacts.get((EVALUATOR, "evaluation"))
    return RunSummary(
        run_id=run.name, started=started, seconds=seconds,
        outcome=outcome(failed, blessings, pushed_version, _unfinished(nodes)),
        failed_component=failed,
        metrics=run_metrics(home, evaluation.uri, metric_names) if evaluation else {},
        pushed_version=pushed_version, data_fingerprint=data_fingerprint(nodes, artifacts),
        code_version=code_version(nodes), executions=nodes, artifacts=artifacts)


def outcome(failed: Optional[str], blessings: Dict[str, bool],
            pushed_version: Optional[str], unfinished: bool = False) -> str:
    if failed:
        return {GATE: STOPPED_AT_GATE, DRIFT_GATE: STOPPED_AT_DRIFT_GATE}.get(
            failed, f"failed at {failed}")
    if pushed_version:
        return PUSHED_INCOMPLETE if unfinished else BLESSED_AND_PUSHED
    if not all(blessings.values()):
        return NOT_BLESSED
    return INCOMPLETE


def blessings_of(artifacts) -> Dict[str, bool]:
    """Node -> whether its blessing blessed the model (the Evaluator's, and any gate's)."""
    return {node: is_blessed(artifact) for (node, key), artifact in artifacts.items()
            if key == BLESSING}


def _unfinished(nodes: Dict[str, _Execution]) -> bool:
    """Whether a step of the run never finished (killed, or still running)."""
    return any(execution.last_known_state in (_Execution.NEW, _Execution.RUNNING)
               for execution in nodes.values())


def _failed_node(nodes: Dict[str, _Execution]) -> Optional[str]:
    failed = [(execution.id, node) for node, execution in nodes.items()
              if execution.last_known_state == _Execution.FAILED]
    return min(failed)[1] if failed else None


def run_metrics(home: RunHome, evaluation_uri: str, names: List[str]) -> Dict[str, float]:
    """The named overall metrics of one evaluation: from the run home's cache when a command
    read them before (every `mlpipe run` does), else from TFMA once, then cached."""
    cached = lineage.cached_metrics_path(evaluation_uri, home.summaries_dir)
    try:
        metrics = json.loads(cached.read_text())
    except (OSError, ValueError):
        located = home.locate(evaluation_uri)
        if not (located / lineage.EVAL_CONFIG_FILE).exists():
            return {}
        try:
            metrics = lineage.overall_metrics_cached(evaluation_uri, home.summaries_dir,
                                                     read_from=str(located))
        except Exception:  # noqa: BLE001 - an unreadable evaluation shows no metrics, the
            return {}      # other runs are still listed
    return {name: metrics[name] for name in names if name in metrics}


def data_fingerprint(nodes, artifacts) -> Optional[str]:
    examples = artifacts.get((EXAMPLE_GEN, "examples"))
    if examples is not None and "input_fingerprint" in examples.custom_properties:
        return examples.custom_properties["input_fingerprint"].string_value
    example_gen = nodes.get(EXAMPLE_GEN)
    if example_gen is not None and "input_fingerprint" in example_gen.custom_properties:
        return example_gen.custom_properties["input_fingerprint"].string_value
    return None


def custom_config(execution: Optional[_Execution]) -> Optional[dict]:
    """The custom_config TFX passed to an execution (stored as JSON in its properties)."""
    if execution is None or "custom_config" not in execution.custom_properties:
        return None
    try:
        value = json.loads(execution.custom_properties["custom_config"].string_value)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def code_version(nodes) -> Optional[str]:
    for node in (TRAINER, TRANSFORM):
        config = custom_config(nodes.get(node))
        if config and config.get("code_version"):
            return config["code_version"]
    return None


def short_digest(text: Optional[str], length: int = 12) -> Optional[str]:
    """A short, stable stand-in for a long value (the data fingerprint) in a table."""
    return hashlib.sha256(text.encode()).hexdigest()[:length] if text else None


def iso_time(seconds: float) -> str:
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).isoformat(
        timespec="milliseconds")
