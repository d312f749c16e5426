"""`mlpipe`: the one command-line entry point, and the command layer every package registers with.

Each module in COMMAND_MODULES has `register(command)`; `command(name, handler, help)` returns an
argparse sub-parser that already takes --config and --home. A handler gets an `Invocation` (the
loaded config, the run home and the parsed arguments; a command registered with
`needs_config=False`, such as `mlpipe init`, takes neither option and gets config and home None)
and returns the exit code of an outcome
(0, or 3 / 4 for a model not blessed / a monitoring alarm). Errors are raised, never printed by a
handler: every `MlpipeError` carries its exit code and is printed here, once.

Command modules keep heavy imports (TensorFlow, TFX, kfp) inside their handlers, so `mlpipe
--help` and a bad config fail in well under a second.
"""

import argparse
import atexit
import dataclasses
import importlib
import os
import sys
from typing import List, Optional

import mlpipe  # noqa: F401  (process environment before anything imports TensorFlow)
from mlpipe.config import ProblemConfig, load_config
from mlpipe.core.run_home import DEFAULT_BASE, RunHome
from mlpipe.errors import MlpipeError

# In the order a user meets them (`mlpipe --help` lists them so).
COMMAND_MODULES: List[str] = ["mlpipe.init.commands", "mlpipe.local.commands",
                              "mlpipe.schema.commands", "mlpipe.report.commands",
                              "mlpipe.governance.commands", "mlpipe.components.model_card.commands",
                              "mlpipe.serving.commands", "mlpipe.monitoring.commands",
                              "mlpipe.kubeflow.commands"]


@dataclasses.dataclass(frozen=True)
class Invocation:
    """What a command handler works with (config and home are None for a command registered
    with needs_config=False)."""

    config: Optional[ProblemConfig]
    home: Optional[RunHome]
    args: argparse.Namespace


def main(argv: Optional[List[str]] = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if not args.needs_config:
            return args.handler(Invocation(None, None, args))
        config = load_config(args.config)
        return args.handler(Invocation(config, RunHome.for_pipeline(config.name, args.home), args))
    except MlpipeError as error:
        print(describe(error), file=sys.stderr)
        return error.exit_code


def run() -> None:
    """The `mlpipe` command: `main()`, then the exit.

    Once TensorFlow is loaded, the interpreter's own finalization (module teardown, TensorFlow's
    C++ destructors) takes 2-3 s after the command is done: 2.3 s after an unchanged taxi re-run
    through TFX's cache, 9 s in all. So the exit handlers run (logging flushes and closes its
    files, temporary folders are removed, child processes are ended) and the process then ends
    without that teardown."""
    code = main()
    if "tensorflow" not in sys.modules:
        sys.exit(code)
    sys.stdout.flush()
    sys.stderr.flush()
    atexit._run_exitfuncs()  # pylint: disable=protected-access
    os._exit(code)


def describe(error: MlpipeError) -> str:
    """What the user reads of an error: the error's own account when it has one."""
    account = getattr(error, "account", None)
    return account() if account else f"error: {error}"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlpipe", description="A TFX pipeline from raw tabular data to a validated, "
                                   "evaluated, served and monitored model.")
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, handler, help_text: str,
                needs_config: bool = True) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        if needs_config:
            sub.add_argument("--config", help="problem config YAML (default: the taxi problem)")
            sub.add_argument("--home", default=DEFAULT_BASE,
                             help="folder holding run homes (default: ./runs)")
        sub.set_defaults(handler=handler, needs_config=needs_config)
        return sub

    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(command)
    return parser


if __name__ == "__main__":
    run()
