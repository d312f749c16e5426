"""The live progress display (`ProgressReporter`), fed synthetic log records carrying TFX 1.16's
exact message templates; fast (no pipeline run).

The reporter recognises TFX's records by their template, so the templates are checked against
the installed TFX sources too: a TFX upgrade that rewords them fails here, not as a silently
empty progress display.
"""

import io
import logging
import pathlib

import pytest
import tfx

from mlpipe.core.contract import TRAINING_PLAN_LOG
from mlpipe.local import progress
from mlpipe.local.progress import ComponentRun, ProgressReporter

TFX_ROOT = pathlib.Path(tfx.__file__).parent
DAG_RUNNER = "orchestration/local/local_dag_runner.py"
LAUNCHER = "orchestration/portable/launcher.py"

# TFX 1.16's templates: the reporter's constant, the literal, and the call that logs it in TFX.
STARTED = "Component %s is running."
FINISHED = "Component %s is finished."
CACHED = "A cached execution %d is used."
EXECUTING = "Going to run a new execution %d"
FAILED = "Execution %d failed."
TEMPLATES = [
    (progress._STARTED, STARTED, DAG_RUNNER, "logging.info"),
    (progress._FINISHED, FINISHED, DAG_RUNNER, "logging.info"),
    (progress._CACHED, CACHED, LAUNCHER, "logging.info"),
    (progress._EXECUTING, EXECUTING, LAUNCHER, "logging.info"),
    (progress._FAILED, FAILED, LAUNCHER, "logging.error"),
]


def _record(template, *args, level=logging.INFO):
    """A record as absl's logging.info(template, *args) in TFX makes it."""
    return logging.LogRecord("absl", level, str(TFX_ROOT / LAUNCHER), 1, template, args, None)


def _feed(reporter, *records):
    for template, *args in records:
        level = logging.ERROR if template == FAILED else logging.INFO
        reporter.handle(_record(template, *args, level=level))


class _Clock:
    """The reporter's clock, moved by hand."""

    def __init__(self):
        self.now = 1000.0

    def monotonic(self):
        return self.now

    def tick(self, seconds):
        self.now += seconds


@pytest.fixture
def clock(monkeypatch):
    clock = _Clock()
    monkeypatch.setattr(progress, "time", clock)
    monkeypatch.setattr(progress, "ComponentRun",
                        lambda **fields: ComponentRun(**{"started": clock.now, **fields}))
    return clock


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def _run(reporter, clock, name, *middle, seconds=1.0, end=FINISHED):
    """One component: its start record, `middle` records, `seconds` later its end record."""
    _feed(reporter, (STARTED, name), *middle)
    clock.tick(seconds)
    if end is not None:
        _feed(reporter, (end, name) if end == FINISHED else end)


@pytest.mark.parametrize("constant, template, source, call", TEMPLATES,
                         ids=[t[1] for t in TEMPLATES])
def test_templates_are_the_ones_tfx_logs(constant, template, source, call):
    assert constant == template
    text = (TFX_ROOT / source).read_text()
    assert f"{call}('{template}'" in text, (
        f"{source} of the installed TFX no longer logs {template!r}: "
        "update the templates in mlpipe/local/progress.py")


def test_executed_component(clock):
    out = io.StringIO()
    reporter = ProgressReporter(out)
    _run(reporter, clock, "CsvExampleGen", (EXECUTING, 7), seconds=2.5)
    component, = reporter.components
    assert (component.name, component.state, component.execution_id) == \
        ("CsvExampleGen", "executed", 7)
    assert component.seconds == pytest.approx(2.5)
    assert reporter.current is None
    assert out.getvalue() == "  ✓  CsvExampleGen        executed     2.5s\n"


def test_cached_component(clock):
    out = io.StringIO()
    reporter = ProgressReporter(out)
    _run(reporter, clock, "StatisticsGen", (CACHED, 8), seconds=0.4)
    component, = reporter.components
    assert (component.state, component.execution_id) == ("cached", 8)
    assert out.getvalue() == "  =  StatisticsGen        cached       0.4s\n"


def test_resolver_without_an_execution_is_resolved(clock):
    out = io.StringIO()
    reporter = ProgressReporter(out)
    _run(reporter, clock, "baseline_resolver", seconds=0.1)
    component, = reporter.components
    assert (component.state, component.execution_id) == ("resolved", None)
    assert out.getvalue() == "  ✓  baseline_resolver    resolved     0.1s\n"


def test_failed_execution(clock):
    out = io.StringIO()
    reporter = ProgressReporter(out)
    _run(reporter, clock, "Trainer", (EXECUTING, 9), seconds=12.0, end=(FAILED, 9))
    component, = reporter.components
    assert (component.state, component.execution_id) == ("failed", 9)
    assert reporter.current is None
    assert out.getvalue() == "  ✗  Trainer              failed      12.0s\n"
    # The run then raises: mark_failed names the component and prints nothing more.
    assert reporter.mark_failed() is component
    assert out.getvalue().count("\n") == 1


