"""The DriftGate executor: the run's span against the newest earlier span that passed the gate.

`measure` is the comparison, TFDV's own: the curated schema (a copy) gets a drift comparator per
compared feature, by what TFDV's statistics hold for it (string statistics: `infinity_norm`;
numeric ones: `jensen_shannon_divergence`), and `tfdv.validate_statistics(current, schema,
previous_statistics=previous)` measures each distance; `judge` is the rule. Only `Executor.Do`
reads and writes artifacts (TFX's fileio, so local paths and gs:// alike).

Only the train split is compared: the eval split is a hash sample of the same rows, and a shift
shows in both.
"""

import json
import logging
import os
from typing import Any, Dict, List, Optional, Sequence

import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import anomalies_pb2, schema_pb2, statistics_pb2
from tfx.dsl.components.base import base_executor
from tfx.dsl.io import fileio
from tfx.types import artifact_utils

from mlpipe.core.artifacts import SCHEMA_FILE, STATISTICS_FILE, span_of, split_uri
from mlpipe.core.schema_io import load_schema

# Input, output and exec property keys (the component's spec uses the same names).
STATISTICS_KEY = "statistics"    # this run's ExampleStatistics
EXAMPLES_KEY = "examples"        # this run's Examples (the span is recorded there)
SCHEMA_KEY = "schema"            # the curated schema (the comparators are set on a copy)
BASELINE_KEY = "baseline"        # optional: DriftReport(s) to compare with
REPORT_KEY = "report"            # this span's DriftReport
SPEC_KEY = "drift_spec"          # JSON of the drift_gate section (component.spec_json)
ACCEPT_KEY = "accept_drift"      # 1 lets a crossing through for this run
COMPARED_SPLIT = "train"
REPORT_FILE = "drift.json"
L_INFINITY, JENSEN_SHANNON = "L-infinity", "Jensen-Shannon"
_MEASURES = {anomalies_pb2.DriftSkewInfo.Measurement.L_INFTY: L_INFINITY,
             anomalies_pb2.DriftSkewInfo.Measurement.JENSEN_SHANNON_DIVERGENCE: JENSEN_SHANNON}
NO_SPAN = -1  # previous_span of a report that had nothing to compare with
# The DriftReport's custom properties (what `mlpipe runs`, `lineage` and `report` read).
SPAN_PROPERTY = "span"
PREVIOUS_SPAN_PROPERTY = "previous_span"
DRIFTED_PROPERTY = "drifted_features"      # "payment_type, trip_miles" ('' when none)
ACCEPTED_PROPERTY = "accepted_drift"       # 1: a crossing was let through by accept_drift
PIPELINE_PROPERTY = "pipeline"


class DataDriftError(RuntimeError):
    """The span moved too far from the previous one; the message names each feature."""


def parse_spec(spec_json: str) -> Dict[str, Any]:
    """The gate's exec property (see component.spec_json), checked."""
    spec = json.loads(spec_json)
    if not spec.get("features"):
        raise ValueError(f"a drift spec needs the features to compare, got {spec_json}")
    for name, value in [("categorical_threshold", spec.get("categorical_threshold")),
                        ("numeric_threshold", spec.get("numeric_threshold")),
                        *spec.get("thresholds", {}).items()]:
        if not isinstance(value, (int, float)) or not 0 < value <= 1:
            raise ValueError(f"drift threshold {name}: must be in (0, 1], got {value!r}")
    return spec


def measure(current: statistics_pb2.DatasetFeatureStatisticsList,
            previous: statistics_pb2.DatasetFeatureStatisticsList,
            schema: schema_pb2.Schema, spec: Dict[str, Any]) -> List[Dict[str, Any]]:
    """One entry per compared feature TFDV measured: feature, measure, value, threshold,
    drifted; largest distance (relative to its threshold) first."""
    compared = schema_pb2.Schema()
    compared.CopyFrom(schema)
    thresholds = _set_comparators(compared, current, spec)
    result = tfdv.validate_statistics(current, compared, previous_statistics=previous)
    distances = []
    for info in result.drift_skew_info:
        feature = info.path.step[0] if info.path.step else ""
        for measurement in info.drift_measurements:
            measure_name = _MEASURES.get(measurement.type)
            if feature in thresholds and measure_name == thresholds[feature][0]:
                threshold = thresholds[feature][1]
                distances.append({"feature": feature, "measure": measure_name,
                                  "value": float(measurement.value), "threshold": threshold,
                                  "drifted": float(measurement.value) > threshold})
    return sorted(distances, key=lambda d: (-d["value"] / d["threshold"], d["feature"]))


