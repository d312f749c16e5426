"""A model card built from one run's artifacts: ML Metadata's push facts, TFMA's evaluation,
TFDV's statistics, the curated schema, the feature attributions and the fairness checks, plus the
config's `model_card:` section for what no artifact knows.

Field names follow the Model Card Toolkit's JSON schema (model_details, model_parameters,
quantitative_analysis, considerations), with numbers as JSON numbers, `slice_key` beside each
metric's readable `slice`, and four sections of our own: `evaluation` (decision, main metric,
where the evaluation is), `thresholds` (each bound with its value and margin, as TFMA applied
it), `fairness` (the FairnessGate's fairness.json as it wrote it) and `feature_attributions`
(the FeatureAttributions step's attributions.json as it wrote it). The model-card-toolkit
package does not install beside tfx 1.16, so nothing here uses it.

The card follows the label's task (binary, multiclass, regression: `label.task`, and the
evaluation's own prediction key): the metrics are those TFMA computed for it; binary cards carry
the ROC curve, multiclass cards the per-class precision and recall
(`quantitative_analysis.per_class_metrics`, named by `label.classes`) and the confusion matrix
(`quantitative_analysis.confusion_matrix`), regression cards the predicted-vs-actual plot
(`quantitative_analysis.predicted_vs_actual`: TFMA's calibration plot over
`evaluation.plot_range`). `evaluation.lower_is_better` says which way the main metric is better
(rmse, log_loss: lower), so slices are ranked worst first either way.

Every metric is read with TFMA's own loaders (`tfma.load_eval_result`,
`tfma.load_validation_result`) and `mlpipe.core.lineage`'s readers; statistics with
`tfdv.load_stats_binary`; files through TFX's fileio / tf.io, so gs:// works as a local path does.
"""

import dataclasses
import datetime
import json
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple

import tensorflow_data_validation as tfdv
import tensorflow_model_analysis as tfma
from tensorflow_metadata.proto.v0 import statistics_pb2
from tfx.dsl.io import fileio

from mlpipe.components.attributions import read_attributions as read_attributions_file
from mlpipe.components.fairness_gate.spec import FAIRNESS_FILE
from mlpipe.components.model_card.spec import CardFacts
from mlpipe.config import LabelConfig, ModelCardConfig
from mlpipe.config.metrics import LOWER_IS_BETTER, PER_CLASS_METRICS
from mlpipe.core import lineage, strict_json, tfma_results
from mlpipe.core.artifacts import SCHEMA_FILE, STATISTICS_FILE, split_uri
from mlpipe.core.contract import (CLASSES_KEY, FEATURES_SIGNATURE, OUTPUT_KEY, PREDICTION_KEY,
                                  SCORES_KEY, SERVING, SERVING_SIGNATURE, VALUE_KEY)
from mlpipe.core.schema_io import environment_features, load_schema
from mlpipe.core.thresholds import threshold_checks
from mlpipe.core.tfma_results import finite_or_none

from mlpipe.components.model_card import render

CARD_FORMAT = "mlpipe.model_card/1"
ROC_POINTS = 101
TOP_VALUES = 3


def build_card(*, version: str, destination: str, evaluation_uri: str, blessed: Optional[bool],
               model_uri: str, statistics_uri: Optional[str], statistics_splits: Sequence[str],
               schema_uri: Optional[str], attributions_uri: Optional[str],
               fairness_uri: Optional[str], card_config: ModelCardConfig,
               problem: CardFacts, written_at: datetime.datetime) -> Dict[str, Any]:
    """The card of one pushed version, read from the run's artifacts (see `assemble_card`)."""
    return assemble_card(
        version=version, destination=destination, blessed=blessed,
        evaluation=read_evaluation(evaluation_uri, classes=problem.label.classes),
        evaluation_uri=evaluation_uri, model_uri=model_uri,
        datasets=dataset_summaries(statistics_uri, statistics_splits, problem.data_path),
        input_format=input_format(schema_uri, problem),
        attributions=read_attributions(attributions_uri),
        fairness=read_json(fairness_uri, FAIRNESS_FILE),
        card_config=card_config, problem=problem, written_at=written_at)


