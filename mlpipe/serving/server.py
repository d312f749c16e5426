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

import contextlib
import dataclasses
import functools
import signal
import socket
import sys
import threading
from typing import Optional, TextIO

import orjson
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from mlpipe.config import ServingConfig
from mlpipe.core.contract import SERVING_SIGNATURE
from mlpipe.serving import outputs as task_outputs
from mlpipe.serving.batching import Overloaded, PredictBatcher
from mlpipe.serving.examples import (FEW_ROWS, ExampleEncoder, RequestError,
                                     as_json_predictions, first_values)
from mlpipe.serving.grpc_server import column_logger, row_logger, start_grpc
from mlpipe.serving.labels import UnknownServable
from mlpipe.serving.model import FeatureColumns, ModelManager
from mlpipe.serving.request_log import RequestLog


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
               grpc_address: Optional[str] = None) -> FastAPI:
    """The FastAPI app; `announce` is printed once it is ready to answer. With `grpc_address`
    (host:port, port 0 picks one) the gRPC API is served on the same loop, and a line
    `  grpc:    HOST:PORT` goes before the announcement's last line."""
    # Requests are serialized by their handlers (REST from checked rows, gRPC from tensors or
    # tf.Examples), so one model call may carry both APIs' requests; gRPC tensors past a few
    # rows go to the version's features signature instead (model.FeatureColumns), batched
    # with requests giving the same features.
    batcher = PredictBatcher(_infer, state.settings.max_batch_rows, run_in_threadpool,
                             max_queued_rows=state.settings.max_queued_rows,
                             inline_rows=state.settings.inline_rows)
    app = FastAPI(title=f"mlpipe serving: {state.model_name}",
                  lifespan=_lifespan(state, batcher, announce, out, grpc_address),
                  docs_url=None, redoc_url=None, openapi_url=None)
    _add_routes(app, _RestApi(state, batcher))
    return app


def _lifespan(state: ServerState, batcher: PredictBatcher, announce: Optional[str], out: TextIO,
              grpc_address: Optional[str]):
    @contextlib.asynccontextmanager
    async def lifespan(_app):
        grpc_service = await _start(state, batcher, announce, out, grpc_address)
        try:
            yield
        finally:
            await _stop(state, batcher, grpc_service, out)
    return lifespan


async def _start(state: ServerState, batcher: PredictBatcher, announce: Optional[str],
                 out: TextIO, grpc_address: Optional[str]):
    """Starts the model holder, the batcher and the gRPC server (returned, or None), then prints
    the announcement with the gRPC line."""
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
    return grpc_service


async def _stop(state: ServerState, batcher: PredictBatcher, grpc_service, out: TextIO) -> None:
    """Stops what `_start` started, flushes the request log and prints the counters."""
    if grpc_service is not None:
        await grpc_service.stop(grace=30)
    await batcher.stop()
    state.manager.stop()
    if state.request_log is not None:
        state.request_log.close()
    logged = (f", {state.request_log.rows_logged} rows logged"
              if state.request_log is not None else "")
    print(f"Stopped: {state.requests_served} requests served in {batcher.calls} model calls, "
          f"{state.requests_refused} refused, {state.requests_shed} shed for overload{logged}",
          file=out, flush=True)


def _reply(body, status: int = 200, version: Optional[int] = None,
           headers: Optional[dict] = None) -> Response:
    headers = dict(headers or {})
    if version is not None:
        headers["X-Model-Version"] = str(version)
    return Response(orjson.dumps(body), status_code=status, media_type="application/json",
                    headers=headers or None)


def _error(message: str, status: int = 400, field: Optional[str] = None) -> Response:
    body = {"error": message}
    if field:
        body["field"] = field
    return _reply(body, status)


