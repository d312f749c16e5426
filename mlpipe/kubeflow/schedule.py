"""Recurring runs of the compiled pipeline: a Kubeflow Pipelines recurring run (kfp.Client) or a
Vertex AI pipeline schedule (aiplatform.PipelineJobSchedule), created, listed, paused, resumed
and deleted with the real clients.

The two services read cron differently: KFP's scheduler (robfig/cron) takes six fields, seconds
first; Vertex AI takes the usual five, optionally prefixed with `TZ=Area/City` or
`CRON_TZ=Area/City`. An expression is checked for its target before anything is compiled or
sent, so a five-field line given to KFP is an error naming the flag, not a schedule that fires
at the wrong time. Every remote call has a time limit and fails as `CloudCallError`.
"""

from __future__ import annotations

import dataclasses
import pathlib
import re
from typing import List, Optional, Sequence, Tuple

from mlpipe.config import ConfigError
from mlpipe.config.cloud import CloudConfig
from mlpipe.kubeflow.submit import (DEFAULT_TIMEOUT_S, CloudCallError, check_kfp_host,
                                    init_vertex, kfp_call, vertex_call)

# (name, lowest, highest) of each field, as each service reads them.
_MINUTE_TO_WEEKDAY = [("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31),
                      ("month", 1, 12), ("day of week", 0, 7)]
CRON_FIELDS = {
    "kubeflow": [("second", 0, 59), *_MINUTE_TO_WEEKDAY],
    "vertex": _MINUTE_TO_WEEKDAY,
}
_TIME_ZONE = re.compile(r"^(?:CRON_)?TZ=[A-Za-z_+\-]+(?:/[A-Za-z0-9_+\-]+)*$")
_FIELD = re.compile(r"^(?:\*|\?|[0-9A-Za-z]+(?:-[0-9A-Za-z]+)?)(?:/[0-9]+)?$")
_NAMES = {"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8,
          "sep": 9, "oct": 10, "nov": 11, "dec": 12,
          "sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}


@dataclasses.dataclass(frozen=True)
class Schedule:
    id: str
    name: str
    cron: str
    state: str  # ENABLED / DISABLED (KFP), ACTIVE / PAUSED / COMPLETED (Vertex AI)


def check_cron(expression: str, target: str) -> str:
    """The expression, normalised to single spaces; ConfigError naming `--cron` if the target's
    scheduler would not read it as intended."""
    parts = expression.split()
    zone = [parts.pop(0)] if target == "vertex" and parts and _TIME_ZONE.match(parts[0]) else []
    fields = CRON_FIELDS[target]
    if len(parts) != len(fields):
        names = " ".join(name.replace(" ", "-") for name, _, _ in fields)
        raise ConfigError(f"--cron {expression!r}: {target} takes {len(fields)} fields "
                          f"({names}"
                          f"{', optionally after TZ=Area/City' if target == 'vertex' else ''}"
                          f"), got {len(parts)}")
    for text, (name, lowest, highest) in zip(parts, fields):
        for item in text.split(","):
            _check_item(item, name, lowest, highest, expression)
    return " ".join([*zone, *parts])


def _check_item(item: str, name: str, lowest: int, highest: int, expression: str) -> None:
    if not _FIELD.match(item):
        raise ConfigError(f"--cron {expression!r}: {name} field {item!r} is not a value, range, "
                          "list, step or *")
    base = item.split("/")[0]
    for value in ([] if base in ("*", "?") else base.split("-")):
        number = _NAMES.get(value.lower()) if not value.isdigit() else int(value)
        if number is None or not lowest <= number <= highest:
            raise ConfigError(f"--cron {expression!r}: {name} must be between {lowest} and "
                              f"{highest}, got {value!r}")


# ---------------------------------------------------------------- Kubeflow Pipelines


def create_kubeflow_schedule(package: pathlib.Path, host: str, pipeline_name: str, cron: str, *,
                             experiment: Optional[str] = None, pipeline_root: Optional[str] = None,
                             enable_caching: Optional[bool] = None,
                             service_account: Optional[str] = None,
                             timeout: float = DEFAULT_TIMEOUT_S) -> Schedule:
    """A recurring run of the compiled pipeline spec (YAML) in `experiment`, one run at a time,
    with no catch-up of missed runs (a pipeline that ingests the newest data needs none)."""
    cron = check_cron(cron, "kubeflow")
    client = _kfp_client(host, timeout)
    found = kfp_call(host, "create experiment", timeout,
                     lambda: client.create_experiment(experiment or pipeline_name))
    created = kfp_call(host, "create recurring run", timeout, lambda: client.create_recurring_run(
        experiment_id=found.experiment_id, job_name=pipeline_name, cron_expression=cron,
        pipeline_package_path=str(package), pipeline_root=pipeline_root,
        enable_caching=enable_caching, service_account=service_account, max_concurrency=1,
        no_catchup=True))
    if not getattr(created, "recurring_run_id", None):
        raise CloudCallError(f"Kubeflow Pipelines at {host}: create recurring run returned no id")
    return _kfp_schedule(created)


def list_kubeflow_schedules(host: str, pipeline_name: str, *, experiment: Optional[str] = None,
                            timeout: float = DEFAULT_TIMEOUT_S) -> List[Schedule]:
    """The recurring runs of the pipeline's experiment."""
    client = _kfp_client(host, timeout)
    found = kfp_call(host, "find experiment", timeout,
                     lambda: client.get_experiment(experiment_name=experiment or pipeline_name))
    listed = kfp_call(host, "list recurring runs", timeout, lambda: client.list_recurring_runs(
        experiment_id=found.experiment_id, page_size=100))
    return [_kfp_schedule(run) for run in (listed.recurring_runs or [])]


def change_kubeflow_schedule(host: str, action: str, schedule_id: str, *,
                             timeout: float = DEFAULT_TIMEOUT_S) -> None:
    """action: pause, resume or delete."""
    client = _kfp_client(host, timeout)
    method = {"pause": client.disable_recurring_run, "resume": client.enable_recurring_run,
              "delete": client.delete_recurring_run}[action]
    kfp_call(host, f"{action} recurring run {schedule_id}", timeout, lambda: method(schedule_id))


def _kfp_client(host: str, timeout: float):
    check_kfp_host(host, timeout)
    import kfp
    return kfp_call(host, "connect", timeout, lambda: kfp.Client(host=host))


def _kfp_schedule(run) -> Schedule:
    trigger = getattr(run, "trigger", None)
    cron = getattr(getattr(trigger, "cron_schedule", None), "cron", None) or ""
    return Schedule(id=run.recurring_run_id, name=run.display_name or "", cron=cron,
                    state=str(getattr(run, "status", None) or getattr(run, "mode", "")))


# ---------------------------------------------------------------- Vertex AI


def create_vertex_schedule(package: pathlib.Path, cloud: CloudConfig, pipeline_name: str,
                           cron: str, *, api_endpoint: Optional[str] = None,
                           timeout: float = DEFAULT_TIMEOUT_S) -> Schedule:
    """A Vertex AI PipelineJobSchedule of the compiled PipelineJob, one run at a time."""
    cron = check_cron(cron, "vertex")
    from google.cloud import aiplatform
    resource_kwargs = init_vertex(cloud, api_endpoint)
    try:
        job = aiplatform.PipelineJob(
            display_name=pipeline_name, template_path=str(package),
            pipeline_root=cloud.root_for(pipeline_name), enable_caching=cloud.enable_caching,
            labels=dict(cloud.labels) or None, **resource_kwargs)
    except Exception as error:  # noqa: BLE001 - a template the SDK cannot read
        raise CloudCallError(f"{package}: not a pipeline Vertex AI can run: {error}") from None
    schedule = aiplatform.PipelineJobSchedule(pipeline_job=job, display_name=pipeline_name,
                                              **resource_kwargs)
    vertex_call(f"create schedule {pipeline_name} in {cloud.project}/{cloud.region}", timeout,
                 lambda: schedule.create(cron=cron, max_concurrent_run_count=1,
                                         service_account=cloud.service_account,
                                         network=cloud.network,
                                         create_request_timeout=timeout))
    return _vertex_schedule(schedule)


def list_vertex_schedules(cloud: CloudConfig, pipeline_name: str, *,
                          api_endpoint: Optional[str] = None,
                          timeout: float = DEFAULT_TIMEOUT_S) -> List[Schedule]:
    from google.cloud import aiplatform
    resource_kwargs = init_vertex(cloud, api_endpoint)
    found = vertex_call("list schedules", timeout, lambda: aiplatform.PipelineJobSchedule.list(
        filter=f'display_name="{pipeline_name}"', **resource_kwargs))
    return [_vertex_schedule(schedule) for schedule in found]


def change_vertex_schedule(cloud: CloudConfig, action: str, schedule_id: str, *,
                           api_endpoint: Optional[str] = None,
                           timeout: float = DEFAULT_TIMEOUT_S) -> None:
    """action: pause, resume or delete; schedule_id: the id or the full resource name."""
    from google.cloud import aiplatform
    resource_kwargs = init_vertex(cloud, api_endpoint)
    schedule = vertex_call(f"get schedule {schedule_id}", timeout,
                            lambda: aiplatform.PipelineJobSchedule.get(schedule_id,
                                                                       **resource_kwargs))
    method = {"pause": schedule.pause, "resume": schedule.resume, "delete": schedule.delete}
    vertex_call(f"{action} schedule {schedule_id}", timeout, method[action])


def _vertex_schedule(schedule) -> Schedule:
    resource = schedule.gca_resource
    return Schedule(id=resource.name.rsplit("/", 1)[-1], name=resource.display_name,
                    cron=resource.cron, state=type(resource).State(resource.state).name)


def format_schedules(schedules: Sequence[Schedule]) -> Tuple[str, ...]:
    """One line per schedule for the terminal."""
    if not schedules:
        return ("no schedules",)
    return tuple(f"{s.id:<24} {s.state:<10} {s.cron:<24} {s.name}" for s in schedules)