def assemble_card(*, version: str, destination: str, blessed: Optional[bool],
                  evaluation: Dict[str, Any], evaluation_uri: str, model_uri: str,
                  datasets: Dict[str, Any], input_format: str,
                  attributions: Optional[Dict[str, Any]], fairness: Optional[Any],
                  card_config: ModelCardConfig, problem: CardFacts,
                  written_at: datetime.datetime) -> Dict[str, Any]:
    """The card from what was read (`read_evaluation`'s dict, the dataset summaries, ...):
    Model Card Toolkit sections, then thresholds, evaluation, fairness, feature_attributions."""
    min_slice_size = problem.evaluation.min_slice_size
    task = evaluation.get("task") or problem.label.task
    main_metric = problem.evaluation.main_metric
    quantitative = {
        "performance_metrics": evaluation["performance_metrics"],
        "confidence_intervals": evaluation["confidence_intervals"],
        "roc_curve": evaluation.get("roc_curve", []),
    }
    if task == "multiclass":
        quantitative["per_class_metrics"] = evaluation.get("per_class_metrics", [])
        quantitative["confusion_matrix"] = evaluation.get("confusion_matrix", {})
    if task == "regression":
        quantitative["predicted_vs_actual"] = evaluation.get("predicted_vs_actual", [])
    card = {
        "format": CARD_FORMAT,
        "model_details": {
            "name": card_config.name or problem.name,
            "overview": card_config.overview or default_overview(problem),
            "owners": [owner.model_dump() for owner in card_config.owners],
            "version": {"name": version, "date": version_date(version, written_at)},
            "references": [{"reference": text} for text in card_config.references],
            "path": destination,
        },
        "model_parameters": {
            "model_architecture": architecture(problem),
            "hyperparameters": problem.train.model_dump(mode="json"),
            "data": datasets,
            "input_format": input_format,
            "output_format": output_format(problem),
        },
        "quantitative_analysis": quantitative,
        "considerations": considerations(card_config, evaluation["performance_metrics"],
                                         min_slice_size),
        "thresholds": evaluation["thresholds"],
        "evaluation": {
            "blessed": blessed, "validation_ok": evaluation["validation_ok"],
            "task": task, "main_metric": main_metric,
            "lower_is_better": main_metric in LOWER_IS_BETTER,
            "min_slice_size": min_slice_size, "split": "eval",
            "compared_with_baseline": evaluation["baseline"] is not None,
            "baseline_metrics": evaluation["baseline"],
            "uri": evaluation_uri, "model_uri": model_uri,
        },
        "fairness": fairness,
        "feature_attributions": attributions,
    }
    card["quantitative_analysis"]["graphics"] = render.graphics(card)
    return card


# ----------------------------------------------------------------------------- evaluation

def read_evaluation(evaluation_uri: str, classes: Optional[Sequence[str]] = None
                    ) -> Dict[str, Any]:
    """What the card needs of the Evaluator's output, as TFMA's loaders read it. `classes`:
    the multiclass label's class names in id order (`label.classes`)."""
    candidate = lineage.candidate_model_name(evaluation_uri)
    result = tfma.load_eval_result(evaluation_uri, model_name=candidate)
    validation = tfma.load_validation_result(evaluation_uri)
    baseline = None
    if candidate is not None:
        baseline_name = next(spec.name for spec in result.config.model_specs if spec.is_baseline)
        baseline = lineage.slice_metrics(
            tfma.load_eval_result(evaluation_uri, model_name=baseline_name).slicing_metrics)
    overall = lineage.slice_metrics(result.slicing_metrics)
    options = result.config.options
    computed = bool(options.compute_confidence_intervals.value)
    intervals = options.confidence_intervals
    method = (intervals.DESCRIPTOR.fields_by_name["method"].enum_type
              .values_by_number[intervals.method].name)
    task = task_of(result.config)
    plots = next((plots for key, plots in result.plots if key == ()), {})
    overall_entry = next((metrics for key, metrics in result.slicing_metrics if key == ()), {})
    return {
        "task": task,
        "performance_metrics": performance_metrics(result.slicing_metrics),
        "confidence_intervals": {
            "computed": computed, "level": 0.95 if computed else None,
            # TFMA 0.47 uses the jackknife (20 buckets) when no method is named.
            "method": ((method if not method.startswith("UNKNOWN") else "JACKKNIFE")
                       if computed else None)},
        "roc_curve": roc_curve(plots) if task == "binary" else [],
        "per_class_metrics": (per_class_metrics(overall_entry, classes)
                              if task == "multiclass" else []),
        "confusion_matrix": (confusion_matrix(plots, classes or [])
                             if task == "multiclass" else {}),
        "predicted_vs_actual": predicted_vs_actual(plots) if task == "regression" else [],
        "thresholds": [dataclasses.asdict(check)
                       for check in threshold_checks(result.config, overall, baseline)],
        "validation_ok": bool(validation.validation_ok),
        "baseline": baseline,
    }