class _RestApi:
    """The REST routes' handlers, over one server's state and batcher."""

    def __init__(self, state: ServerState, batcher: PredictBatcher):
        self.state = state
        self.batcher = batcher

    def find_model(self, name: str, version: Optional[str], label: Optional[str] = None):
        """(model, None) or (None, 404 response); the model is captured once per request."""
        if name != self.state.model_name:
            return None, _error(f"Servable not found for request: Latest({name})", 404)
        if version is not None and not version.isdigit():
            return None, _error(f"Servable not found for request: Specific({name}, {version})",
                                404)
        try:
            return self.state.manager.find(name, None if version is None else int(version),
                                           label), None
        except UnknownServable as unknown:
            return None, _error(str(unknown), 404)

    async def healthz(self):
        return _reply({"status": "ok"})

    async def readyz(self):
        model = self.state.manager.current
        try:
            await run_in_threadpool(model.predict, [b""])
        except Exception as failure:  # noqa: BLE001 - not ready, whatever the reason
            return _reply({"status": "not ready", "error": str(failure)}, 503)
        return _reply({"status": "ready", "model": self.state.model_name,
                       "version": model.version}, version=model.version)

    async def status(self, name: str, version: Optional[str] = None,
                     label: Optional[str] = None):
        model, failure = self.find_model(name, version, label)
        if failure:
            return failure
        manager = self.state.manager
        named = version is not None or label is not None
        served = [{"version": str(number), "state": "AVAILABLE",
                   "status": {"error_code": "OK", "error_message": ""}}
                  for number in ([model.version] if named else manager.served_versions())]
        # As TF Serving lists them, newest first: a newer push that cannot be loaded is retried
        # (LOADING), then given up (END), with its load error, while the served one stays.
        failed = [] if named else [
            {"version": str(number), "state": "END" if given_up else "LOADING",
             "status": {"error_code": "UNKNOWN", "error_message": why}}
            for number, (why, given_up) in sorted(manager.failed_versions().items(),
                                                  reverse=True)]
        return _reply({"model_version_status": failed + served}, version=model.version)

    async def metadata(self, name: str, version: Optional[str] = None,
                       label: Optional[str] = None):
        model, failure = self.find_model(name, version, label)
        if failure:
            return failure
        return _reply(model.metadata(self.state.model_name), version=model.version)

    def verb_route(self, verb: str):
        async def route(request: Request, name: str, version: Optional[str] = None,
                        label: Optional[str] = None):
            return await self.answer(verb, request, name, version, label)
        route.__name__ = verb
        return route

    async def answer(self, verb: str, request: Request, name: str, version: Optional[str],
                     label: Optional[str]):
        """:predict, :classify or :regress: check, score (batched), log, answer."""
        model, failure = self.find_model(name, version, label)
        if failure:
            return failure
        state = self.state
        try:
            rows, layout, plain = await self.checked_rows(verb, model, request)
        except RequestError as refused:
            state.requests_refused += 1
            return _error(str(refused), 400, refused.field)
        except orjson.JSONDecodeError as refused:
            state.requests_refused += 1
            return _error(f"request body is not valid JSON: {refused}", 400)
        batch, serialized = _encoded(state.encoder, rows, plain)
        try:
            outputs = await self.batcher.predict(model, serialized)
        except Overloaded as overloaded:
            state.requests_shed += 1
            return _reply({"error": f"overloaded: {overloaded}; retry shortly"}, 503,
                          headers={"Retry-After": "1"})
        state.requests_served += 1
        if state.request_log is not None and state.request_log.sampled():
            state.request_log.later(functools.partial(_log_answer, state.request_log, model,
                                                      outputs, rows, plain, batch))
        return _reply(_result(verb, model, outputs, len(rows), layout), version=model.version)

    async def checked_rows(self, verb: str, model, request: Request):
        """(rows, layout, plain): the request's rows checked against the schema, their layout
        ("row", "columnar" or "examples") and `_plain_instances`' answer; raises RequestError
        or orjson.JSONDecodeError for a request to refuse."""
        encoder, settings = self.state.encoder, self.state.settings
        refusal = task_outputs.verb_refusal(verb, model.task) if verb != "predict" else None
        if refusal:
            raise RequestError(refusal)
        body = orjson.loads(await _read_body(request, settings.max_body_bytes))
        signature = body.get("signature_name") if isinstance(body, dict) else None
        if signature not in (None, "", SERVING_SIGNATURE):
            raise RequestError(f"unknown signature_name '{signature}' (this model serves "
                               f"'{SERVING_SIGNATURE}')", "signature_name")
        plain = _plain_instances(encoder, body) if verb == "predict" else None
        if plain is not None:
            rows, layout = range(plain[0].num_rows), "row"   # only counted from here on
        elif verb == "predict":
            rows, layout = encoder.rows_from_request(body)
        else:
            rows, layout = encoder.rows_from_examples_request(body, verb), "examples"
        if len(rows) > settings.max_rows_per_request:
            raise RequestError(f"{len(rows)} examples in one request; at most "
                               f"{settings.max_rows_per_request} are accepted",
                               {"row": "instances", "columnar": "inputs"}.get(layout, layout))
        return rows, layout, plain


