"""Submits a compiled pipeline: to a Kubeflow Pipelines API server (kfp.Client) or to Vertex AI
Pipelines (aiplatform.PipelineJob).

Every remote call has a time limit; a host that cannot be reached, or that answers 4xx / 5xx,
raises `CloudCallError` with a message naming the host, the call and the HTTP status, so the
CLI exits non-zero and never reports a submission that did not happen.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import hashlib
import io
import pathlib
import threading
import time
import urllib.error
import urllib.request
import warnings
from typing import Any, Callable, Dict, Optional, TypeVar

from mlpipe.config.cloud import CloudConfig
from mlpipe.errors import CallFailedError

DEFAULT_TIMEOUT_S = 60.0
KFP_API = "/apis/v2beta1"
VERTEX_TERMINAL_STATES = {"PIPELINE_STATE_SUCCEEDED", "PIPELINE_STATE_FAILED",
                          "PIPELINE_STATE_CANCELLED"}
T = TypeVar("T")


class CloudCallError(CallFailedError):
    """A call to Kubeflow Pipelines or Vertex AI failed; the message is for the user."""


def with_deadline(call: Callable[[], T], seconds: float, what: str) -> T:
    """Runs `call` in a daemon thread; gives up after `seconds` (the thread is abandoned).

    The kfp client offers no per-call timeout and retries by itself; this bounds every call.
    """
    result: Dict[str, Any] = {}

    def target():
        try:
            result["value"] = call()
        except BaseException as error:  # noqa: BLE001 - re-raised in the caller's thread
            result["error"] = error

    thread = threading.Thread(target=target, name=f"mlpipe-{what}", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise CloudCallError(f"{what}: no answer within {seconds:g}s (raise --timeout if the "
                             "service is just slow)")
    if "error" in result:
        raise result["error"]
    return result["value"]


# ---------------------------------------------------------------- Kubeflow Pipelines


@dataclasses.dataclass(frozen=True)
class KfpSubmission:
    run_id: str
    run_url: str
    pipeline_id: str
    pipeline_version_id: str
    experiment_id: str


def check_kfp_host(host: str, timeout: float) -> None:
    """GET <host>/apis/v2beta1/healthz with a time limit: fail fast and clearly, before kfp.Client
    (whose constructor retries the same call five times, 5 s apart)."""
    url = host.rstrip("/") + KFP_API + "/healthz"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            response.read()
    except urllib.error.HTTPError as error:
        body = error.read().decode("utf-8", "replace")[:300]
        raise CloudCallError(f"Kubeflow Pipelines at {host} answered HTTP {error.code} "
                             f"{error.reason} to GET {KFP_API}/healthz: {body}") from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise CloudCallError(f"cannot reach Kubeflow Pipelines at {host}: {reason}") from None


def submit_kubeflow(package: pathlib.Path, host: str, pipeline_name: str, *,
                    experiment: Optional[str] = None, run_name: Optional[str] = None,
                    version_name: Optional[str] = None, pipeline_root: Optional[str] = None,
                    enable_caching: Optional[bool] = None, service_account: Optional[str] = None,
                    timeout: float = DEFAULT_TIMEOUT_S) -> KfpSubmission:
    """Uploads `package` as pipeline `pipeline_name` (a new version when it exists) and starts a
    run of that version in `experiment`."""
    check_kfp_host(host, timeout)
    import kfp

    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    digest = hashlib.sha256(package.read_bytes()).hexdigest()[:8]
    version_name = version_name or f"{pipeline_name}-{stamp}-{digest}"
    run_name = run_name or f"{pipeline_name}-{stamp}"
    experiment = experiment or pipeline_name

    def call(what: str, fn: Callable[[], T]) -> T:
        return kfp_call(host, what, timeout, fn)

    client = call("connect", lambda: kfp.Client(host=host))
    pipeline_id = call("find pipeline", lambda: client.get_pipeline_id(pipeline_name))
    if pipeline_id is None:
        uploaded = call("upload pipeline", lambda: client.upload_pipeline(
            str(package), pipeline_name=pipeline_name,
            description=f"mlpipe TFX pipeline {pipeline_name}"))
        pipeline_id = uploaded.pipeline_id
        versions = call("list pipeline versions", lambda: client.list_pipeline_versions(
            pipeline_id, page_size=1, sort_by="created_at desc"))
        if not versions.pipeline_versions:
            raise CloudCallError(f"Kubeflow Pipelines at {host}: pipeline {pipeline_id} was "
                                 "uploaded but has no version to run")
        version_id = versions.pipeline_versions[0].pipeline_version_id
    else:
        version = call("upload pipeline version", lambda: client.upload_pipeline_version(
            str(package), pipeline_version_name=version_name, pipeline_id=pipeline_id))
        version_id = version.pipeline_version_id
    found = call("create experiment", lambda: client.create_experiment(experiment))
    run = call("create run", lambda: client.run_pipeline(
        experiment_id=found.experiment_id, job_name=run_name, pipeline_id=pipeline_id,
        version_id=version_id, pipeline_root=pipeline_root, enable_caching=enable_caching,
        service_account=service_account))
    if not getattr(run, "run_id", None):
        raise CloudCallError(f"Kubeflow Pipelines at {host}: create run returned no run id")
    return KfpSubmission(run_id=run.run_id,
                         run_url=f"{host.rstrip('/')}/#/runs/details/{run.run_id}",
                         pipeline_id=pipeline_id, pipeline_version_id=version_id,
                         experiment_id=found.experiment_id)


def kfp_call(host: str, what: str, timeout: float, fn: Callable[[], T]) -> T:
    """One kfp client call with a time limit; any failure is a CloudCallError naming the host,
    the call and the HTTP status."""
    import kfp_server_api
    try:
        with _quiet():
            return with_deadline(fn, timeout, f"Kubeflow Pipelines {what} at {host}")
    except kfp_server_api.ApiException as error:
        status = error.status or "no HTTP status"
        body = (error.body or "").strip() if isinstance(error.body, str) else error.body
        raise CloudCallError(f"Kubeflow Pipelines at {host}: {what} failed: HTTP {status} "
                             f"{error.reason or ''}: {str(body)[:300]}".rstrip(": ")) from None
    except CloudCallError:
        raise
    except Exception as error:  # noqa: BLE001 - connection errors from urllib3 and the like
        raise CloudCallError(f"Kubeflow Pipelines at {host}: {what} failed: "
                             f"{type(error).__name__}: {error}") from None


@contextlib.contextmanager
def _quiet():
    """kfp prints links and warns about server versions; mlpipe prints its own summary."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore", FutureWarning)
        yield