def _set_comparators(schema: schema_pb2.Schema,
                     statistics: statistics_pb2.DatasetFeatureStatisticsList,
                     spec: Dict[str, Any]) -> Dict[str, tuple]:
    """A comparator on each compared feature of `schema`; feature -> (measure, threshold). A
    feature whose statistics are of strings is compared by L-infinity, any other (numbers,
    integer codes of categories) by Jensen-Shannon divergence of its histograms."""
    strings = {feature.path.step[0] for dataset in statistics.datasets
               for feature in dataset.features
               if feature.path.step and feature.HasField("string_stats")}
    wanted = set(spec["features"])
    thresholds = {}
    for feature in schema.feature:
        if feature.name not in wanted:
            continue
        if feature.name in strings:
            threshold = spec["thresholds"].get(feature.name, spec["categorical_threshold"])
            feature.drift_comparator.infinity_norm.threshold = threshold
            thresholds[feature.name] = (L_INFINITY, threshold)
        else:
            threshold = spec["thresholds"].get(feature.name, spec["numeric_threshold"])
            feature.drift_comparator.jensen_shannon_divergence.threshold = threshold
            thresholds[feature.name] = (JENSEN_SHANNON, threshold)
    return thresholds


def judge(span: int, previous_span: Optional[int], distances: Sequence[Dict[str, Any]],
          features: Sequence[str], accept: bool) -> Dict[str, Any]:
    """What `drift.json` says: the spans compared, every distance, the features that crossed,
    whether the gate let them through (passed) and why."""
    drifted = [d["feature"] for d in distances if d["drifted"]]
    measured = {d["feature"] for d in distances}
    return {
        "span": span,
        "previous_span": previous_span,
        "split": COMPARED_SPLIT,
        "distances": list(distances),
        "not_measured": sorted(set(features) - measured) if previous_span is not None else [],
        "drifted": drifted,
        "accepted": bool(drifted) and accept,
        "passed": not drifted or accept,
    }


def summary(result: Dict[str, Any]) -> str:
    """One line: 'span 2 vs span 1: no drift (largest: fare Jensen-Shannon 0.0410 <= 0.1500)'."""
    span, previous = result["span"], result["previous_span"]
    if previous is None:
        return (f"span {span}: nothing to compare with (no earlier span passed the gate); "
                "passed")
    crossed = [d for d in result["distances"] if d["drifted"]]
    if not crossed:
        largest = result["distances"][0] if result["distances"] else None
        shown = (f" (largest: {largest['feature']} {largest['measure']} "
                 f"{largest['value']:.4f} <= {largest['threshold']:.4f})" if largest else "")
        return f"span {span} vs span {previous}: no drift{shown}; passed"
    listed = "; ".join(describe_distance(d) for d in crossed)
    verdict = "ACCEPTED for this run (--accept-drift)" if result["accepted"] else "stopped"
    return f"span {span} vs span {previous}: drift {verdict}: {listed}"


def describe_distance(distance: Dict[str, Any]) -> str:
    return (f"{distance['feature']} {distance['measure']} {distance['value']:.4f} > "
            f"{distance['threshold']:.4f}")


def read_report(uri: str) -> Dict[str, Any]:
    with fileio.open(os.path.join(uri, REPORT_FILE)) as source:
        return json.loads(source.read())