def _add_routes(app: FastAPI, api: _RestApi) -> None:
    app.add_api_route("/healthz", api.healthz, methods=["GET"])
    app.add_api_route("/readyz", api.readyz, methods=["GET"])
    app.add_api_route("/v1/models/{name}", api.status, methods=["GET"])
    app.add_api_route("/v1/models/{name}/versions/{version}", api.status, methods=["GET"])
    app.add_api_route("/v1/models/{name}/metadata", api.metadata, methods=["GET"])
    app.add_api_route("/v1/models/{name}/versions/{version}/metadata", api.metadata,
                      methods=["GET"])
    app.add_api_route("/v1/models/{name}/labels/{label}", api.status, methods=["GET"])
    app.add_api_route("/v1/models/{name}/labels/{label}/metadata", api.metadata,
                      methods=["GET"])
    for verb in ("predict", "classify", "regress"):
        route = api.verb_route(verb)
        app.add_api_route(f"/v1/models/{{name}}:{verb}", route, methods=["POST"])
        app.add_api_route(f"/v1/models/{{name}}/versions/{{version}}:{verb}", route,
                          methods=["POST"])
        app.add_api_route(f"/v1/models/{{name}}/labels/{{label}}:{verb}", route,
                          methods=["POST"])


def _encoded(encoder, rows, plain):
    """(the rows as a RecordBatch, or None for a few rows; the serialized tf.Examples)."""
    if plain is None and len(rows) <= FEW_ROWS:
        return None, encoder.serialize_all(rows)   # protobuf messages: no batch to set up
    batch = plain[0] if plain is not None else encoder.batch_of_rows(rows)
    return batch, encoder.serialize_batch(batch)


def _log_answer(request_log: RequestLog, model, outputs, rows, plain, batch) -> None:
    # Many rows: from the batch's columns, by Arrow's CSV writer (see grpc_server).
    log_request = (row_logger(rows) if len(rows) <= FEW_ROWS
                   else column_logger(plain[1] if plain is not None else first_values(batch)))
    log_request(request_log, model, outputs)


def _result(verb: str, model, outputs, count: int, layout: str):
    """The answer's body in TF Serving's shape for the verb."""
    if verb == "classify":
        return task_outputs.classify_result(model.task, outputs, count)
    if verb == "regress":
        return task_outputs.regress_result(outputs, count)
    return as_json_predictions(outputs, columnar=layout == "columnar")


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


def _infer(model, given):
    if isinstance(given, FeatureColumns):
        return model.predict_features(given)
    return model.predict(given)


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
    _GracefulServer(config).run(sockets=[sock])


def _check_free(host: str, port: int) -> None:
    """Raises OSError naming the gRPC port when something listens on it: gRPC binds it only
    in the app's startup, where a failure would end the server with uvicorn's traceback."""
    try:
        bind(host, port).close()
    except OSError as error:
        raise OSError(f"gRPC port {port}: {error.strerror or error}") from error


def _grpc_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class _GracefulServer(uvicorn.Server):
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
