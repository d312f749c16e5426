"""Builds a `Report` of one pipeline run from ML Metadata, TFMA's own loaders and TFDV statistics.

A run is found by run id (the pipeline_run context's name, or a unique prefix of it), by pushed
model version (the folder name under serving/), or is the latest run. Every number comes from
`tfma.load_eval_result` / `tfma.load_validation_result` on the Evaluator's output, or from the
run's TFDV statistics and anomalies: nothing is recomputed here. The `mlpipe monitor` results of
the version the run pushed come from the run home's monitoring history. Feature attributions are
the run's FeatureAttributions output as that component wrote it (none for runs that predate it).

What is read depends on the label's task, which the evaluation's own EvalConfig says (its
prediction key, core.contract.PREDICTION_KEY): binary the ROC and PR curves, the confusion
matrix at 0.5 and the calibration plot; multiclass the per-class precision and recall (TFMA's
sub key `classId:<i>`, named by `label.classes`) and the multi-class confusion matrix;
regression the predicted-vs-actual plot (TFMA's calibration plot over `evaluation.plot_range`:
the mean label per bucket of predicted value). Slices are ranked worst first by the main metric,
"worst" being the highest for a lower-is-better metric (rmse, log_loss).
"""

import dataclasses
import math
import os
import pathlib
from typing import Dict, List, Optional, Tuple

from tensorflow_metadata.proto.v0 import anomalies_pb2, statistics_pb2

from mlpipe.config.metrics import LOWER_IS_BETTER, PER_CLASS_METRICS
from mlpipe.core.contract import (EVALUATOR_ID, EXAMPLE_GEN_ID, PREDICTION_KEY, PUSHER_ID,
                                  SCHEMA_GEN_ID, TRANSFORM_ID)
from mlpipe.core.thresholds import ThresholdCheck, threshold_checks
from mlpipe.core import lineage, tfma_results
from mlpipe.core.artifacts import (ANOMALIES_FILE, STATISTICS_FILE, is_blessed, span_of,
                                   split_dirs, split_uri)
from mlpipe.core.run_home import RunHome
from mlpipe.errors import BadInputError
from mlpipe.monitoring import history
from mlpipe.report import fairness as fairness_checks

CURVE_POINTS = 101


class ReportError(BadInputError):
    """The run or its outputs cannot be reported on; the message says what and where."""


@dataclasses.dataclass
class SliceRow:
    feature: str
    value: str
    example_count: float
    metrics: Dict[str, float]
    too_small: bool


@dataclasses.dataclass
class FeatureSummary:
    name: str
    type: str
    missing_rate: float
    summary: str
    histogram: List[float]
    anomaly: Optional[str]


@dataclasses.dataclass
class Report:
    pipeline: str
    run_id: str
    main_metric: str
    blessed: Optional[bool]
    validation_ok: Optional[bool]
    thresholds: List[ThresholdCheck]
    candidate: Dict[str, float]
    baseline: Optional[Dict[str, float]]
    slices: List[SliceRow]
    roc: List[Tuple[float, float]]
    pr: List[Tuple[float, float]]
    calibration: List[Tuple[float, float, float]]
    confusion: Dict[str, float]
    data: List[FeatureSummary]
    lineage: Dict[str, Optional[str]]
    evaluation_uri: str
    monitored_version: Optional[str] = None   # the version this run pushed, if any
    monitoring: List[dict] = dataclasses.field(default_factory=list)  # its `mlpipe monitor`s
    # FeatureAttributions' attributions.json: metric, unshuffled value, rows, repeats and the
    # features ranked by mean drop; {} when the run has none (runs before the component existed).
    attributions: dict = dataclasses.field(default_factory=dict)
    # FairnessGate's fairness.json (every slice of the sensitive features: value, bound, margin,
    # judged or not, and the refusals); {} when the config has no evaluation.fairness section.
    fairness: dict = dataclasses.field(default_factory=dict)
    task: str = "binary"                      # the label's task, as the evaluation was made
    lower_is_better: bool = False             # the main metric's direction (rmse, log_loss)
    # multiclass: the class names in class-id order; per class {precision, recall} (overall
    # slice); the multi-class confusion matrix at TFMA's threshold (argmax): {threshold,
    # classes, matrix: rows = actual class, columns = predicted class, counts}.
    classes: List[str] = dataclasses.field(default_factory=list)
    per_class: Dict[str, Dict[str, float]] = dataclasses.field(default_factory=dict)
    class_confusion: dict = dataclasses.field(default_factory=dict)
    # regression: TFMA's calibration plot buckets with examples, as (mean prediction, mean
    # label, examples, lower edge, upper edge), in order of predicted value.
    predicted_vs_actual: List[Tuple[float, float, float, float, float]] = dataclasses.field(
        default_factory=list)
    # Data by span (None / [] / {} otherwise): the span the run ingested (the one evaluated),
    # the spans its model trained on (data.window), the DriftGate's drift.json.
    span: Optional[int] = None
    trained_spans: List[int] = dataclasses.field(default_factory=list)
    drift_gate: dict = dataclasses.field(default_factory=dict)


