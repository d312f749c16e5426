"""`mlpipe serve`: the pushed model over HTTP, speaking TensorFlow Serving's REST API.

    GET  /v1/models/NAME[/versions/N]            version status
    GET  /v1/models/NAME[/versions/N]/metadata   the SavedModel's signatures
    POST /v1/models/NAME[/versions/N]:predict    {"instances": [{feature: value, ...}, ...]}
                                                 or {"inputs": {feature: [value, ...], ...}}
    POST /v1/models/NAME[/versions/N]:classify   {"examples": [{...}, ...], "context": {...}}
    POST /v1/models/NAME[/versions/N]:regress    (the same body)
    /v1/models/NAME/labels/LABEL[...]            the same, for the version a label names
    GET  /healthz   the process is up;   GET /readyz   a model is loaded and answering

NAME is the problem config's name. Requests carry raw feature values (JSON numbers and strings;
bytes also as {"b64": ...}); they are checked against the schema's SERVING environment,
serialized as tf.Examples and fed to the exported `serving_default` signature, which applies the
Transform graph itself. Answers have TF Serving's shapes: {"predictions": [...]} for rows,
{"outputs": ...} for columns. A prediction depends on the model's task (`outputs.ModelTask`,
checked against the config's label when the model is loaded): binary [p] (P(label = 1));
regression [value]; multiclass {"scores": [...], "classes": [...]} per row, or
{"outputs": {"scores": [[...], ...], "classes": [[...], ...]}} for columns, the scores in the
order of label.classes. :classify (binary, multiclass) answers {"result": [[[class, score],
...], ...]} (binary: the classes "0" and "1"); :regress (regression) {"result": [value, ...]};
the other task's verb gets a 400 naming the right one. Errors {"error": "...", "field": "..."}
with status 400 (bad request) or 404 (unknown model, version or label). The response header
X-Model-Version names the version that answered. Concurrent requests share model calls
(`batching.PredictBatcher`); the gRPC API (`grpc_server.py`) shares this app's model holder,
batcher, checks, counters and request log, on the same event loop.
"""

import dataclasses
import logging
import socket
import sys
from typing import Optional, TextIO

from mlpipe.config import ServingConfig
from mlpipe.core.contract import SERVING_SIGNATURE
from mlpipe.serving import outputs as task_outputs
from mlpipe.serving.batching import Overloaded, PredictBatcher
from mlpipe.serving.examples import (ExampleEncoder, RequestError, as_json_predictions,
                                     first_values)
from mlpipe.serving.grpc_server import FEW_ROWS, column_logger, row_logger, start_grpc
from mlpipe.serving.labels import UnknownServable
from mlpipe.serving.model import ModelManager
from mlpipe.serving.request_log import RequestLog

log = logging.getLogger(__name__)


@dataclasses.dataclass
class ServerState:
    model_name: str
    encoder: ExampleEncoder
    manager: ModelManager
    settings: ServingConfig
    request_log: Optional[RequestLog] = None
    requests_served: int = 0
    requests_refused: int = 0    # bad requests (4xx)
    requests_shed: int = 0       # refused for overload (503)