def slice_name(slice_key) -> str:
    """'Overall' for TFMA's () slice key, else 'feature = value[, feature = value]'."""
    if not slice_key:
        return render.OVERALL
    return ", ".join(f"{feature} = {_plain(value)}" for feature, value in slice_key)


def _plain(value):
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def performance_metrics(slicing_metrics) -> List[Dict[str, Any]]:
    """One entry per slice and metric: type, value, slice, slice_key, and confidence_interval
    when TFMA computed one. Overall first, then the slices in TFMA's order."""
    entries = []
    ordered = sorted(slicing_metrics, key=lambda item: item[0] != ())
    for slice_key, metrics in ordered:
        values = lineage.metric_values(metrics)
        bounds = lineage.metric_bounds(metrics)
        for name in sorted(values):
            entry = {"type": name, "value": values[name], "slice": slice_name(slice_key),
                     "slice_key": [[feature, _plain(value)] for feature, value in slice_key]}
            if name in bounds:
                entry["confidence_interval"] = {"lower_bound": bounds[name][0],
                                                "upper_bound": bounds[name][1]}
            entries.append(entry)
    return entries


def roc_curve(plots_by_output) -> List[Tuple[float, float]]:
    """(false positive rate, true positive rate) of TFMA's confusion matrices at thresholds,
    thinned to ROC_POINTS."""
    plots = plots_by_output.get("", {}).get("", {}) if plots_by_output else {}
    matrices = plots.get("confusionMatrixAtThresholds", {}).get("matrices", [])
    if len(matrices) > ROC_POINTS:
        step = (len(matrices) - 1) / (ROC_POINTS - 1)
        matrices = [matrices[round(i * step)] for i in range(ROC_POINTS)]
    points = []
    for matrix in matrices:
        fpr, tpr = (finite_or_none(matrix.get("falsePositiveRate")),
                    finite_or_none(matrix.get("recall")))
        if fpr is not None and tpr is not None:
            points.append((fpr, tpr))
    return points


def task_of(eval_config) -> str:
    """The task an EvalConfig evaluates, by the candidate's prediction key (binary when the key
    is none of the tasks')."""
    spec = next((spec for spec in eval_config.model_specs if not spec.is_baseline), None)
    key = spec.prediction_key if spec is not None else ""
    return next((task for task, name in PREDICTION_KEY.items() if name == key), "binary")


def per_class_metrics(metrics_by_output, classes: Optional[Sequence[str]]
                      ) -> List[Dict[str, Any]]:
    """multiclass: one entry per class and per-class metric (precision, recall) of the overall
    slice: TFMA's binarized metrics, reported under the sub key `classId:<id>`."""
    entries = []
    for class_id, values in tfma_results.per_class_values(metrics_by_output):
        read = lineage.metric_values({"": {"": values}})
        bounds = lineage.metric_bounds({"": {"": values}})
        for name in PER_CLASS_METRICS.values():
            if name not in read:
                continue
            entry = {"type": name, "class": tfma_results.class_name(classes, class_id),
                     "class_id": class_id, "value": read[name], "slice": render.OVERALL,
                     "slice_key": []}
            if name in bounds:
                entry["confidence_interval"] = {"lower_bound": bounds[name][0],
                                                "upper_bound": bounds[name][1]}
            entries.append(entry)
    return entries


def confusion_matrix(plots_by_output, classes: Sequence[str]) -> Dict[str, Any]:
    """multiclass: TFMA's confusion matrix by class (see core.tfma_results.class_confusion)."""
    return tfma_results.class_confusion(_overall_plots(plots_by_output), classes)


def predicted_vs_actual(plots_by_output) -> List[Dict[str, Any]]:
    """regression: TFMA's calibration plot buckets with examples, in order of predicted value:
    {mean_prediction, mean_label, examples, lower, upper} (the under- and overflow buckets'
    open edge is null)."""
    return [{"mean_prediction": prediction, "mean_label": label, "examples": count,
             "lower": lower, "upper": upper}
            for prediction, label, count, lower, upper
            in tfma_results.calibration_buckets(_overall_plots(plots_by_output))]


def _overall_plots(plots_by_output) -> Dict[str, Any]:
    return plots_by_output.get("", {}).get("", {}) if plots_by_output else {}


# ----------------------------------------------------------------------------- data and model