def load_report(home: RunHome, selector: Optional[str], main_metric: str,
                min_slice_size: int, classes: Optional[List[str]] = None) -> Report:
    """The report of one run. `classes`: the multiclass label's class names in id order
    (`label.classes`); without them a class is named by its id."""
    if not home.metadata_path.exists():
        raise ReportError(f"{home.root}: no pipeline run found here (no metadata.sqlite); "
                          "run `mlpipe run` first, or pass the --home used for it")
    with lineage.open_store(home.metadata_path) as store:
        run = _select_run(store, home, selector)
        nodes = lineage.executions_by_node(store, run.id)
        evaluator = nodes.get(EVALUATOR_ID)
        if evaluator is None:
            raise ReportError(f"run {run.name} never reached the Evaluator: "
                              f"{_where_it_stopped(nodes)}")
        outputs = lineage.outputs_of(store, evaluator.id)
        inputs = lineage.inputs_of(store, evaluator.id)
        if "evaluation" not in outputs:
            raise ReportError(f"run {run.name}: the Evaluator failed before writing its output")
        evaluation_uri = outputs["evaluation"].uri
        blessing = outputs.get("blessing")
        blessed = is_blessed(blessing) if blessing else None
        gate_blessing, fairness_uri = fairness_checks.gate_outputs(store, nodes)
        if gate_blessing is not None:  # the gate's blessing is the one the Pusher read
            blessed = is_blessed(gate_blessing)
        run_lineage = _lineage(store, nodes, inputs, blessed)
        statistics_uri, anomalies_uri = (
            _artifact_uri(store, nodes, "StatisticsGen", "statistics"),
            _artifact_uri(store, nodes, "ExampleValidator", "anomalies"))
        attributions_uri = _attributions_uri(store, nodes)
        spans = _spans(store, nodes)
    run_lineage.update(_span_lines(spans))
    evaluation = load_evaluation(evaluation_uri, classes)
    candidate = evaluation["candidate"]
    thresholds = threshold_checks(evaluation["config"], candidate, evaluation["baseline"])
    plots = evaluation["plots"]
    return Report(
        pipeline=home.root.name, run_id=run.name, main_metric=main_metric, blessed=blessed,
        validation_ok=evaluation["validation_ok"], thresholds=thresholds, candidate=candidate,
        baseline=evaluation["baseline"],
        slices=_slices(evaluation["slices"], main_metric, min_slice_size),
        roc=plots["roc"], pr=plots["pr"], calibration=plots["calibration"],
        confusion=plots["confusion"], task=evaluation["task"],
        lower_is_better=main_metric in LOWER_IS_BETTER, classes=evaluation["classes"],
        per_class=evaluation["per_class"], class_confusion=plots["class_confusion"],
        predicted_vs_actual=plots["predicted_vs_actual"],
        data=_data_summary(statistics_uri, anomalies_uri),
        lineage=run_lineage, evaluation_uri=evaluation_uri,
        attributions=_attributions(attributions_uri),
        fairness=fairness_checks.load_fairness(fairness_uri),
        **spans, **_monitoring(home, run_lineage["pushed_to"]))


def _spans(store, nodes) -> dict:
    """Data by span: {span, trained_spans, drift_gate} of a run ({} otherwise)."""
    example_gen = nodes.get(EXAMPLE_GEN_ID)
    if example_gen is None or not lineage.reads_spans(example_gen):
        return {}
    examples = lineage.outputs_of(store, example_gen.id).get("examples")
    transform = nodes.get(TRANSFORM_ID)
    trained = lineage.input_artifacts(store, transform.id, "examples") if transform else []
    from mlpipe.components import drift_gate  # TFX: only for a run with data by span
    report_uri = _artifact_uri(store, nodes, drift_gate.NODE_ID, drift_gate.REPORT_KEY)
    return {"span": span_of(examples) if examples is not None else None,
            "trained_spans": sorted({span_of(artifact) for artifact in trained}),
            "drift_gate": drift_gate.read_report(report_uri) if report_uri else {}}


