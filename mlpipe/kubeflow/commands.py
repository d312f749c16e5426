"""`mlpipe compile | submit | deploy`: the cloud commands (registered by mlpipe.cli).

Heavy imports (TFX, kfp, google-cloud-aiplatform) happen inside the handlers, so `mlpipe --help`
stays fast. Exit codes: 0 done; 1 a cloud call failed (host unreachable, HTTP 4xx/5xx, time
limit, a followed Vertex run that failed); 2 bad config or flags (the field is named).
"""

from __future__ import annotations

import argparse
import pathlib
import tempfile

from mlpipe.config import ConfigError
from mlpipe.config.cloud import resolve_cloud, resolve_deploy_cloud
from mlpipe.errors import EXIT_FAILED, EXIT_OK, BadInputError

# flag -> CloudConfig field
_CLOUD_FLAGS = {
    "project": "GCP project",
    "region": "GCP region, e.g. us-central1",
    "bucket": "GCS bucket name (pipeline root gs://BUCKET/mlpipe/<pipeline>)",
    "pipeline_root": "gs:// pipeline root (overrides --bucket)",
    "image": "pipeline image URI (built from mlpipe/kubeflow/Dockerfile)",
    "service_account": "service account the pipeline (and Dataflow, training) runs as",
    "data_path": "gs:// CSV file or folder/ the cloud run reads",
    "network": "VPC network for Vertex AI (projects/NUMBER/global/networks/NAME)",
}


def register(command) -> None:
    compile_cmd = command("compile", _compile,
                          "compile the pipeline for Kubeflow Pipelines or Vertex AI (offline)")
    _target(compile_cmd)
    _cloud_flags(compile_cmd)
    compile_cmd.add_argument("--output", help="output file (default: ./<pipeline>-<target>."
                                              "yaml for kubeflow, .json for vertex)")

    submit = command("submit", _submit,
                     "compile (or take --package) and start a run on Kubeflow Pipelines / "
                     "Vertex AI")
    _target(submit)
    _cloud_flags(submit)
    submit.add_argument("--package",
                        help="an already compiled pipeline file (default: compile now)")
    submit.add_argument("--output", help="where to write the compiled pipeline "
                                         "(default: a temporary file)")
    submit.add_argument("--host", help="Kubeflow Pipelines API URL (or cloud.kubeflow_host)")
    submit.add_argument("--experiment", help="KFP experiment (default: cloud.experiment or the "
                                             "pipeline name)")
    submit.add_argument("--run-name", help="run / job id (default: <pipeline>-<timestamp>)")
    submit.add_argument("--accept-drift", action="store_true",
                        help="data by span: this run's DriftGate lets a known shift through "
                             "(compiled into this submission only, recorded on the gate)")
    submit.add_argument("--wait", action="store_true",
                        help="vertex: follow the run until it ends; exit 1 unless it succeeded")
    submit.add_argument("--wait-timeout", type=float, default=6 * 3600,
                        help="seconds --wait follows the run (default 6 h)")
    submit.add_argument("--poll-interval", type=float, default=30.0,
                        help="seconds between state checks with --wait (default 30)")
    _call_flags(submit)

    schedule = command("schedule", _schedule,
                       "run the pipeline on a schedule on Kubeflow Pipelines (recurring run) or "
                       "Vertex AI (pipeline schedule); list, pause, resume or delete schedules")
    _target(schedule)
    _cloud_flags(schedule)
    action = schedule.add_mutually_exclusive_group(required=True)
    action.add_argument("--cron", help="when to run: kubeflow takes 6 fields (seconds first, "
                                       "e.g. '0 0 3 * * *'), vertex 5 (e.g. '0 3 * * *', "
                                       "optionally 'TZ=Europe/Berlin 0 3 * * *')")
    action.add_argument("--list", action="store_true", help="list the pipeline's schedules")
    for verb in ("pause", "resume", "delete"):
        action.add_argument(f"--{verb}", metavar="ID", help=f"{verb} the schedule with this id")
    schedule.add_argument("--package", help="an already compiled pipeline file (default: "
                                            "compile now)")
    schedule.add_argument("--output", help="where to write the compiled pipeline "
                                           "(default: a temporary file)")
    schedule.add_argument("--host", help="Kubeflow Pipelines API URL (or cloud.kubeflow_host)")
    schedule.add_argument("--experiment", help="KFP experiment (default: cloud.experiment or the "
                                               "pipeline name)")
    _call_flags(schedule)

    deploy = command("deploy", _deploy,
                     "upload a pushed model to the Vertex AI Model Registry and deploy it to an "
                     "endpoint")
    deploy.add_argument("--target", choices=["vertex"], required=True)
    for name in ("project", "region", "service_account"):
        deploy.add_argument("--" + name.replace("_", "-"), dest=name, help=_CLOUD_FLAGS[name])
    deploy.add_argument("--model-uri", required=True,
                        help="gs:// folder of the SavedModel to serve (a pushed version)")
    deploy.add_argument("--serving-image", help="prebuilt TF prediction container URI "
                                                "(or cloud.deploy.serving_image)")
    deploy.add_argument("--endpoint", help="endpoint display name (or cloud.deploy.endpoint)")
    _call_flags(deploy)


