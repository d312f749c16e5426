"""`mlpipe monitor` (registered with the CLI through `register`).

Exit codes: 0 within thresholds; 2 bad input (no file, no training statistics); 4 a drift
threshold was crossed, the data has schema anomalies, or (--evaluate) the model missed its KPI
or got worse by more than `evaluation.max_regression` against its own evaluation at push time
(a drop of auc/accuracy, a rise of rmse/mean_absolute_error/log_loss).
TensorFlow and TFDV are imported inside the handler, so `mlpipe --help` stays fast.
"""

import glob
import pathlib
import shutil

from mlpipe.core.schema_io import load_schema
from mlpipe.errors import EXIT_ALARM, EXIT_OK, BadInputError
from mlpipe.monitoring import history
from mlpipe.serving.request_log import FILE_GLOB


def register(command) -> None:
    monitor = command("monitor", _monitor,
                      "compare new data (a CSV file, or the logged requests) with the training "
                      "statistics: drift, schema anomalies; --evaluate: KPI on labelled data")
    monitor.add_argument("--input", help="CSV file or glob pattern (default: the request log "
                                         "of `mlpipe serve`)")
    monitor.add_argument("--output", help="also write the JSON report here (it is always kept "
                                          "in <run home>/monitoring/, where `mlpipe report` "
                                          "finds it)")
    monitor.add_argument("--version", help="pushed version whose training data is the baseline "
                                           "(default: the newest)")
    monitor.add_argument("--evaluate", metavar="LABELED_CSV",
                         help="also score this labelled CSV, check the config's KPI and compare "
                              "with the version's evaluation at push time")


def _monitor(invocation) -> int:
    config, home, args = invocation.config, invocation.home, invocation.args
    pattern = args.input or str(home.request_log_dir(config.serving) / FILE_GLOB)
    if not glob.glob(pattern):
        what = "--input" if args.input else "the request log (serve with logging first)"
        raise BadInputError(f"{what}: no file matches {pattern}")
    if args.evaluate and not pathlib.Path(args.evaluate).is_file():
        raise BadInputError(f"--evaluate {args.evaluate}: file not found")
    from mlpipe.monitoring.drift import monitor
    from mlpipe.monitoring.training_stats import find_training_statistics

    training = find_training_statistics(home, args.version)
    print(f"mlpipe monitor: {config.name}", flush=True)
    report = monitor(pattern, load_schema(config.schema_path), training, config.monitoring,
                     config.features.raw_columns, config.label.source_columns)
    print(report.summary())
    body = report.to_json()
    alarm = report.alarm
    if args.evaluate:
        evaluation = _evaluate(config, home, args)
        body["evaluation"] = evaluation.to_json()
        alarm = alarm or bool(evaluation.failed)

    body["model_version"] = training.version
    recorded = history.record(home, body)
    print(f"Report: {recorded}")
    if args.output:
        pathlib.Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(recorded, args.output)
        print(f"Copy:   {args.output}")
    return EXIT_ALARM if alarm else EXIT_OK


def _evaluate(config, home, args):
    from mlpipe.config.metrics import LOWER_IS_BETTER
    from mlpipe.monitoring.evaluate import evaluate_csv
    from mlpipe.serving.examples import RequestError, encoder_for_schema
    from mlpipe.serving.model import LoadedModel, resolve_version
    version, path = resolve_version(home, int(args.version) if args.version else None)
    try:
        result = evaluate_csv(LoadedModel.load(version, path, label=config.label),
                              encoder_for_schema(config.schema_path,
                                                 config.data.missing_values), args.evaluate,
                              config.label, config.evaluation.kpi)
    except RequestError as error:
        raise BadInputError(f"--evaluate {args.evaluate}: {error}") from error
    _compare_with_push_time(config, home, version, result)
    print(f"\nEvaluation of version {version} on {args.evaluate} ({result.rows:,} rows, "
          f"{config.label.task}):")
    print(f"  {'metric':<20} {'now':>8} {'at push':>8} {'change':>8}  bounds")
    for name in result.metric_names:
        bounds = []
        bound = config.evaluation.kpi.get(name)
        if bound and bound.min is not None:
            bounds.append(f"KPI min {bound.min}")
        if bound and bound.max is not None:
            bounds.append(f"KPI max {bound.max}")
        if name in config.evaluation.max_regression:
            worse = "rise" if name in LOWER_IS_BETTER else "drop"
            bounds.append(f"max {worse} {config.evaluation.max_regression[name]}")
        pushed = (result.push_time or {}).get(name)
        change = result.change.get(name)
        print(f"  {name:<20} {result.metrics[name]:>8.4f} "
              f"{'-' if pushed is None else format(pushed, '.4f'):>8} "
              f"{'-' if change is None else format(change, '+.4f'):>8}  "
              f"{', '.join(bounds)}".rstrip())
    if result.classes:
        print(f"  {'class':<20} {'rows':>8} {'predicted':>10} {'correct':>8}")
        for name, counts in result.classes.items():
            print(f"  {name:<20} {counts['rows']:>8,} {counts['predicted']:>10,} "
                  f"{counts['correct']:>8,}")
    if result.push_time is not None:
        print(f"  at push: TFMA's evaluation in run {result.push_time_run} (its eval split)")
    else:
        print(f"  no push-time evaluation to compare with: {result.push_time_error}")
    if result.failed:
        print("Thresholds crossed: " + "; ".join(result.failed))
    elif result.change and config.evaluation.max_regression:
        print("KPI met, no change for the worse beyond max_regression since push")
    else:
        print("KPI met")
    return result


def _compare_with_push_time(config, home, version, result) -> None:
    """The version's evaluation at push time, from the run that pushed it (TFMA's output)."""
    from mlpipe.monitoring.evaluate import compare_with_push_time
    from mlpipe.report.loader import ReportError, load_report
    try:
        report = load_report(home, str(version), config.evaluation.main_metric,
                             config.evaluation.min_slice_size)
    except (ReportError, OSError) as error:  # no metadata, run or evaluation
        result.push_time_error = str(error)
        return
    compare_with_push_time(result, report.candidate, config.evaluation.max_regression,
                           run=report.run_id)