def _span_lines(spans: dict) -> Dict[str, str]:
    """The span and the drift gate's verdict, as lines of the report's lineage."""
    if not spans:
        return {}
    from mlpipe.components import drift_gate  # TFX: only for a run with data by span
    trained = ", ".join(map(str, spans["trained_spans"])) or "-"
    return {"span": f"span {spans['span']} (trained on span"
                    f"{'s' if len(spans['trained_spans']) != 1 else ''} {trained}; evaluated on "
                    f"span {spans['span']}'s eval split)",
            "drift_gate": drift_gate.summary(spans["drift_gate"]) if spans["drift_gate"]
            else "no report (the gate is not in this run's graph)"}


def _attributions_uri(store, nodes) -> Optional[str]:
    from mlpipe.components import attributions  # TFX and TFMA: only for the report's attributions
    return _artifact_uri(store, nodes, attributions.NODE_ID, attributions.ATTRIBUTIONS_KEY)


def _attributions(uri: Optional[str]) -> dict:
    if not uri:
        return {}
    from mlpipe.components.attributions import read_attributions  # TFX and TFMA: only when needed
    try:
        return read_attributions(uri)
    except (OSError, ValueError) as error:
        raise ReportError(f"{uri}: cannot read the feature attributions "
                          f"({type(error).__name__}: {error})") from error


def _monitoring(home: RunHome, pushed_to: Optional[str]) -> dict:
    if not pushed_to:
        return {}
    version = pathlib.Path(pushed_to).name
    return {"monitored_version": version, "monitoring": history.results_for(home, version)}


def _select_run(store, home: RunHome, selector: Optional[str]):
    runs = lineage.pipeline_runs(store)
    if not runs:
        raise ReportError(f"{home.metadata_path}: no pipeline run recorded")
    if selector is None:
        return runs[-1]
    version_run = _run_of_pushed_version(store, runs, selector)
    if version_run is not None:
        return version_run
    matching = [run for run in runs if run.name.startswith(selector)]
    if len(matching) != 1:
        known = ", ".join(run.name for run in runs[-5:])
        raise ReportError(f"'{selector}' names {'no' if not matching else 'more than one'} run or "
                          f"pushed model version in {home.root} (latest runs: {known}; versions: "
                          f"{', '.join(p.name for p in home.pushed_versions()) or 'none'})")
    return matching[0]


def _run_of_pushed_version(store, runs, version: str):
    for run in reversed(runs):
        pusher = lineage.executions_by_node(store, run.id).get(PUSHER_ID)
        if pusher is None:
            continue
        pushed = lineage.outputs_of(store, pusher.id).get("pushed_model")
        if pushed and pushed.custom_properties["pushed_version"].string_value == version:
            return run
    return None


def _where_it_stopped(nodes) -> str:
    failed = [name for name, execution in nodes.items()
              if execution.last_known_state == execution.FAILED]
    if failed:
        return f"{', '.join(failed)} failed (see the run's log under logs/)"
    return "the run stopped early (no failed component recorded)"


def _artifact_uri(store, nodes, node: str, key: str) -> Optional[str]:
    execution = nodes.get(node)
    if execution is None:
        return None
    artifact = lineage.outputs_of(store, execution.id).get(key)
    return artifact.uri if artifact else None


def _lineage(store, nodes, evaluator_inputs, blessed) -> Dict[str, Optional[str]]:
    pushed_version = (lineage.pushed_destination(store, nodes[PUSHER_ID].id)
                      if PUSHER_ID in nodes else None)
    baseline = evaluator_inputs.get("baseline_model")
    return {
        "data": _artifact_uri(store, nodes, EXAMPLE_GEN_ID, "examples"),
        "schema": _artifact_uri(store, nodes, SCHEMA_GEN_ID, "schema"),
        "model": evaluator_inputs["model"].uri if "model" in evaluator_inputs else None,
        "baseline_model": baseline.uri if baseline else None,
        "blessed": {True: "yes", False: "no", None: "unknown"}[blessed],
        "pushed_to": pushed_version,
    }


