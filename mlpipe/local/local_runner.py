"""Runs `create_pipeline()` locally: TFX's LocalDagRunner on Beam's DirectRunner, SQLite metadata.

The run shows each component's progress on `out`, sends TensorFlow/Beam/TFX logs to a log file
in the run home, and returns a `RunResult` read back from ML Metadata. Input data is checked
(preflight) before TFX is even imported, so bad input fails fast and touches nothing. A re-run
that TFX would serve entirely from its cache is recognised before TFX is imported too, and
answered from the last run's record (`mlpipe.local.unchanged_run`).
"""

import contextlib
import dataclasses
import errno
import hashlib
import importlib.metadata
import json
import logging
import os
import pathlib
import shutil
import sys
import time
from typing import Iterator, List, Optional, TextIO

from absl import logging as absl_logging

from mlpipe.config import ProblemConfig
from mlpipe.core import lineage, run_record
from mlpipe.core.contract import EVALUATOR_ID, PUSHER_ID, TRANSFORM_ID
from mlpipe.core.artifacts import is_blessed, span_of
from mlpipe.core.code_version import trainer_code_version
from mlpipe.core.run_home import RunHome
from mlpipe.core.schema_io import load_schema, numeric_columns, schema_text
from mlpipe.errors import CallFailedError
from mlpipe.process import loopback_without_proxy
from mlpipe.local import unchanged_run
from mlpipe.local.preflight import DataSummary, check_input_data
from mlpipe.local.progress import ComponentRun, ProgressReporter
from mlpipe.pipeline.span_files import SpanChoice, choose_span
from mlpipe.pipeline.runner_settings import (RunnerSettings, direct_runner_args,
                                             evaluator_runner_args)

TRANSFORM_EXAMPLES_KEY = "examples"  # Transform's input: the spans the model trained on
# The RunResult fields an unchanged re-run takes from the run it stands for.
OUTCOME_FIELDS = ("blessed", "evaluation_uri", "pushed_version", "inference_uri", "metrics",
                  "fairness_uri", "fairness_failures", "trained_spans", "drift")


class PipelineFailed(CallFailedError):
    """A component failed; carries what the CLI needs to explain it."""

    def __init__(self, component: str, error: BaseException, log_file: pathlib.Path):
        super().__init__(f"{component} failed: {error}")
        self.component = component
        self.error = error
        self.log_file = log_file

    def account(self, lines_shown: int = 20) -> str:
        """The failing component, the first lines of its error, and where the full log is."""
        lines = str(self.error).splitlines() or [type(self.error).__name__]
        shown = lines[:lines_shown] + (["  ..."] if len(lines) > lines_shown else [])
        headline = f"\nFAILED at {self.component}: {type(self.error).__name__}"
        if out_of_space(self.error):
            home = self.log_file.parent.parent
            headline = (f"\nFAILED at {self.component}: no space left on the device of {home} "
                        f"({_free_mb(home)} MB free); free space and rerun: the steps that "
                        f"completed are reused from the cache ({type(self.error).__name__})")
        return "\n".join([headline, *shown,
                          "Nothing downstream ran; no model was pushed by this run.",
                          f"Full log: {self.log_file}"])


# How a full disk reads through the layers a step writes with: the OS (ENOSPC), ML Metadata's
# SQLite ("database or disk is full"), TensorFlow's file system ("No space left on device").
_OUT_OF_SPACE_TEXTS = ("no space left on device", "database or disk is full")