def dataset_summaries(statistics_uri: Optional[str], splits: Sequence[str],
                      data_path: str) -> Dict[str, Dict[str, Any]]:
    """Split -> a TFDV-based summary (examples, each feature's type, missing rate and
    distribution) of StatisticsGen's statistics; {} without statistics."""
    if not statistics_uri:
        return {}
    summaries = {}
    for split in splits:
        path = os.path.join(split_uri(statistics_uri, split), STATISTICS_FILE)
        if not fileio.exists(path):
            continue
        statistics = tfdv.load_stats_binary(path).datasets[0]
        features = []
        for feature in statistics.features:
            name = feature.path.step[0] if feature.path.step else feature.name
            kind = statistics_pb2.FeatureNameStatistics.Type.Name(feature.type)
            numeric = feature.HasField("num_stats")
            stats = feature.num_stats if numeric else feature.string_stats
            # CsvExampleGen writes a missing CSV value as an empty list, which TFDV counts as
            # present: for single-valued columns, examples without a value are the missing ones.
            values = stats.common_stats.tot_num_values
            missing = (min(1.0, max(0.0, 1 - values / statistics.num_examples))
                       if statistics.num_examples else 0.0)
            summary = {"name": name, "type": kind, "missing_rate": missing}
            if numeric:
                summary.update(mean=stats.mean, std_dev=stats.std_dev, min=stats.min,
                               median=stats.median, max=stats.max,
                               summary=f"mean {stats.mean:.4g}, std {stats.std_dev:.4g}, "
                                       f"min {stats.min:.4g}, median {stats.median:.4g}, "
                                       f"max {stats.max:.4g}")
            else:
                top = [[v.value, v.frequency] for v in stats.top_values[:TOP_VALUES]]
                summary.update(unique=stats.unique, top_values=top,
                               summary=f"{stats.unique} unique; top: " + ", ".join(
                                   f"{value} ({count:.0f})" for value, count in top))
            features.append(summary)
        features.sort(key=lambda row: row["name"])
        summaries[split] = {
            "name": split,
            "source": data_path,
            "num_examples": int(statistics.num_examples),
            "description": (f"{statistics.num_examples:,} examples in the {split} split of "
                            f"{data_path or 'the input data'}, {len(features)} columns"),
            "features": features,
        }
    return summaries


def label_definition(label: LabelConfig) -> str:
    if label.task == "multiclass":
        return (f"{label.name} = the class in column '{label.column}', one of "
                f"{len(label.classes)}: {', '.join(label.classes)}")
    if label.task == "regression":
        return f"{label.name} = the number in column '{label.column}'"
    derive = label.derive
    if derive:
        return (f"{label.name} = 1 when {derive.numerator} / {derive.denominator} > "
                f"{derive.threshold:g}")
    if label.positive_class is not None:
        return f"{label.name} = 1 when column '{label.column}' is '{label.positive_class}'"
    return f"{label.name} = column '{label.column}' (0/1)"


def default_overview(problem: CardFacts) -> str:
    count = len(problem.features.raw_columns)
    definition = label_definition(problem.label)
    if problem.label.task == "multiclass":
        return (f"Multiclass classifier for the '{problem.name}' problem: a probability per "
                f"class, where {definition}, from {count} raw features.")
    if problem.label.task == "regression":
        return (f"Regression model for the '{problem.name}' problem: the predicted value of "
                f"{definition}, from {count} raw features.")
    return (f"Binary classifier for the '{problem.name}' problem: the probability that "
            f"{definition}, from {count} raw features.")


# The network's kind and output layer, by task (mlpipe.trainer.model's heads).
_HEADS = {
    "binary": ("Wide-and-deep binary classifier", "the output logit; sigmoid output"),
    "multiclass": ("Wide-and-deep multiclass classifier",
                   "one logit per class; softmax output"),
    "regression": ("Wide-and-deep regression model",
                   "one output in standard units, rescaled by the training label's mean and "
                   "standard deviation; mean squared error loss"),
}


def architecture(problem: CardFacts) -> str:
    """mlpipe.trainer.model's network, with this problem's hyperparameters."""
    train = problem.train
    kind, head = _HEADS[problem.label.task]
    return (f"{kind} (Keras, mlpipe.trainer.model): one-hot categorical "
            "and quantile-bucket ids plus z-scored numerics feed an MLP with hidden units "
            f"{train.hidden_units} (ReLU) and, directly, {head}. "
            f"Adam, learning rate {train.learning_rate}, "
            f"{train.epochs} epochs, batch size {train.batch_size}, seed "
            f"{train.seed}; preprocessing by TF Transform inside the exported model.")