def load_evaluation(uri: str, classes: Optional[List[str]] = None) -> dict:
    import tensorflow_model_analysis as tfma  # slow: only when an evaluation is read
    try:
        candidate_name = lineage.candidate_model_name(uri)
        result = tfma.load_eval_result(uri, model_name=candidate_name)
        validation = tfma.load_validation_result(uri)
    except Exception as error:  # noqa: BLE001 - any unreadable output gets the same clear error
        raise ReportError(f"{uri}: cannot read the Evaluator's output with TFMA "
                          f"{tfma.__version__} ({type(error).__name__}: {error})") from error
    baseline = None
    if candidate_name is not None:
        baseline_name = next(spec.name for spec in result.config.model_specs if spec.is_baseline)
        baseline_result = tfma.load_eval_result(uri, model_name=baseline_name)
        baseline = lineage.slice_metrics(baseline_result.slicing_metrics)
    task = task_of(result.config)
    overall = next((metrics for key, metrics in result.slicing_metrics if key == ()), {})
    per_class = per_class_metrics(overall)
    names = class_names(classes, per_class)
    return {
        "config": result.config,
        "task": task,
        "candidate": lineage.slice_metrics(result.slicing_metrics),
        "baseline": baseline,
        "slices": result.slicing_metrics,
        "plots": _curves(next((plots for key, plots in result.plots if key == ()), {}), task,
                         names),
        "validation_ok": validation.validation_ok,
        "classes": names,
        "per_class": {names[index]: values for index, values in sorted(per_class.items())},
    }


def task_of(eval_config) -> str:
    """The task an EvalConfig evaluates, by the candidate's prediction key (binary when the key
    is none of the tasks')."""
    spec = next((spec for spec in eval_config.model_specs if not spec.is_baseline), None)
    key = spec.prediction_key if spec is not None else ""
    return next((task for task, name in PREDICTION_KEY.items() if name == key), "binary")




def per_class_metrics(metrics_by_output) -> Dict[int, Dict[str, float]]:
    """Class id -> {precision, recall} of one slice entry of TFMA's `slicing_metrics`: the
    binarized metrics TFMA reports under the sub key `classId:<id>`."""
    return {class_id: {name: value for name, value in
                       lineage.metric_values({"": {"": values}}).items()
                       if name in PER_CLASS_METRICS.values()}
            for class_id, values in tfma_results.per_class_values(metrics_by_output)}


def class_names(classes: Optional[List[str]], per_class: Dict[int, dict]) -> List[str]:
    """The names of the class ids: `classes` (label.classes), else 'class <id>' for every id the
    evaluation has."""
    if classes:
        return list(classes)
    return [f"class {index}" for index in range(max(per_class) + 1)] if per_class else []


def _slices(slicing_metrics, main_metric: str, min_slice_size: int) -> List[SliceRow]:
    rows = []
    for key, metrics in slicing_metrics:
        if key == ():
            continue
        values = lineage.metric_values(metrics)
        count = values.get("example_count", 0.0)
        feature = " x ".join(str(part[0]) for part in key)
        value = " x ".join(str(part[1]) for part in key)
        rows.append(SliceRow(feature, value, count, values, count < min_slice_size))
    sign = 1.0 if main_metric in LOWER_IS_BETTER else -1.0

    def worst_first(row: SliceRow):
        # Worst first: the lowest value of a higher-is-better metric, the highest of a
        # lower-is-better one; slices without a value, then those too small to trust, last.
        metric = row.metrics.get(main_metric, float("nan"))
        return (row.too_small, math.isnan(metric), 0.0 if math.isnan(metric) else -sign * metric)
    return sorted(rows, key=worst_first)


def _curves(plots_by_output, task: str = "binary", classes: Optional[List[str]] = None) -> dict:
    plots = plots_by_output.get("", {}).get("", {})
    empty = {"roc": [], "pr": [], "calibration": [], "confusion": {}, "class_confusion": {},
             "predicted_vs_actual": []}
    if task == "multiclass":
        return {**empty, "class_confusion": tfma_results.class_confusion(plots, classes or [])}
    if task == "regression":
        return {**empty, "predicted_vs_actual": _predicted_vs_actual(plots)}
    matrices = plots.get("confusionMatrixAtThresholds", {}).get("matrices", [])
    roc, pr = [], []
    for matrix in _thin(matrices):
        fpr, recall = matrix.get("falsePositiveRate"), matrix.get("recall")
        precision = matrix.get("precision")
        if _finite(fpr) and _finite(recall):
            roc.append((float(fpr), float(recall)))
        if _finite(recall) and _finite(precision):
            pr.append((float(recall), float(precision)))
    at_half = min(matrices, key=lambda m: abs(float(m.get("threshold", 0)) - 0.5), default={})
    confusion = {key: float(at_half.get(name, 0.0)) for key, name in [
        ("threshold", "threshold"), ("tp", "truePositives"), ("fp", "falsePositives"),
        ("tn", "trueNegatives"), ("fn", "falseNegatives")]}
    calibration = []
    for bucket in plots.get("calibrationHistogramBuckets", {}).get("buckets", []):
        count = float(bucket.get("numWeightedExamples", 0))
        if count > 0:
            calibration.append((float(bucket["totalWeightedRefinedPrediction"]) / count,
                                float(bucket["totalWeightedLabel"]) / count, count))
    return {**empty, "roc": roc, "pr": pr, "calibration": _merge_buckets(calibration),
            "confusion": confusion}


