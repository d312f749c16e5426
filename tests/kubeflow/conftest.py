"""Stand-in HTTP servers on 127.0.0.1 for the real kfp and aiplatform clients, and a cloud config
(its `cloud:` section: tests.support.cloud.CLOUD).

A server is `http.server` in a thread; a test gives it `routes` (method, path regex) -> handler,
the handler returns (status, JSON body), and every request is recorded (method, path, query,
headers, body) for the test to assert on. Nothing leaves the machine.
"""

from __future__ import annotations

import dataclasses
import email.parser
import email.policy
import json
import re
import socket
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, List, Tuple

import pytest

from mlpipe.config import load_config
from mlpipe.config.cloud import resolve_cloud
from mlpipe.kubeflow.compile import compile_pipeline
from tests.support.cloud import CLOUD


@dataclasses.dataclass
class Request:
    method: str
    path: str
    query: Dict[str, List[str]]
    headers: Dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def multipart_files(self) -> Dict[str, bytes]:
        """name -> content of each part of a multipart/form-data body."""
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + self.headers["Content-Type"].encode() + b"\r\n\r\n" + self.body)
        return {part.get_param("name", header="content-disposition"): part.get_payload(decode=True)
                for part in message.iter_parts()}


Handler = Callable[[Request, "re.Match"], Tuple[int, Any]]


class StandIn:
    """A recording HTTP server; `routes` is a list of (METHOD, path regex, handler)."""

    def __init__(self, routes: List[Tuple[str, str, Handler]]):
        self.routes = routes
        self.requests: List[Request] = []
        stand_in = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                url = urllib.parse.urlsplit(self.path)
                request = Request(self.command, url.path, urllib.parse.parse_qs(url.query),
                                  dict(self.headers.items()), self.rfile.read(length))
                stand_in.requests.append(request)
                status, body = 404, {"error": {"code": 404, "message": f"no route {url.path}",
                                               "status": "NOT_FOUND"}}
                for method, pattern, handler in stand_in.routes:
                    match = re.fullmatch(pattern, url.path)
                    if method == self.command and match:
                        status, body = handler(request, match)
                        break
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

            def log_message(self, *args):  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def find(self, method: str, path_regex: str) -> List[Request]:
        return [r for r in self.requests if r.method == method and re.fullmatch(path_regex, r.path)]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stand_in():
    """stand_in(routes) -> a started StandIn; all are shut down after the test."""
    started: List[StandIn] = []

    def start(routes):
        server = StandIn(routes)
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()


@pytest.fixture
def closed_port_url():
    """An http://127.0.0.1 URL nobody listens on (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture(scope="session")
def base_config():
    return load_config()


@pytest.fixture(scope="session")
def cloud_config(base_config):
    """cloud_config(**cloud_changes) -> the taxi config with a `cloud:` section."""
    from mlpipe.config.cloud import CloudConfig

    def make(**changes):
        cloud = CloudConfig.model_validate({**CLOUD, **changes})
        return base_config.model_copy(update={"cloud": cloud})
    return make


@pytest.fixture(scope="session")
def packages(cloud_config, tmp_path_factory):
    """The taxi pipeline compiled once per session for each target: {target: CompiledPipeline}."""
    config = cloud_config()
    folder = tmp_path_factory.mktemp("packages")
    return {target: compile_pipeline(config, resolve_cloud(config, target), target,
                                     folder / f"p.{'yaml' if target == 'kubeflow' else 'json'}")
            for target in ("kubeflow", "vertex")}