def out_of_space(error: BaseException) -> bool:
    """Whether `error`, or an error it was raised from, is a full disk."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno == errno.ENOSPC:
            return True
        if any(text in str(error).lower() for text in _OUT_OF_SPACE_TEXTS):
            return True
        error = error.__cause__ or error.__context__
    return False


def _free_mb(path: pathlib.Path) -> int:
    try:
        return shutil.disk_usage(path).free // 2**20
    except OSError:
        return 0


@dataclasses.dataclass
class RunResult:
    components: List[ComponentRun]
    data: DataSummary
    log_file: pathlib.Path
    metadata_path: pathlib.Path
    blessed: Optional[bool] = None
    evaluation_uri: Optional[str] = None
    pushed_version: Optional[str] = None
    inference_uri: Optional[str] = None
    metrics: dict = dataclasses.field(default_factory=dict)
    # With an evaluation.fairness section: the FairnessGate's fairness.json, and the bounds its
    # judged slices broke ("group=b: fpr 0.4100 > max 0.3"); the run's blessing is the gate's.
    fairness_uri: Optional[str] = None
    fairness_failures: List[str] = dataclasses.field(default_factory=list)
    # Data by span: the span ingested (and those found), the spans the model trained on (the
    # data.window), and the DriftGate's drift.json.
    span: Optional[SpanChoice] = None
    trained_spans: List[int] = dataclasses.field(default_factory=list)
    drift: Optional[dict] = None
    # An unchanged re-run: nothing ran; the outcome is that of this earlier run (its id, or ""
    # when TFX gave it none).
    unchanged_since: Optional[str] = None


def run_local(config: ProblemConfig, home: RunHome, out: TextIO = sys.stdout,
              span=None, accept_drift: bool = False, recheck: bool = False) -> RunResult:
    """`span`: with data by span, the span to ingest (a number, or a date YYYY-MM-DD for a
    date pattern; default: the newest); `accept_drift`: the DriftGate lets a crossing through
    in this run; `recheck`: go through TFX even when nothing changed since the last run."""
    start = run_record.RunStart.capture(config)  # config file, schema and code as the run starts
    chosen = choose_span(config.data.path, span)
    data = check_input_data(config, numeric_columns(load_schema(config.schema_path)), chosen)
    with home.run_lock():
        return _run_locked(config, home, out, start, chosen, data, accept_drift, recheck)


def _run_locked(config: ProblemConfig, home: RunHome, out: TextIO, start: run_record.RunStart,
                chosen, data: DataSummary, accept_drift: bool, recheck: bool) -> RunResult:
    home.create()
    log_file = home.new_log_file()
    reporter = ProgressReporter(out)
    with _logs_to(log_file, reporter):
        try:
            settings = _local_settings(config, home, data,
                                       span=chosen.span if chosen else None,
                                       accept_drift=accept_drift)
            pipeline_key = _pipeline_key(config, settings, start.package_fingerprint)
            run_key = unchanged_run.run_key(pipeline_key, data.contents)
            previous = None if recheck else unchanged_run.find_unchanged(
                home.last_run_path, home.metadata_path, run_key)
            if previous is not None:
                return _unchanged_result(previous, data, home, log_file, chosen, reporter)
            _run_pipeline(config, settings, home, pipeline_key)
        except Exception as error:  # noqa: BLE001 - any component error is reported, then raised
            logging.exception("pipeline run failed")
            failed = reporter.mark_failed()
            component = failed.name if failed else "pipeline"
            _record_provenance(home, start, data, log_file, reporter, component, error)
            raise PipelineFailed(component, error, log_file) from error
        run_id = _record_provenance(home, start, data, log_file, reporter)
        result = RunResult(components=reporter.components, data=data, log_file=log_file,
                           metadata_path=home.metadata_path, span=chosen)
        _read_outcome(result, home, reporter)
        _remember(home, run_key, run_id, result)
    return result


def _remember(home: RunHome, run_key: str, run_id: Optional[str], result: RunResult) -> None:
    """Records the completed run, so an unchanged re-run is recognised without TFX. A record
    that cannot be written only costs the next re-run its shortcut."""
    try:
        components = [{"name": c.name, "state": c.state, "execution_id": c.execution_id}
                      for c in result.components]
        with lineage.open_store(home.metadata_path) as store:
            outputs = lineage.output_uris(store, [c.execution_id for c in result.components
                                                  if c.execution_id])
        outcome = {name: getattr(result, name) for name in OUTCOME_FIELDS}
        unchanged_run.remember(home.last_run_path, home.metadata_path, run_key,
                               unchanged_run.PreviousRun(run_id, components, outcome), outputs)
    except Exception:  # noqa: BLE001 - the record must not hide the run's own outcome
        logging.exception("could not record the run for unchanged re-runs")


def _unchanged_result(previous: unchanged_run.PreviousRun, data: DataSummary, home: RunHome,
                      log_file: pathlib.Path, chosen: Optional[SpanChoice],
                      reporter: ProgressReporter) -> RunResult:
    logging.info("Unchanged since run %s (config, code, data files and metadata store as it "
                 "left them, its outputs in place): nothing runs; --recheck asks TFX's cache",
                 previous.run_id)
    for component in previous.components:
        reporter.unchanged(component["name"], component["execution_id"])
    return RunResult(components=reporter.components, data=data, log_file=log_file,
                     metadata_path=home.metadata_path, span=chosen,
                     unchanged_since=previous.run_id or "",
                     **{name: previous.outcome[name] for name in OUTCOME_FIELDS})


def _record_provenance(home: RunHome, start: run_record.RunStart, data: DataSummary,
                       log_file: pathlib.Path, reporter: ProgressReporter,
                       failed_component: Optional[str] = None,
                       error: Optional[BaseException] = None) -> Optional[str]:
    """Writes the run's provenance record (`mlpipe.core.run_record`) into the run home: whatever
    the outcome, and never in place of it (a record that cannot be written is logged). Returns
    the run id."""
    run_id = None
    try:
        run_id = lineage.find_run_id(
            home.metadata_path, [c.execution_id for c in reporter.components if c.execution_id],
            since_ms=int(start.time * 1000))
        run_record.write_record(home.provenance_dir, run_record.new_record(
            start, run_id=run_id, data=data.contents, run_home=home.root, log_file=log_file,
            finished=time.time(), failed_component=failed_component, error=error))
    except Exception:  # noqa: BLE001 - the audit record must not hide the run's own outcome
        logging.exception("could not write the run's provenance record")
    return run_id


def _local_settings(config: ProblemConfig, home: RunHome, data: DataSummary,
                    span: Optional[int] = None, accept_drift: bool = False) -> RunnerSettings:
    beam_args = [*direct_runner_args(config.beam), *config.beam.extra_args]
    eval_rows = data.rows * config.data.split.get("eval", 0) // sum(config.data.split.values())
    return RunnerSettings(
        pipeline_root=str(home.pipeline_root), serving_dir=str(home.serving_dir),
        schema_text=schema_text(config.schema_path), code_version=trainer_code_version(),
        metadata_path=str(home.metadata_path), beam_args=beam_args,
        evaluator_beam_args=evaluator_runner_args(config.beam, eval_rows,
                                                  len(os.sched_getaffinity(0))),
        # The span the preflight check read is the one the ExampleGen ingests (pinned), even if
        # a newer one lands meanwhile.
        span=span, accept_drift=accept_drift)


def _run_pipeline(config: ProblemConfig, settings: RunnerSettings, home: RunHome,
                  pipeline_key: str) -> None:
    # TFX: only once the input check has passed (importing it takes seconds).
    from tfx.orchestration.local.local_dag_runner import LocalDagRunner
    with loopback_without_proxy():  # the Evaluator's Beam workers are reached on localhost
        LocalDagRunner().run_with_ir(_compiled_pipeline(config, settings, home, pipeline_key))


def _pipeline_key(config: ProblemConfig, settings: RunnerSettings, package: str) -> str:
    """What the compiled pipeline is made of: config, settings, package code (`package`, its
    fingerprint as the run started), TFX version."""
    return hashlib.sha256(json.dumps({
        "config": config.model_dump(mode="json"),
        "settings": dataclasses.asdict(settings),
        "package": package,
        "tfx": importlib.metadata.version("tfx"),
    }, sort_keys=True).encode()).hexdigest()[:16]


def _compiled_pipeline(config: ProblemConfig, settings: RunnerSettings, home: RunHome,
                       key: str):
    """The pipeline IR, compiled once per `_pipeline_key`.

    Building the Python pipeline imports every component's executor module (TFMA, TFDV, TFT, ...,
    about 10 s); a re-run whose graph has not changed loads the IR instead, and components served
    from the cache never import their executors.
    """
    # TFX: only after the input check; the compiler only when no compiled IR is cached.
    from tfx.proto.orchestration import pipeline_pb2
    compiled = home.compiled_dir / f"pipeline-{key}.pb"
    if compiled.exists():
        return pipeline_pb2.Pipeline.FromString(compiled.read_bytes())
    from tfx.dsl.compiler import compiler

    from mlpipe.pipeline.pipeline import create_pipeline  # imports TFX's components: slow
    ir = compiler.Compiler().compile(create_pipeline(config, settings))
    home.compiled_dir.mkdir(parents=True, exist_ok=True)
    partial = compiled.with_suffix(".partial")
    partial.write_bytes(ir.SerializeToString())
    partial.replace(compiled)
    return ir


@contextlib.contextmanager
def _logs_to(log_file: pathlib.Path, reporter: ProgressReporter) -> Iterator[None]:
    """Python logging, warnings and everything written to fd 2 (TF's C++ logs) go to `log_file`;
    absl's records also feed the progress reporter."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    file_handler = logging.FileHandler(log_file)
    file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.handlers = [file_handler, reporter]
    root.setLevel(logging.INFO)
    # Beam executors re-parse absl flags, which re-applies absl's verbosity to its logger: set the
    # flag itself, or TFX's INFO records (the progress events) would be dropped mid-run.
    absl_logging.set_verbosity(absl_logging.INFO)
    logging.captureWarnings(True)
    sys.stderr.flush()
    saved_stderr = os.dup(2)
    with open(log_file, "ab", buffering=0) as raw_log:
        os.dup2(raw_log.fileno(), 2)
        try:
            yield
        finally:
            # On a full disk the log's last lines cannot be written: that must not hide the
            # run's own outcome (a failure naming the component and the full disk).
            with contextlib.suppress(OSError):
                sys.stderr.flush()
            os.dup2(saved_stderr, 2)
            os.close(saved_stderr)
            root.handlers, root.level = saved_handlers, saved_level
            logging.captureWarnings(False)
            with contextlib.suppress(OSError):
                file_handler.close()


def _read_outcome(result: RunResult, home: RunHome, reporter: ProgressReporter) -> None:
    """Blessing, evaluation and pushed version, read from ML Metadata by execution id."""
    components = reporter.by_name()
    with lineage.open_store(home.metadata_path) as store:
        evaluator = components.get(EVALUATOR_ID)
        if evaluator and evaluator.execution_id:
            outputs = lineage.outputs_of(store, evaluator.execution_id)
            if "blessing" in outputs:
                result.blessed = is_blessed(outputs["blessing"])
            if "evaluation" in outputs:
                result.evaluation_uri = outputs["evaluation"].uri
        _read_fairness_gate(result, store, components.get("FairnessGate"))
        _read_spans(result, store, components)
        pusher = components.get(PUSHER_ID)
        if pusher and pusher.execution_id:
            result.pushed_version = lineage.pushed_destination(store, pusher.execution_id)
        inferrer = components.get("BulkInferrer")
        if inferrer and inferrer.execution_id and result.blessed:
            scored = lineage.outputs_of(store, inferrer.execution_id).get("inference_result")
            result.inference_uri = scored.uri if scored else None
    if result.evaluation_uri:
        result.metrics = lineage.overall_metrics_cached(result.evaluation_uri,
                                                        home.summaries_dir)


def _read_fairness_gate(result: RunResult, store, gate: Optional[ComponentRun]) -> None:
    """The FairnessGate's blessing replaces the Evaluator's (it is the one the Pusher read)."""
    if not (gate and gate.execution_id):
        return
    # TFX is loaded by now; a top-level import would load it before the input check.
    from mlpipe.components import fairness_gate
    outputs = lineage.outputs_of(store, gate.execution_id)
    if fairness_gate.BLESSING_KEY in outputs:
        result.blessed = is_blessed(outputs[fairness_gate.BLESSING_KEY])
    if fairness_gate.FAIRNESS_KEY in outputs:
        result.fairness_uri = outputs[fairness_gate.FAIRNESS_KEY].uri
        result.fairness_failures = list(
            fairness_gate.read_fairness(result.fairness_uri).get("failures", []))


def _read_spans(result: RunResult, store, components) -> None:
    """The spans Transform read (the model's training data) and the DriftGate's verdict."""
    transform = components.get(TRANSFORM_ID)
    if result.span is not None and transform and transform.execution_id:
        result.trained_spans = sorted({span_of(artifact) for artifact in lineage.input_artifacts(
            store, transform.execution_id, TRANSFORM_EXAMPLES_KEY)})
    gate = components.get("DriftGate")
    if gate and gate.execution_id:
        # TFX is loaded by now; a top-level import would load it before the input check.
        from mlpipe.components import drift_gate
        report = lineage.outputs_of(store, gate.execution_id).get(drift_gate.REPORT_KEY)
        result.drift = drift_gate.read_report(report.uri) if report else None
