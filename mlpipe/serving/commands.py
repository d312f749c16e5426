"""`mlpipe serve` and `mlpipe predict` (registered with `mlpipe.cli`).

TensorFlow, FastAPI and uvicorn are imported inside the handlers, so `mlpipe --help` stays fast.
"""

import argparse
import pathlib
import sys

from mlpipe.errors import EXIT_OK, BadInputError


SERVE_DESCRIPTION = """\
Serves the newest pushed model over HTTP with TensorFlow Serving's REST API
(POST /v1/models/NAME:predict, :classify, :regress; GET /v1/models/NAME[/metadata]),
and with --grpc-port over its gRPC API (PredictionService: Predict, Classify, Regress,
MultiInference, GetModelMetadata; ModelService: GetModelStatus). With --label NAME=VERSION
that version is served too, by number or by label (/v1/models/NAME/labels/LABEL:predict,
ModelSpec.version_label).
A prediction, by the config's label.task:

  binary      [p]                                      P(label = 1)
  multiclass  {"scores": [...], "classes": [...]}      a score per class of label.classes
  regression  [value]                                  the predicted number

:classify answers binary and multiclass models, :regress regression models.
"""

PREDICT_DESCRIPTION = """\
Scores a CSV file with a pushed model and writes the input's columns, as the input spelled
them, plus the prediction's columns (numbers with 6 decimals), by the config's label.task:

  binary      probability          P(label = 1)
  multiclass  predicted_class      the class with the highest score
              score_<class>        one per class of label.classes, in that order
                                   (e.g. score_Adelie, score_Chinstrap, score_Gentoo)
  regression  value                the predicted number
"""


def register(command) -> None:
    serve = command("serve", _serve, "serve the newest pushed model over HTTP "
                                     "(TensorFlow Serving's REST API)")
    serve.description = SERVE_DESCRIPTION
    serve.formatter_class = argparse.RawDescriptionHelpFormatter
    serve.add_argument("--version", type=int,
                       help="serve this pushed version only (default: the newest, switching to "
                            "newer pushes as they appear)")
    serve.add_argument("--port", type=int, default=8501,
                       help="port (default 8501, TF Serving's REST port; 0 picks a free one)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--grpc-port", type=int,
                       help="also serve TF Serving's gRPC API (PredictionService, ModelService) "
                            "on this port (TF Serving's is 8500; 0 picks a free one)")
    serve.add_argument("--label", action="append", default=[], metavar="NAME=VERSION",
                       help="a version label (e.g. --label stable=3 --label canary=4; added to "
                            "serving.labels): the version is served beside the newest one")
    serve.add_argument("--log-sample-rate", type=float,
                       help="fraction of requests logged (default: serving.log_sample_rate)")
    serve.add_argument("--no-log", action="store_true", help="log no requests")

    predict = command("predict", _predict,
                      "score a CSV file in batch with a pushed model (streaming)")
    # The output columns in `mlpipe predict --help`, laid out as written.
    predict.description = PREDICT_DESCRIPTION
    predict.formatter_class = argparse.RawDescriptionHelpFormatter
    predict.add_argument("--input", required=True, help="CSV with a header line")
    predict.add_argument("--output", required=True,
                         help="CSV to write: the input columns plus the prediction's columns "
                              "(binary: probability; multiclass: predicted_class and "
                              "score_<class> per class; regression: value)")
    predict.add_argument("--version", type=int, help="pushed version (default: the newest)")
    predict.add_argument("--batch-size", type=int, default=2048, help="rows per chunk")
    predict.add_argument("--skip-bad-rows", action="store_true",
                         help="score the rows whose values pass the check and write the others, "
                              "with their line, column and reason, to OUTPUT.rejected.csv "
                              "(default: the first bad row stops the run, nothing is written)")


def _serve(invocation) -> int:
    config, home, args = invocation.config, invocation.home, invocation.args
    settings = config.serving
    if args.log_sample_rate is not None:
        if not 0.0 <= args.log_sample_rate <= 1.0:
            raise BadInputError("--log-sample-rate must be between 0 and 1")
        settings = settings.model_copy(update={"log_sample_rate": args.log_sample_rate})
    from mlpipe.serving.examples import encoder_for_schema
    from mlpipe.serving.labels import merged_labels
    from mlpipe.serving.model import ModelManager
    from mlpipe.serving.request_log import RequestLog
    from mlpipe.serving.server import ServerState, serve

    encoder = encoder_for_schema(config.schema_path)

    def announce_switch(old: int, new: int) -> None:
        print(f"Switched from version {old} to version {new}", flush=True)

    manager = ModelManager(home, args.version, settings.poll_seconds, announce_switch,
                           label=config.label,
                           labels=merged_labels(settings.labels, args.label))
    request_log = None
    if not args.no_log and settings.log_sample_rate > 0:
        request_log = RequestLog(
            home.request_log_dir(settings), {n: f.type for n, f in encoder.features.items()},
            sample_rate=settings.log_sample_rate, max_bytes=settings.log_file_max_bytes,
            max_files=settings.log_max_files, flush_seconds=settings.log_flush_seconds,
            flush_rows=settings.log_flush_rows, classes=manager.current.task.classes)
    state = ServerState(config.name, encoder, manager, settings, request_log)
    try:
        serve(state, args.host, args.port, grpc_port=args.grpc_port)
    except OSError as error:
        where = args.host if str(error).startswith("gRPC port") else f"{args.host}:{args.port}"
        raise BadInputError(f"cannot listen on {where}: {error}") from error
    return EXIT_OK


def _predict(invocation) -> int:
    config, home, args = invocation.config, invocation.home, invocation.args
    if not pathlib.Path(args.input).is_file():
        raise BadInputError(f"--input {args.input}: file not found")
    if args.batch_size < 1:
        raise BadInputError("--batch-size must be at least 1")
    from mlpipe.serving.examples import encoder_for_schema
    from mlpipe.serving.model import LoadedModel, resolve_version
    from mlpipe.serving.predict import score_csv

    version, path = resolve_version(home, args.version)
    print(f"Scoring {args.input} with {config.name} version {version}", file=sys.stderr)
    model = LoadedModel.load(version, path, label=config.label)
    encoder = encoder_for_schema(config.schema_path, config.data.missing_values)
    summary = score_csv(model, encoder, args.input, args.output, batch_size=args.batch_size,
                        progress=sys.stderr, skip_bad_rows=args.skip_bad_rows)
    print(f"Wrote {summary.rows:,} rows to {summary.output} "
          f"({summary.rows_per_second:,.0f} rows/s, version {summary.version})")
    if summary.rejected_output is not None:
        print(f"Rejected {summary.rejected:,} rows with bad values: {summary.rejected_output} "
              "(line, column, reason, the row)")
    return EXIT_OK