class Executor(base_executor.BaseExecutor):

    def Do(self, input_dict: Dict[str, List[Any]], output_dict: Dict[str, List[Any]],
           exec_properties: Dict[str, Any]) -> None:
        spec = parse_spec(exec_properties[SPEC_KEY])
        accept = bool(exec_properties.get(ACCEPT_KEY, 0))
        span = span_of(artifact_utils.get_single_instance(input_dict[EXAMPLES_KEY]))
        statistics_uri = artifact_utils.get_single_uri(input_dict[STATISTICS_KEY])
        current_file = os.path.join(split_uri(statistics_uri, COMPARED_SPLIT), STATISTICS_FILE)
        baseline = pick_baseline(input_dict.get(BASELINE_KEY, []), span, spec["pipeline"])
        if baseline is None:
            result = judge(span, None, [], spec["features"], accept)
        else:
            schema = load_schema(os.path.join(
                artifact_utils.get_single_uri(input_dict[SCHEMA_KEY]), SCHEMA_FILE))
            distances = measure(_load(current_file), _load(os.path.join(baseline.uri,
                                                                        STATISTICS_FILE)),
                                schema, spec)
            result = judge(span, baseline.get_int_custom_property(SPAN_PROPERTY), distances,
                           spec["features"], accept)
        logging.info("DriftGate: %s", summary(result))
        if not result["passed"]:
            raise DataDriftError(stop_message(result))
        _write_report(artifact_utils.get_single_instance(output_dict[REPORT_KEY]), result,
                      current_file, spec["pipeline"])


def pick_baseline(reports: Sequence[Any], span: int, pipeline: str):
    """The report to compare with: of this pipeline, of the highest span below `span`, the
    newest of that span; None when there is none (the first span, or a backfill of the
    oldest)."""
    candidates = []
    for report in reports:
        if report.get_string_custom_property(PIPELINE_PROPERTY) != pipeline:
            logging.warning("DriftGate: ignoring %s, a report of pipeline %r", report.uri,
                            report.get_string_custom_property(PIPELINE_PROPERTY))
            continue
        if report.get_int_custom_property(SPAN_PROPERTY) < span:
            candidates.append(report)
    if not candidates:
        return None
    return max(candidates, key=lambda r: (r.get_int_custom_property(SPAN_PROPERTY), r.id))


def stop_message(result: Dict[str, Any]) -> str:
    crossed = [d for d in result["distances"] if d["drifted"]]
    lines = [f"span {result['span']} drifted from span {result['previous_span']} "
             f"({result['split']} split) on {len(crossed)} feature"
             f"{'s' if len(crossed) != 1 else ''}:"]
    lines += [f"  - {d['feature']}: {d['measure']} {d['value']:.4f} > threshold "
              f"{d['threshold']:.4f}" for d in crossed]
    lines.append("A known shift can be let through for one run with `mlpipe run "
                 "--accept-drift` (recorded in the run's metadata); thresholds are in the "
                 "config's drift_gate section.")
    return "\n".join(lines)


def _load(path: str) -> statistics_pb2.DatasetFeatureStatisticsList:
    statistics = statistics_pb2.DatasetFeatureStatisticsList()
    with fileio.open(path, "rb") as source:
        statistics.ParseFromString(source.read())
    return statistics


def _write_report(report, result: Dict[str, Any], statistics_file: str, pipeline: str) -> None:
    """drift.json, the span's statistics (what the next span is compared with) and the
    properties readers list runs by."""
    fileio.makedirs(report.uri)
    with fileio.open(os.path.join(report.uri, REPORT_FILE), "w") as sink:
        sink.write(json.dumps(result, indent=1, sort_keys=True))
    fileio.copy(statistics_file, os.path.join(report.uri, STATISTICS_FILE), overwrite=True)
    report.set_int_custom_property(SPAN_PROPERTY, result["span"])
    report.set_int_custom_property(
        PREVIOUS_SPAN_PROPERTY,
        NO_SPAN if result["previous_span"] is None else result["previous_span"])
    report.set_string_custom_property(DRIFTED_PROPERTY, ", ".join(result["drifted"]))
    report.set_int_custom_property(ACCEPTED_PROPERTY, int(result["accepted"]))
    report.set_string_custom_property(PIPELINE_PROPERTY, pipeline)