def _target(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--target", choices=["kubeflow", "vertex"], required=True)


def _cloud_flags(parser: argparse.ArgumentParser) -> None:
    for name, help_text in _CLOUD_FLAGS.items():
        parser.add_argument("--" + name.replace("_", "-"), dest=name, help=help_text)
    parser.add_argument("--no-cache", dest="enable_caching", action="store_const", const=False,
                        help="disable TFX / KFP caching for this pipeline")


def _call_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="seconds each API call may take (default 60)")
    parser.add_argument("--api-endpoint",
                        help="vertex: API endpoint override (regional/private; an http:// "
                             "endpoint is used without credentials, for emulators and tests)")


def _overrides(args) -> dict:
    names = [*_CLOUD_FLAGS, "enable_caching"]
    return {name: getattr(args, name, None) for name in names}


def _compile(invocation) -> int:
    config, args = invocation.config, invocation.args
    cloud = resolve_cloud(config, args.target, _overrides(args))
    from mlpipe.kubeflow.compile import compile_pipeline
    compiled = compile_pipeline(config, cloud, args.target,
                                pathlib.Path(args.output) if args.output else None)
    tasks = compiled.spec["root"]["dag"]["tasks"]
    print(f"Compiled {config.name} for {args.target}: {compiled.path}")
    print(f"  {len(tasks)} tasks, image {cloud.image}")
    print(f"  pipeline root {compiled.pipeline_root}")
    return EXIT_OK


def _kubeflow_host(args, cloud) -> str:
    host = args.host or cloud.kubeflow_host
    if not host:
        raise ConfigError("--host (or cloud.kubeflow_host) is required for --target "
                          "kubeflow: the Kubeflow Pipelines API URL")
    return host


def _submit(invocation) -> int:
    config, args = invocation.config, invocation.args
    cloud = resolve_cloud(config, args.target, _overrides(args))
    if args.target == "kubeflow":
        host = _kubeflow_host(args, cloud)
    from mlpipe.kubeflow import submit
    with tempfile.TemporaryDirectory(prefix="mlpipe-submit-") as scratch:
        package = _package(config, cloud, args, pathlib.Path(scratch))
        if args.target == "kubeflow":
            result = submit.submit_kubeflow(
                package, host, config.name, experiment=args.experiment or cloud.experiment,
                run_name=args.run_name, pipeline_root=cloud.root_for(config.name),
                enable_caching=cloud.enable_caching, timeout=args.timeout)
            print(f"Submitted {config.name} to Kubeflow Pipelines at {host}")
            print(f"Run id:   {result.run_id}")
            print(f"Run URL:  {result.run_url}")
            print(f"Pipeline: {result.pipeline_id} version {result.pipeline_version_id}")
            return EXIT_OK
        result = submit.submit_vertex(
            package, cloud, config.name, job_id=args.run_name,
            api_endpoint=args.api_endpoint, timeout=args.timeout, wait=args.wait,
            wait_timeout=args.wait_timeout, poll_interval=args.poll_interval,
            on_state=lambda state: print(f"  state: {state}", flush=True))
    print(f"Submitted {config.name} to Vertex AI Pipelines")
    print(f"Resource:  {result.resource_name}")
    print(f"Console:   {result.console_url}")
    if result.state is not None:
        print(f"Final state: {result.state}")
        return EXIT_OK if result.state == "PIPELINE_STATE_SUCCEEDED" else EXIT_FAILED
    return EXIT_OK


