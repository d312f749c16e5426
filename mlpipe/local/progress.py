"""Live progress of a local run: each component's state, duration and whether it was cached.

TFX's LocalDagRunner and launcher announce each step through absl logging with fixed message
templates; this handler watches those records (not their text) and renders one line per
component. It is a pure observer: the runner itself is TFX's, unchanged. The Trainer's own line
saying what it trains on (core.contract.TRAINING_PLAN_LOG) is shown under its component's line.
"""

import dataclasses
import logging
import time
from typing import Dict, List, Optional, TextIO

from mlpipe.core.contract import TRAINING_PLAN_LOG

# TFX 1.16's message templates (tfx/orchestration/local/local_dag_runner.py, portable/launcher.py).
_STARTED = "Component %s is running."
_FINISHED = "Component %s is finished."
_CACHED = "A cached execution %d is used."
_EXECUTING = "Going to run a new execution %d"
_FAILED = "Execution %d failed."


@dataclasses.dataclass
class ComponentRun:
    name: str
    state: str = "running"  # running -> executed | cached | resolved | failed; or unchanged
    execution_id: Optional[int] = None
    started: float = dataclasses.field(default_factory=time.monotonic)
    seconds: float = 0.0
    training_plan: str = ""


class ProgressReporter(logging.Handler):

    def __init__(self, out: TextIO):
        super().__init__(level=logging.INFO)
        self._out = out
        self._live = out.isatty()
        self.components: List[ComponentRun] = []
        self.current: Optional[ComponentRun] = None

    def by_name(self) -> Dict[str, ComponentRun]:
        return {component.name: component for component in self.components}

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg == _STARTED:
            self.current = ComponentRun(name=str(record.args[0]))
            self.components.append(self.current)
            if self._live:
                self._out.write(f"  …  {self.current.name:<20} running")
                self._out.flush()
        elif record.msg in (_CACHED, _EXECUTING) and self.current:
            self.current.execution_id = int(record.args[0])
            self.current.state = "cached" if record.msg == _CACHED else "executing"
        elif self.current and str(record.msg).startswith(TRAINING_PLAN_LOG):
            self.current.training_plan = record.getMessage()[len(TRAINING_PLAN_LOG):].strip()
        elif record.msg == _FAILED and self.current:
            self._finish("failed")
        elif record.msg == _FINISHED and self.current:
            state = {"running": "resolved", "executing": "executed"}.get(self.current.state,
                                                                          self.current.state)
            self._finish(state)

    def unchanged(self, name: str, execution_id: Optional[int]) -> None:
        """A component of an unchanged re-run: not run, its outputs are the last run's."""
        self.current = ComponentRun(name=name, execution_id=execution_id)
        self.components.append(self.current)
        self._finish("unchanged")

    def mark_failed(self) -> Optional[ComponentRun]:
        """Called when the run raised: the component that was running is the one that failed."""
        failed = self.current
        if failed:
            self._finish("failed")
        return next((c for c in self.components if c.state == "failed"), None)

    def _finish(self, state: str) -> None:
        component = self.current
        component.state = state
        component.seconds = time.monotonic() - component.started
        mark = {"executed": "✓", "cached": "=", "unchanged": "=", "resolved": "✓",
                "failed": "✗"}[state]
        line = f"  {mark}  {component.name:<20} {state:<9} {component.seconds:6.1f}s"
        self._out.write(("\r" + line + "   \n") if self._live else line + "\n")
        if component.training_plan and state == "executed":
            self._out.write(f"       training: {component.training_plan}\n")
        self._out.flush()
        self.current = None