def _predicted_vs_actual(plots) -> List[Tuple[float, float, float, float, float]]:
    """The regression calibration plot: each bucket with examples as (mean prediction, mean
    label, examples, lower edge, upper edge); TFMA's under- and overflow buckets have infinite
    edges."""
    return [(prediction, label, count, -math.inf if lower is None else lower,
             math.inf if upper is None else upper)
            for prediction, label, count, lower, upper in tfma_results.calibration_buckets(plots)]


def _thin(items: list) -> list:
    if len(items) <= CURVE_POINTS:
        return items
    step = (len(items) - 1) / (CURVE_POINTS - 1)
    return [items[round(i * step)] for i in range(CURVE_POINTS)]


def _merge_buckets(buckets, target: int = 20):
    """TFMA's 10,000 calibration buckets, merged into `target` equal-width prediction bins."""
    bins = [[0.0, 0.0, 0.0] for _ in range(target)]
    for prediction, label, count in buckets:
        index = min(target - 1, max(0, int(prediction * target)))
        bins[index][0] += prediction * count
        bins[index][1] += label * count
        bins[index][2] += count
    return [(p / n, label_sum / n, n) for p, label_sum, n in bins if n > 0]


def _finite(value) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _data_summary(statistics_uri: Optional[str], anomalies_uri: Optional[str]):
    if not statistics_uri:
        return []
    import tensorflow_data_validation as tfdv  # slow: only when statistics are read
    path = os.path.join(split_uri(statistics_uri, "train"), STATISTICS_FILE)
    if not os.path.exists(path):
        return []
    statistics = tfdv.load_stats_binary(path).datasets[0]
    anomalies = _anomalies(anomalies_uri)
    rows = []
    for feature in statistics.features:
        name = feature.path.step[0] if feature.path.step else feature.name
        kind = statistics_pb2.FeatureNameStatistics.Type.Name(feature.type)
        stats = feature.num_stats if feature.HasField("num_stats") else feature.string_stats
        # CsvExampleGen writes a missing CSV value as an empty list, which TFDV counts as present:
        # for single-valued columns, the share of examples without a value is the missing rate.
        values = stats.common_stats.tot_num_values
        missing = min(1.0, max(0.0, 1 - values / statistics.num_examples)) \
            if statistics.num_examples else 0.0
        if feature.HasField("num_stats"):
            summary = (f"mean {stats.mean:.4g}, std {stats.std_dev:.4g}, min {stats.min:.4g}, "
                       f"median {stats.median:.4g}, max {stats.max:.4g}")
            standard = [h for h in stats.histograms if h.type == h.STANDARD]
            histogram = [b.sample_count for b in standard[0].buckets] if standard else []
        else:
            top = ", ".join(f"{v.value} ({v.frequency:.0f})" for v in stats.top_values[:3])
            summary = f"{stats.unique} unique; top: {top}"
            histogram = [v.frequency for v in stats.top_values[:10]]
        rows.append(FeatureSummary(name, kind, missing, summary, histogram, anomalies.get(name)))
    return sorted(rows, key=lambda row: row.name)


def _anomalies(anomalies_uri: Optional[str]) -> Dict[str, str]:
    if not anomalies_uri:
        return {}
    found = {}
    for split_dir in split_dirs(anomalies_uri).values():
        anomalies = anomalies_pb2.Anomalies()
        anomalies.ParseFromString((split_dir / ANOMALIES_FILE).read_bytes())
        for name, info in anomalies.anomaly_info.items():
            found.setdefault(name, info.description)
    return found
