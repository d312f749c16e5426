"""`mlpipe serve` and `mlpipe predict` (registered with the CLI through `register`).

TensorFlow, FastAPI and uvicorn are imported inside the handlers, so `mlpipe --help` stays fast.
"""

import pathlib
import sys

from mlpipe.process import import_tensorflow_quietly

EXIT_BAD_INPUT = 2


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


def request_log_dir(config, home) -> pathlib.Path:
    if config.serving.log_dir:
        return pathlib.Path(config.serving.log_dir)
    return home.root / "request_log"


def encoder_for(config):
    from mlpipe.serving.examples import ExampleEncoder
    from mlpipe.serving.schema_features import SERVING, environment_features, load_schema
    return ExampleEncoder(environment_features(load_schema(config.schema_path), SERVING))


def _serve(config, args) -> int:
    import_tensorflow_quietly()
    from mlpipe.pipeline.run_home import RunHome
    from mlpipe.serving.model import ModelManager, NoModelError
    from mlpipe.serving.request_log import RequestLog
    from mlpipe.serving.server import ServerState, serve

    settings = config.serving
    if args.log_sample_rate is not None:
        if not 0.0 <= args.log_sample_rate <= 1.0:
            print("error: --log-sample-rate must be between 0 and 1", file=sys.stderr)
            return EXIT_BAD_INPUT
        settings = settings.model_copy(update={"log_sample_rate": args.log_sample_rate})
    home = RunHome.for_pipeline(config.name, args.home)
    encoder = encoder_for(config)

    def announce_switch(old: int, new: int) -> None:
        print(f"Switched from version {old} to version {new}", flush=True)

    try:
        manager = ModelManager(home, args.version, settings.poll_seconds, announce_switch)
    except NoModelError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    request_log = None
    if not args.no_log and settings.log_sample_rate > 0:
        request_log = RequestLog(
            request_log_dir(config, home), {n: f.type for n, f in encoder.features.items()},
            sample_rate=settings.log_sample_rate, max_bytes=settings.log_file_max_bytes,
            max_files=settings.log_max_files, flush_seconds=settings.log_flush_seconds,
            flush_rows=settings.log_flush_rows)
    state = ServerState(config.name, encoder, manager, settings, request_log)
    try:
        serve(state, args.host, args.port)
    except OSError as error:
        print(f"error: cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return 0


def _predict(config, args) -> int:
    import_tensorflow_quietly()
    from mlpipe.pipeline.run_home import RunHome
    from mlpipe.serving.model import LoadedModel, NoModelError, resolve_version
    from mlpipe.serving.predict import InputError, score_csv

    if not pathlib.Path(args.input).is_file():
        print(f"error: --input {args.input}: file not found", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.batch_size < 1:
        print("error: --batch-size must be at least 1", file=sys.stderr)
        return EXIT_BAD_INPUT
    home = RunHome.for_pipeline(config.name, args.home)
    try:
        version, path = resolve_version(home, args.version)
    except NoModelError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"Scoring {args.input} with {config.name} version {version}", file=sys.stderr)
    model = LoadedModel.load(version, path)
    try:
        summary = score_csv(model, encoder_for(config), args.input, args.output,
                            batch_size=args.batch_size, progress=sys.stderr)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"Wrote {summary.rows:,} rows to {summary.output} "
          f"({summary.rows_per_second:,.0f} rows/s, version {summary.version})")
    return 0