def test_mark_failed_fails_the_running_component(clock):
    out = io.StringIO()
    reporter = ProgressReporter(out)
    _run(reporter, clock, "CsvExampleGen", (EXECUTING, 1))
    _run(reporter, clock, "Transform", (EXECUTING, 3), seconds=4.0, end=None)
    failed = reporter.mark_failed()  # the executor raised before TFX logged "failed"
    assert failed.name == "Transform" and failed.state == "failed"
    assert failed.execution_id == 3
    assert reporter.by_name()["CsvExampleGen"].state == "executed"
    assert out.getvalue().splitlines()[-1] == "  ✗  Transform            failed       4.0s"


def test_mark_failed_with_nothing_running_or_failed(clock):
    out = io.StringIO()
    reporter = ProgressReporter(out)
    assert reporter.mark_failed() is None
    _run(reporter, clock, "CsvExampleGen", (EXECUTING, 1))
    assert reporter.mark_failed() is None  # the error came after the last component
    assert out.getvalue() == "  ✓  CsvExampleGen        executed     1.0s\n"


def test_a_run_prints_one_line_per_component_when_not_a_terminal(clock):
    out = io.StringIO()
    reporter = ProgressReporter(out)
    _run(reporter, clock, "CsvExampleGen", (EXECUTING, 1), seconds=3.0)
    _run(reporter, clock, "StatisticsGen", (CACHED, 2), seconds=0.5)
    _run(reporter, clock, "baseline_resolver", seconds=0.0)
    _run(reporter, clock, "Evaluator", (EXECUTING, 4), seconds=61.3, end=(FAILED, 4))
    assert out.getvalue().splitlines() == [
        "  ✓  CsvExampleGen        executed     3.0s",
        "  =  StatisticsGen        cached       0.5s",
        "  ✓  baseline_resolver    resolved     0.0s",
        "  ✗  Evaluator            failed      61.3s",
    ]
    assert "\r" not in out.getvalue() and "running" not in out.getvalue()
    assert {name: (run.state, run.execution_id) for name, run in reporter.by_name().items()} == {
        "CsvExampleGen": ("executed", 1), "StatisticsGen": ("cached", 2),
        "baseline_resolver": ("resolved", None), "Evaluator": ("failed", 4)}


def test_a_terminal_shows_the_running_component_then_rewrites_its_line(clock):
    out = _Terminal()
    reporter = ProgressReporter(out)
    _feed(reporter, (STARTED, "Trainer"), (EXECUTING, 5))
    assert out.getvalue() == "  …  Trainer              running"
    clock.tick(7.0)
    _feed(reporter, (FINISHED, "Trainer"))
    assert out.getvalue() == ("  …  Trainer              running"
                              "\r  ✓  Trainer              executed     7.0s   \n")


def test_unrelated_records_are_ignored(clock):
    out = io.StringIO()
    reporter = ProgressReporter(out)
    # Execution and end records with no component running.
    _feed(reporter, (EXECUTING, 1), (CACHED, 2), (FAILED, 3), (FINISHED, "Trainer"))
    # Other records, including TFX's other "new execution" message and the text of a start
    # record logged without its template.
    reporter.handle(_record("Going to run a new execution: %s", "ExecutionInfo(...)"))
    reporter.handle(_record("Component Trainer is running."))
    reporter.handle(_record("Component %s is running", "Trainer"))
    reporter.handle(_record("Feature %s has no values", "fare", level=logging.WARNING))
    assert reporter.components == [] and reporter.current is None
    assert out.getvalue() == ""
    # ... and while a component runs, they change nothing either.
    _feed(reporter, (STARTED, "Trainer"))
    reporter.handle(_record("Going to run a new execution: %s", "ExecutionInfo(...)"))
    reporter.handle(_record("Component Trainer is finished."))
    reporter.handle(_record("Execution 9 failed."))
    assert reporter.current.state == "running" and reporter.current.execution_id is None
    assert out.getvalue() == ""


def test_the_trainer_s_plan_is_shown_under_its_line(clock):
    out = io.StringIO()
    reporter = ProgressReporter(out)
    _feed(reporter, (STARTED, "Trainer"), (EXECUTING, 5))
    reporter.handle(_record(TRAINING_PLAN_LOG + " %s", "one device (auto: no GPU); float32"))
    clock.tick(7.0)
    _feed(reporter, (FINISHED, "Trainer"))
    assert out.getvalue().splitlines() == [
        "  ✓  Trainer              executed     7.0s",
        "       training: one device (auto: no GPU); float32"]