def _schedule(invocation) -> int:
    config, args = invocation.config, invocation.args
    from mlpipe.kubeflow import schedule
    if args.cron:
        schedule.check_cron(args.cron, args.target)  # before compiling anything
    cloud = resolve_cloud(config, args.target, _overrides(args))
    kubeflow = args.target == "kubeflow"
    host = _kubeflow_host(args, cloud) if kubeflow else None
    experiment = args.experiment or cloud.experiment
    calls = {"timeout": args.timeout} if kubeflow else {"timeout": args.timeout,
                                                         "api_endpoint": args.api_endpoint}
    if args.list:
        found = (schedule.list_kubeflow_schedules(host, config.name, experiment=experiment,
                                                  **calls) if kubeflow else
                 schedule.list_vertex_schedules(cloud, config.name, **calls))
        print("\n".join(schedule.format_schedules(found)))
        return EXIT_OK
    verb = next((verb for verb in ("pause", "resume", "delete") if getattr(args, verb)), None)
    if verb:
        schedule_id = getattr(args, verb)
        if kubeflow:
            schedule.change_kubeflow_schedule(host, verb, schedule_id, **calls)
        else:
            schedule.change_vertex_schedule(cloud, verb, schedule_id, **calls)
        done = {"pause": "Paused", "resume": "Resumed", "delete": "Deleted"}[verb]
        print(f"{done} schedule {schedule_id} ({args.target})")
        return EXIT_OK
    with tempfile.TemporaryDirectory(prefix="mlpipe-schedule-") as scratch:
        package = _package(config, cloud, args, pathlib.Path(scratch))
        if kubeflow:
            created = schedule.create_kubeflow_schedule(
                package, host, config.name, args.cron, experiment=experiment,
                pipeline_root=cloud.root_for(config.name), enable_caching=cloud.enable_caching,
                **calls)
        else:
            created = schedule.create_vertex_schedule(package, cloud, config.name, args.cron,
                                                      **calls)
    print(f"Scheduled {config.name} on {args.target}: {created.cron}")
    print(f"Schedule id: {created.id} ({created.state})")
    return EXIT_OK


def _package(config, cloud, args, scratch: pathlib.Path) -> pathlib.Path:
    if args.package:
        if getattr(args, "accept_drift", False):
            raise BadInputError("--accept-drift compiles the acceptance into this submission: "
                                "it cannot change an already compiled --package")
        package = pathlib.Path(args.package)
        if not package.is_file():
            raise ConfigError(f"--package: file not found: {package}")
        return package
    from mlpipe.kubeflow.compile import compile_pipeline, default_output
    output = pathlib.Path(args.output) if args.output else scratch / default_output(
        config, args.target).name
    return compile_pipeline(config, cloud, args.target, output,
                            accept_drift=getattr(args, "accept_drift", False)).path


def _deploy(invocation) -> int:
    config, args = invocation.config, invocation.args
    cloud = resolve_deploy_cloud(config, {
        "project": args.project, "region": args.region, "service_account": args.service_account,
    }, {"serving_image": args.serving_image, "endpoint": args.endpoint})
    from mlpipe.kubeflow import deploy
    result = deploy.deploy_vertex(args.model_uri, cloud, config.name,
                                  api_endpoint=args.api_endpoint, timeout=args.timeout)
    print(f"Model:    {result.model}")
    print(f"Endpoint: {result.endpoint} ({'created' if result.endpoint_created else 'reused'})")
    print("Traffic:  " + ", ".join(f"{k}={v}%" for k, v in sorted(result.traffic_split.items())))
    return EXIT_OK