def create_app(state: ServerState, announce: Optional[str] = None, out: TextIO = sys.stdout,
               grpc_address: Optional[str] = None):
    """The FastAPI app; `announce` is printed once it is ready to answer. With `grpc_address`
    (host:port, port 0 picks one) the gRPC API is served on the same loop, and a line
    `  grpc:    HOST:PORT` goes before the announcement's last line."""
    import contextlib

    import orjson
    from fastapi import FastAPI, Request
    from fastapi.responses import Response
    from starlette.concurrency import run_in_threadpool

    # Requests are serialized by their handlers (REST from checked rows, gRPC from tensors or
    # tf.Examples), so one model call may carry both APIs' requests.
    batcher = PredictBatcher(_infer, state.settings.max_batch_rows, run_in_threadpool,
                             max_queued_rows=state.settings.max_queued_rows,
                             inline_rows=state.settings.inline_rows)

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        state.manager.start()
        batcher.start()
        grpc_service = text = None
        if grpc_address is not None:
            grpc_service, bound = await start_grpc(state, batcher, grpc_address)
            text = f"  grpc:    {bound} (TF Serving's PredictionService and ModelService)"
        if announce:
            lines = announce.split("\n")
            print("\n".join(lines[:-1] + ([text] if text else []) + lines[-1:]), file=out,
                  flush=True)
        try:
            yield
        finally:
            if grpc_service is not None:
                await grpc_service.stop(grace=30)
            await batcher.stop()
            state.manager.stop()
            if state.request_log is not None:
                state.request_log.close()
            logged = (f", {state.request_log.rows_logged} rows logged"
                      if state.request_log is not None else "")
            print(f"Stopped: {state.requests_served} requests served in {batcher.calls} model "
                  f"calls, {state.requests_refused} refused, {state.requests_shed} shed for "
                  "overload"
                  f"{logged}", file=out, flush=True)

    app = FastAPI(title=f"mlpipe serving: {state.model_name}", lifespan=lifespan,
                  docs_url=None, redoc_url=None, openapi_url=None)

    def reply(body, status: int = 200, version: Optional[int] = None,
              headers: Optional[dict] = None) -> Response:
        headers = dict(headers or {})
        if version is not None:
            headers["X-Model-Version"] = str(version)
        return Response(orjson.dumps(body), status_code=status, media_type="application/json",
                        headers=headers or None)

    def error(message: str, status: int = 400, field: Optional[str] = None) -> Response:
        body = {"error": message}
        if field:
            body["field"] = field
        return reply(body, status)

    def find_model(name: str, version: Optional[str], label: Optional[str] = None):
        """(model, None) or (None, 404 response); the model is captured once per request."""
        if name != state.model_name:
            return None, error(f"Servable not found for request: Latest({name})", 404)
        if version is not None and not version.isdigit():
            return None, error(f"Servable not found for request: Specific({name}, {version})",
                               404)
        try:
            return state.manager.find(name, None if version is None else int(version),
                                      label), None
        except UnknownServable as unknown:
            return None, error(str(unknown), 404)

    @app.get("/healthz")
    async def healthz():
        return reply({"status": "ok"})

    @app.get("/readyz")
    async def readyz():
        model = state.manager.current
        try:
            await run_in_threadpool(model.predict, [b""])
        except Exception as failure:  # noqa: BLE001 - not ready, whatever the reason
            return reply({"status": "not ready", "error": str(failure)}, 503)
        return reply({"status": "ready", "model": state.model_name, "version": model.version},
                     version=model.version)

    async def status(name: str, version: Optional[str] = None, label: Optional[str] = None):
        model, failure = find_model(name, version, label)
        if failure:
            return failure
        named = version is not None or label is not None
        served = [{"version": str(number), "state": "AVAILABLE",
                   "status": {"error_code": "OK", "error_message": ""}}
                  for number in ([model.version] if named
                                 else state.manager.served_versions())]
        # As TF Serving lists them, newest first: a newer push that cannot be loaded is retried
        # (LOADING), then given up (END), with its load error, while the served one stays.
        failed = [] if named else [
            {"version": str(number), "state": "END" if given_up else "LOADING",
             "status": {"error_code": "UNKNOWN", "error_message": why}}
            for number, (why, given_up) in sorted(state.manager.failed_versions().items(),
                                                  reverse=True)]
        return reply({"model_version_status": failed + served}, version=model.version)

    async def metadata(name: str, version: Optional[str] = None, label: Optional[str] = None):
        model, failure = find_model(name, version, label)
        if failure:
            return failure
        return reply(model.metadata(state.model_name), version=model.version)

    async def answer(verb: str, request: Request, name: str, version: Optional[str],
                     label: Optional[str]):
        """:predict, :classify or :regress: check, score (batched), log, answer."""
        model, failure = find_model(name, version, label)
        if failure:
            return failure
        try:
            refusal = task_outputs.verb_refusal(verb, model.task) if verb != "predict" else None
            if refusal:
                raise RequestError(refusal)
            body = orjson.loads(await _read_body(request, state.settings.max_body_bytes))
            signature = body.get("signature_name") if isinstance(body, dict) else None
            if signature not in (None, "", SERVING_SIGNATURE):
                raise RequestError(f"unknown signature_name '{signature}' (this model serves "
                                   f"'{SERVING_SIGNATURE}')", "signature_name")
            plain = _plain_instances(state.encoder, body) if verb == "predict" else None
            if plain is not None:
                rows, layout = range(plain[0].num_rows), "row"   # only counted from here on
            elif verb == "predict":
                rows, layout = state.encoder.rows_from_request(body)
            else:
                rows, layout = state.encoder.rows_from_examples_request(body, verb), "examples"
            if len(rows) > state.settings.max_rows_per_request:
                raise RequestError(f"{len(rows)} examples in one request; at most "
                                   f"{state.settings.max_rows_per_request} are accepted",
                                   {"row": "instances", "columnar": "inputs"}.get(layout,
                                                                                  layout))
        except RequestError as refused:
            state.requests_refused += 1
            return error(str(refused), 400, refused.field)
        except orjson.JSONDecodeError as refused:
            state.requests_refused += 1
            return error(f"request body is not valid JSON: {refused}", 400)
        batch = plain[0] if plain is not None else state.encoder.batch_of_rows(rows)
        try:
            outputs = await batcher.predict(model, state.encoder.serialize_batch(batch))
        except Overloaded as overloaded:
            state.requests_shed += 1
            return reply({"error": f"overloaded: {overloaded}; retry shortly"}, 503,
                         headers={"Retry-After": "1"})
        state.requests_served += 1
        if state.request_log is not None and state.request_log.sampled():
            # Many rows: from the batch's columns, by Arrow's CSV writer (see grpc_server).
            log_request = (row_logger(rows) if len(rows) <= FEW_ROWS
                           else column_logger(plain[1] if plain is not None
                                              else first_values(batch)))
            log_request(state.request_log, model, outputs)
        if verb == "classify":
            body = task_outputs.classify_result(model.task, outputs, len(rows))
        elif verb == "regress":
            body = task_outputs.regress_result(outputs, len(rows))
        else:
            body = as_json_predictions(outputs, columnar=layout == "columnar")
        return reply(body, version=model.version)

    def verb_route(verb: str):
        async def route(request: Request, name: str, version: Optional[str] = None,
                        label: Optional[str] = None):
            return await answer(verb, request, name, version, label)
        route.__name__ = verb
        return route

    app.add_api_route("/v1/models/{name}", status, methods=["GET"])
    app.add_api_route("/v1/models/{name}/versions/{version}", status, methods=["GET"])
    app.add_api_route("/v1/models/{name}/metadata", metadata, methods=["GET"])
    app.add_api_route("/v1/models/{name}/versions/{version}/metadata", metadata,
                      methods=["GET"])
    app.add_api_route("/v1/models/{name}/labels/{label}", status, methods=["GET"])
    app.add_api_route("/v1/models/{name}/labels/{label}/metadata", metadata, methods=["GET"])
    for verb in ("predict", "classify", "regress"):
        route = verb_route(verb)
        app.add_api_route(f"/v1/models/{{name}}:{verb}", route, methods=["POST"])
        app.add_api_route(f"/v1/models/{{name}}/versions/{{version}}:{verb}", route,
                          methods=["POST"])
        app.add_api_route(f"/v1/models/{{name}}/labels/{{label}}:{verb}", route,
                          methods=["POST"])
    return app