# ---------------------------------------------------------------- Vertex AI Pipelines


@dataclasses.dataclass
class VertexSubmission:
    resource_name: str
    console_url: str
    state: Optional[str] = None


def init_vertex(cloud: CloudConfig, api_endpoint: Optional[str] = None) -> Dict[str, Any]:
    """aiplatform.init for the project / region; returns the credentials kwargs for resources.

    `api_endpoint`: a regional, private (PSC) or stand-in endpoint. A plain http:// endpoint
    cannot carry Google OAuth tokens, so it is used with anonymous credentials (tests, emulators).
    """
    from google.cloud import aiplatform
    kwargs: Dict[str, Any] = {"project": cloud.project, "location": cloud.region}
    if api_endpoint:
        kwargs.update(api_endpoint=api_endpoint, api_transport="rest")
        if api_endpoint.startswith("http://"):
            from google.auth.credentials import AnonymousCredentials
            kwargs["credentials"] = AnonymousCredentials()
    aiplatform.init(**kwargs)
    return {k: kwargs[k] for k in ("project", "location", "credentials") if k in kwargs}


def vertex_console_url(project: str, region: str, job_id: str) -> str:
    return (f"https://console.cloud.google.com/vertex-ai/locations/{region}/pipelines/runs/"
            f"{job_id}?project={project}")


def describe_google_error(error: Exception, what: str) -> CloudCallError:
    code = getattr(error, "code", None)
    message = getattr(error, "message", None) or str(error)
    status = f"HTTP {int(code)} " if isinstance(code, int) or hasattr(code, "__int__") else ""
    return CloudCallError(f"Vertex AI: {what} failed: {status}{type(error).__name__}: "
                          f"{str(message)[:300]}")


def vertex_call(what: str, timeout: float, call: Callable[[], T]) -> T:
    """One Vertex AI SDK call with a time limit; any failure is a CloudCallError naming it."""
    try:
        return with_deadline(call, timeout + 5, f"Vertex AI: {what}")
    except CloudCallError:
        raise
    except Exception as error:  # noqa: BLE001 - api_core errors, connection errors
        raise describe_google_error(error, what) from None


def submit_vertex(package: pathlib.Path, cloud: CloudConfig, pipeline_name: str, *,
                  job_id: Optional[str] = None, api_endpoint: Optional[str] = None,
                  timeout: float = DEFAULT_TIMEOUT_S, wait: bool = False,
                  wait_timeout: float = 6 * 3600, poll_interval: float = 30.0,
                  on_state: Optional[Callable[[str], None]] = None) -> VertexSubmission:
    from google.cloud import aiplatform
    resource_kwargs = init_vertex(cloud, api_endpoint)
    job_id = job_id or f"{pipeline_name}-{datetime.datetime.now().strftime('%Y%m%d%H%M%S')}"
    try:
        job = aiplatform.PipelineJob(
            display_name=pipeline_name, template_path=str(package), job_id=job_id,
            pipeline_root=cloud.root_for(pipeline_name), enable_caching=cloud.enable_caching,
            labels=dict(cloud.labels) or None, **resource_kwargs)
    except Exception as error:  # noqa: BLE001 - a template the SDK cannot read
        raise CloudCallError(f"{package}: not a pipeline Vertex AI can run: {error}") from None
    vertex_call(f"create pipeline job {job_id} in {cloud.project}/{cloud.region}", timeout,
                lambda: job.submit(service_account=cloud.service_account, network=cloud.network,
                                   create_request_timeout=timeout))
    submission = VertexSubmission(resource_name=job.resource_name,
                                  console_url=vertex_console_url(cloud.project, cloud.region,
                                                                 job_id))
    if wait:
        submission.state = wait_for_vertex_job(job, wait_timeout, poll_interval, timeout,
                                               on_state)
    return submission


def wait_for_vertex_job(job, wait_timeout: float, poll_interval: float, call_timeout: float,
                        on_state: Optional[Callable[[str], None]] = None) -> str:
    deadline = time.monotonic() + wait_timeout
    last = None
    while True:
        try:
            state = with_deadline(lambda: job.state, call_timeout, "Vertex AI: get pipeline job")
        except CloudCallError:
            raise
        except Exception as error:  # noqa: BLE001
            raise describe_google_error(error, f"get pipeline job {job.resource_name}") from None
        name = getattr(state, "name", str(state))
        if name != last and on_state:
            on_state(name)
        last = name
        if name in VERTEX_TERMINAL_STATES:
            return name
        if time.monotonic() + poll_interval > deadline:
            raise CloudCallError(f"Vertex AI: pipeline job {job.resource_name} still {name} after "
                                 f"{wait_timeout:g}s; it keeps running, follow it in the console")
        time.sleep(poll_interval)
