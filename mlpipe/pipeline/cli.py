"""`mlpipe`: the one command-line entry point. Parses, calls a work function, renders the result.

Exit codes: 0 success; 1 a pipeline component failed; 2 bad config or input data;
3 the run finished but the model was not blessed (nothing pushed).
"""

import argparse
import importlib
import pathlib
import sys
from typing import List, Optional

import mlpipe  # noqa: F401  (process settings before anything imports TensorFlow)
from mlpipe.pipeline.config import ConfigError, ProblemConfig, load_config
from mlpipe.pipeline.local_runner import (PipelineFailed, RunResult, numeric_columns_of,
                                          read_schema, run_local)
from mlpipe.pipeline.preflight import InputDataError, check_input_data
from mlpipe.pipeline.run_home import DEFAULT_BASE, RunHome
from mlpipe.process import import_tensorflow_quietly

EXIT_FAILED, EXIT_BAD_INPUT, EXIT_NOT_BLESSED = 1, 2, 3
# Each module has `register(command)`: `command(name, handler, help)` returns an argparse
# sub-parser that already takes --config and --home; `handler(config, args)` returns the exit
# code. Modules keep heavy imports inside their handlers, so `mlpipe --help` stays fast.
COMMAND_MODULES: List[str] = ["mlpipe.report.commands", "mlpipe.serving.commands",
                              "mlpipe.monitoring.commands",
                              "mlpipe.kubeflow.commands"]
ERROR_LINES_SHOWN = 20


def main(argv: Optional[List[str]] = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = load_config(args.config)
        return args.handler(config, args)
    except (ConfigError, InputDataError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlpipe", description="A TFX pipeline from raw tabular data to a validated, "
                                   "evaluated, served and monitored model.")
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, handler, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("--config", help="problem config YAML (default: the taxi problem)")
        sub.add_argument("--home", default=DEFAULT_BASE,
                         help="folder holding run homes (default: ./runs)")
        sub.set_defaults(handler=handler)
        return sub

    command("run", _run, "run the whole pipeline locally on Beam's DirectRunner")
    schema = command("schema", _schema,
                     "propose a schema from the data with TFDV and diff it with the curated one")
    schema.add_argument("--output", help="where to write the proposal "
                                         "(default: <run home>/schema-proposal.pbtxt)")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(command)
    return parser


def _run(config: ProblemConfig, args) -> int:
    home = RunHome.for_pipeline(config.name, args.home)
    print(f"mlpipe run: {config.name}\n  config: {config.source}\n  data:   {config.data.path}")
    try:
        result = run_local(config, home)
    except PipelineFailed as failure:
        _print_failure(failure)
        return EXIT_FAILED
    _print_result(result, config)
    return 0 if result.blessed else EXIT_NOT_BLESSED


def _print_failure(failure: PipelineFailed) -> None:
    lines = str(failure.error).splitlines() or [type(failure.error).__name__]
    shown = lines[:ERROR_LINES_SHOWN] + (["  ..."] if len(lines) > ERROR_LINES_SHOWN else [])
    print(f"\nFAILED at {failure.component}: {type(failure.error).__name__}", file=sys.stderr)
    print("\n".join(shown), file=sys.stderr)
    print("Nothing downstream ran; no model was pushed by this run.", file=sys.stderr)
    print(f"Full log: {failure.log_file}", file=sys.stderr)


def _print_result(result: RunResult, config: ProblemConfig) -> None:
    cached = sum(1 for c in result.components if c.state == "cached")
    print(f"\n{len(result.components)} components, {cached} cached; "
          f"{result.data.rows:,} rows checked ({result.data.underivable_labels} without a "
          f"derivable label)")
    for name in sorted(config.evaluation.kpi):
        if name in result.metrics:
            print(f"  {name:<16} {result.metrics[name]:.4f}")
    verdict = {True: "BLESSED", False: "NOT BLESSED (a threshold failed)",
               None: "no blessing decision"}[result.blessed]
    print(f"Model:        {verdict}")
    print(f"Pushed model: {result.pushed_version or 'nothing pushed by this run'}")
    print(f"Evaluation:   {result.evaluation_uri}")
    if result.inference_uri:
        print(f"Scored data:  {result.inference_uri} (PredictionLog TFRecords)")
    print(f"Metadata:     {result.metadata_path}")
    print(f"Log:          {result.log_file}")


def _schema(config: ProblemConfig, args) -> int:
    import_tensorflow_quietly()
    from mlpipe.schema import proposal
    from google.protobuf import text_format
    home = RunHome.for_pipeline(config.name, args.home)
    output = pathlib.Path(args.output) if args.output else home.root / "schema-proposal.pbtxt"
    if output.resolve() == pathlib.Path(config.schema_path).resolve():
        raise ConfigError(f"--output {output}: refusing to overwrite the curated schema")
    check_input_data(config, numeric_columns_of(read_schema(config.schema_path)))
    proposed = proposal.propose_schema(config.data.path, config.label_only_columns)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text_format.MessageToString(proposed))
    differences = proposal.schema_diff(proposal.load_schema(config.schema_path), proposed)
    print(f"Proposal written to {output}")
    print(f"Compared with the curated schema {config.schema_path}:")
    print("\n".join(differences) if differences else "  no differences")
    return 0


if __name__ == "__main__":
    sys.exit(main())