def _plain_instances(encoder: ExampleEncoder, body):
    """A row-format body of many instances checked column by column in C++
    (`ExampleEncoder.plain_instances`: (batch, flat columns)), or None: few rows (the row check
    is as quick, and their log is written row by row), another layout, or anything the row
    check must judge (it names the fault)."""
    if (type(body) is not dict or not set(body) <= {"instances", "signature_name"}
            or type(body.get("instances")) is not list or len(body["instances"]) <= FEW_ROWS):
        return None
    return encoder.plain_instances(body["instances"])


class _BodyTooLarge(RequestError):
    pass


async def _read_body(request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _BodyTooLarge(f"request body of {int(declared)} bytes is over the limit of "
                            f"{limit} bytes (serving.max_body_bytes)", "body")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _BodyTooLarge(f"request body is over the limit of {limit} bytes "
                                "(serving.max_body_bytes)", "body")
        chunks.append(chunk)
    return b"".join(chunks)


def _infer(model, serialized):
    return model.predict(serialized)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket; port 0 picks a free one (read it back with getsockname())."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP: asyncio sets TCP_NODELAY only on connections of such a socket; without
    # it, Nagle's algorithm and the client's delayed ACK add ~40 ms to every keep-alive reply.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def serve(state: ServerState, host: str, port: int, out: TextIO = sys.stdout,
          grpc_port: Optional[int] = None) -> None:
    """Runs until SIGINT/SIGTERM; in-flight requests finish, the request log is flushed.
    With `grpc_port` the gRPC API listens on it too (same host)."""
    import uvicorn
    sock = bind(host, port)
    if grpc_port:
        _check_free(host, grpc_port)
    bound_port = sock.getsockname()[1]
    url = f"http://{host}:{bound_port}/v1/models/{state.model_name}"
    model = state.manager.current
    announce = (f"Serving {state.model_name} version {model.version} ({model.path})\n"
                f"  predict: POST {url}:predict ({model.task.name}"
                f"{': ' + ', '.join(model.task.classes) if model.task.classes else ''})\n"
                f"  status:  GET  {url}\n"
                f"  log:     {state.request_log.directory if state.request_log else 'off'}\n"
                f"READY {url}")
    labels = ", ".join(f"{name}={number}" for name, number in sorted(state.manager.labels.items()))
    if labels:
        announce = announce.replace("\nREADY", f"\n  labels:  {labels}\nREADY")
    grpc_address = None if grpc_port is None else _grpc_address(host, grpc_port)
    app = create_app(state, announce=announce, out=out, grpc_address=grpc_address)
    # httptools and uvloop (pinned): uvicorn's C parser and loop, named so that a missing one
    # is an error here rather than a silent fallback to the pure-Python ones.
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on",
                            timeout_graceful_shutdown=30, http="httptools", loop="uvloop")
    _graceful_server_class()(config).run(sockets=[sock])


def _check_free(host: str, port: int) -> None:
    """Raises OSError naming the gRPC port when something listens on it: gRPC binds it only
    in the app's startup, where a failure would end the server with uvicorn's traceback."""
    try:
        bind(host, port).close()
    except OSError as error:
        raise OSError(f"gRPC port {port}: {error.strerror or error}") from error


def _grpc_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _graceful_server_class():
    import contextlib
    import signal
    import threading

    import uvicorn

    class GracefulServer(uvicorn.Server):
        """uvicorn's server, except that SIGINT/SIGTERM, once the graceful shutdown is done,
        is not raised again: a stopped server exits with status 0, not killed by the signal."""

        @contextlib.contextmanager
        def capture_signals(self):
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            handled = (signal.SIGINT, signal.SIGTERM)
            original = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
            try:
                yield
            finally:
                for sig, handler in original.items():
                    signal.signal(sig, handler)

    return GracefulServer