def input_format(schema_uri: Optional[str], problem: CardFacts) -> str:
    """The serving signature's input: the raw features the model reads, typed by the curated
    schema's SERVING environment (which says what a request may carry)."""
    serving = {}
    if schema_uri:
        serving = environment_features(load_schema(os.path.join(schema_uri, SCHEMA_FILE)),
                                       SERVING)
    read = problem.features.raw_columns
    columns = ", ".join(
        f"{name} ({serving[name].type}{'' if serving[name].required else ', may be missing'})"
        if name in serving else name for name in read)
    others = len(set(serving) - set(read))
    return (f"Serialized tf.Example protos to the '{SERVING_SIGNATURE}' signature. The model "
            f"reads {len(read)} raw features: {columns}."
            + (f" The {others} other columns of the schema's SERVING environment are accepted "
               "and ignored; the label's source columns are not needed." if others else
               " The label's source columns are not needed.")
            + f" Or, to the '{FEATURES_SIGNATURE}' signature, one tensor per feature it reads: "
            "[n, 1], or [n, 0] for a feature missing in every row.")


def output_format(problem: CardFacts) -> str:
    label = problem.label
    if label.task == "multiclass":
        return (f"'{SCORES_KEY}': a probability per class per example (softmax, summing to 1), "
                f"in the order {', '.join(label.classes)}; '{CLASSES_KEY}': those class "
                f"names, where {label_definition(label)}.")
    if label.task == "regression":
        return (f"'{VALUE_KEY}': the predicted value per example, a float in the label's units, "
                f"where {label_definition(label)}.")
    return (f"'{OUTPUT_KEY}': P(label = 1) per example, a float in [0, 1], where "
            f"{label_definition(label)}.")


# ----------------------------------------------------------------------------- considerations

def considerations(card_config: ModelCardConfig, metrics: List[Dict[str, Any]],
                   min_slice_size: int) -> Dict[str, Any]:
    """The config's considerations in the Model Card Toolkit's shape; the slices under
    `min_slice_size` examples are added to the limitations (their metrics are not trustworthy)."""
    limitations = [{"description": text} for text in card_config.limitations]
    counts = [entry for entry in metrics
              if entry["type"] == "example_count" and len(entry.get("slice_key") or []) == 1]
    small: Dict[str, List[Any]] = {}
    sliced: Dict[str, int] = {}
    for entry in counts:
        [[feature, value]] = entry["slice_key"]
        sliced[feature] = sliced.get(feature, 0) + 1
        if entry["value"] is not None and entry["value"] < min_slice_size:
            small.setdefault(feature, []).append(value)
    if small:
        described = [f"{feature}: " + (f"all {sliced[feature]} values" if len(values) ==
                                        sliced[feature] else ", ".join(map(str, sorted(
                                            values, key=lambda v: (isinstance(v, str), v)))))
                     for feature, values in sorted(small.items())]
        total = sum(len(values) for values in small.values())
        limitations.append({"description": (
            f"{total} evaluated slice(s) have fewer than {min_slice_size} examples, so their "
            f"metrics are not reliable ({'; '.join(described)}).")})
    intended = card_config.intended_use
    return {
        "users": [{"description": text} for text in card_config.users],
        "use_cases": [{"description": intended}] if intended else [],
        "limitations": limitations,
        "tradeoffs": [{"description": text} for text in card_config.tradeoffs],
        "ethical_considerations": [
            {"name": item.name, "mitigation_strategy": item.mitigation}
            for item in card_config.ethical_considerations],
    }


def version_date(version: str, written_at: datetime.datetime) -> str:
    """ISO 8601 (UTC) of the push: the version itself when it is a Unix time (TFX's Pusher
    names filesystem versions so), else when the card was written."""
    if version.isdigit():
        moment = datetime.datetime.fromtimestamp(int(version), tz=datetime.timezone.utc)
    else:
        moment = written_at.astimezone(datetime.timezone.utc)
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")


# ----------------------------------------------------------------------------- other outputs

def read_json(uri: Optional[str], file_name: str) -> Optional[Any]:
    """The JSON file an artifact holds, or None when there is no artifact or no file."""
    if not uri:
        return None
    path = os.path.join(uri, file_name)
    if not fileio.exists(path):
        return None
    with fileio.open(path, "r") as source:
        return json.loads(source.read())


def read_attributions(uri: Optional[str]) -> Optional[Dict[str, Any]]:
    if not uri:
        return None
    return read_attributions_file(uri) or None


def to_json(card: Dict[str, Any]) -> str:
    """Strict JSON: NaN (e.g. the AUC of a slice with one class) becomes null."""
    return strict_json.dumps(card, indent=2)
