"""The DriftGate executor: the run's span against the newest earlier span that passed the gate.

`measure` is the comparison, `mlpipe.core.drift`'s (the one `mlpipe monitor` uses): the
population stability index over the previous span's deciles for numbers, the L-infinity distance
of value shares for strings, each against its threshold and what chance gives spans of these
sizes; `judge` is the rule. Only `Executor.Do` reads and writes artifacts (TFX's fileio, so
local paths and gs:// alike).

Only the train split is compared: the eval split is a hash sample of the same rows, and a shift
shows in both.
"""

import json
import logging
import os
from typing import Any, Dict, List, Optional, Sequence

from tensorflow_metadata.proto.v0 import statistics_pb2
from tfx.dsl.components.base import base_executor
from tfx.dsl.io import fileio
from tfx.types import artifact_utils

from mlpipe.components.drift_gate.spec import (ACCEPT_KEY, ACCEPTED_PROPERTY, BASELINE_KEY,
                                               DRIFTED_PROPERTY, EXAMPLES_KEY, NO_SPAN,
                                               PIPELINE_PROPERTY, PREVIOUS_SPAN_PROPERTY,
                                               REPORT_FILE, REPORT_KEY, SPAN_PROPERTY, SPEC_KEY,
                                               STATISTICS_KEY, ComparedDrift)
from mlpipe.core import drift
from mlpipe.core.artifacts import STATISTICS_FILE, span_of, split_uri

class DataDriftError(RuntimeError):
    """The span moved too far from the previous one; the message names each feature."""


def measure(current: statistics_pb2.DatasetFeatureStatisticsList,
            previous: statistics_pb2.DatasetFeatureStatisticsList,
            spec: ComparedDrift) -> List[Dict[str, Any]]:
    """One entry per compared feature present in both spans: feature, measure, value,
    threshold, chance, moved, drifted; drifted first, then the largest distance relative to
    its threshold."""
    return [d.to_json() for d in drift.compare(
        previous, current, spec.features, spec.numeric_psi, spec.categorical_threshold,
        spec.feature_thresholds)]


def judge(span: int, previous_span: Optional[int], distances: Sequence[Dict[str, Any]],
          spec: ComparedDrift, accept: bool) -> Dict[str, Any]:
    """What `drift.json` says: the spans compared, every distance, the features that crossed,
    whether the gate let them through (passed) and why."""
    drifted = [d["feature"] for d in distances if d["drifted"]]
    measured = {d["feature"] for d in distances}
    return {
        "span": span,
        "previous_span": previous_span,
        "split": spec.split,
        "distances": list(distances),
        "not_measured": (sorted(set(spec.features) - measured) if previous_span is not None
                         else []),
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


def describe_move(distance: Dict[str, Any]) -> str:
    """What moved (quantiles or value shares), from a report written by this gate; '' for a
    report of an older gate that kept only the distance."""
    return drift.describe(distance["measure"], distance["moved"]) if "moved" in distance else ""


def read_report(uri: str) -> Dict[str, Any]:
    with fileio.open(os.path.join(uri, REPORT_FILE)) as source:
        return json.loads(source.read())


class Executor(base_executor.BaseExecutor):

    def Do(self, input_dict: Dict[str, List[Any]], output_dict: Dict[str, List[Any]],
           exec_properties: Dict[str, Any]) -> None:
        spec = ComparedDrift.model_validate_json(exec_properties[SPEC_KEY])
        accept = bool(exec_properties.get(ACCEPT_KEY, 0))
        span = span_of(artifact_utils.get_single_instance(input_dict[EXAMPLES_KEY]))
        statistics_uri = artifact_utils.get_single_uri(input_dict[STATISTICS_KEY])
        current_file = os.path.join(split_uri(statistics_uri, spec.split), STATISTICS_FILE)
        baseline = pick_baseline(input_dict.get(BASELINE_KEY, []), span, spec.pipeline)
        if baseline is None:
            result = judge(span, None, [], spec, accept)
        else:
            distances = measure(_load(current_file),
                                _load(os.path.join(baseline.uri, STATISTICS_FILE)), spec)
            result = judge(span, baseline.get_int_custom_property(SPAN_PROPERTY), distances,
                           spec, accept)
        logging.info("DriftGate: %s", summary(result))
        if not result["passed"]:
            raise DataDriftError(stop_message(result))
        _write_report(artifact_utils.get_single_instance(output_dict[REPORT_KEY]), result,
                      current_file, spec.pipeline)


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
              f"{d['threshold']:.4f}: {describe_move(d)}" for d in crossed]
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
