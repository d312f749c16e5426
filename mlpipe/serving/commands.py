"""`mlpipe serve` and `mlpipe predict` (registered with `mlpipe.cli`).

TensorFlow, FastAPI and uvicorn are imported inside the handlers, so `mlpipe --help` stays fast.
"""

import pathlib
import sys

from mlpipe.errors import EXIT_OK, BadInputError
from mlpipe.process import import_tensorflow_quietly


def register(command) -> None:
    serve = command("serve", _serve, "serve the newest pushed model over HTTP "
                                     "(TensorFlow Serving's REST API)")
    serve.add_argument("--version", type=int,
                       help="serve this pushed version only (default: the newest, switching to "
                            "newer pushes as they appear)")
    serve.add_argument("--port", type=int, default=8501,
                       help="port (default 8501, TF Serving's REST port; 0 picks a free one)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--log-sample-rate", type=float,
                       help="fraction of requests logged (default: serving.log_sample_rate)")
    serve.add_argument("--no-log", action="store_true", help="log no requests")

    predict = command("predict", _predict,
                      "score a CSV file in batch with a pushed model (streaming)")
    predict.add_argument("--input", required=True, help="CSV with a header line")
    predict.add_argument("--output", required=True,
                         help="CSV to write: the input columns plus 'probability'")
    predict.add_argument("--version", type=int, help="pushed version (default: the newest)")
    predict.add_argument("--batch-size", type=int, default=2048, help="rows per chunk")


def _serve(invocation) -> int:
    config, home, args = invocation.config, invocation.home, invocation.args
    settings = config.serving
    if args.log_sample_rate is not None:
        if not 0.0 <= args.log_sample_rate <= 1.0:
            raise BadInputError("--log-sample-rate must be between 0 and 1")
        settings = settings.model_copy(update={"log_sample_rate": args.log_sample_rate})
    import_tensorflow_quietly()
    from mlpipe.serving.examples import encoder_for_schema
    from mlpipe.serving.model import ModelManager
    from mlpipe.serving.request_log import RequestLog
    from mlpipe.serving.server import ServerState, serve

    encoder = encoder_for_schema(config.schema_path)

    def announce_switch(old: int, new: int) -> None:
        print(f"Switched from version {old} to version {new}", flush=True)

    manager = ModelManager(home, args.version, settings.poll_seconds, announce_switch)
    request_log = None
    if not args.no_log and settings.log_sample_rate > 0:
        request_log = RequestLog(
            home.request_log_dir(settings), {n: f.type for n, f in encoder.features.items()},
            sample_rate=settings.log_sample_rate, max_bytes=settings.log_file_max_bytes,
            max_files=settings.log_max_files, flush_seconds=settings.log_flush_seconds,
            flush_rows=settings.log_flush_rows)
    state = ServerState(config.name, encoder, manager, settings, request_log)
    try:
        serve(state, args.host, args.port)
    except OSError as error:
        raise BadInputError(f"cannot listen on {args.host}:{args.port}: {error}") from error
    return EXIT_OK


def _predict(invocation) -> int:
    config, home, args = invocation.config, invocation.home, invocation.args
    if not pathlib.Path(args.input).is_file():
        raise BadInputError(f"--input {args.input}: file not found")
    if args.batch_size < 1:
        raise BadInputError("--batch-size must be at least 1")
    import_tensorflow_quietly()
    from mlpipe.serving.examples import encoder_for_schema
    from mlpipe.serving.model import LoadedModel, resolve_version
    from mlpipe.serving.predict import score_csv

    version, path = resolve_version(home, args.version)
    print(f"Scoring {args.input} with {config.name} version {version}", file=sys.stderr)
    model = LoadedModel.load(version, path)
    encoder = encoder_for_schema(config.schema_path, config.data.missing_values)
    summary = score_csv(model, encoder, args.input, args.output, batch_size=args.batch_size,
                        progress=sys.stderr)
    print(f"Wrote {summary.rows:,} rows to {summary.output} "
          f"({summary.rows_per_second:,.0f} rows/s, version {summary.version})")
    return EXIT_OK
