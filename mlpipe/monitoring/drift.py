"""New data against the training data: TFDV statistics, drift per feature, schema anomalies.

For each monitored feature (default: the model's features) the curated schema gets a drift
comparator: L-infinity distance of value frequencies for string (categorical) features,
Jensen-Shannon divergence of histograms for numeric ones, with the thresholds of the config's
`monitoring:` section. `tfdv.validate_statistics(new, schema, previous_statistics=training)`
then reports, in one pass, the features whose distance crosses its threshold and every anomaly
against the schema (unexpected values, types, missing columns), in the environment the data
belongs to: TRAINING when the label's source columns are present, else SERVING.

The request log's own columns (`_model_version`, `_prediction`, `_logged_at` and a multiclass
model's `_score_<class>`: `request_log.is_meta_column`) are left out of the statistics, whatever
the model's task.
"""

import csv
import dataclasses
import glob
from typing import Dict, List

from mlpipe.config.monitoring import MonitoringConfig
from mlpipe.monitoring.training_stats import TrainingStatistics
from mlpipe.serving.request_log import is_meta_column
from mlpipe.core.schema_io import SERVING, TRAINING

L_INFINITY, JENSEN_SHANNON = "L_INFTY", "JENSEN_SHANNON_DIVERGENCE"


@dataclasses.dataclass
class FeatureDrift:
    feature: str
    measure: str
    value: float
    threshold: float

    @property
    def drifted(self) -> bool:
        return self.value > self.threshold


@dataclasses.dataclass
class SchemaAnomaly:
    feature: str
    short: str
    description: str


@dataclasses.dataclass
class MonitorReport:
    data: str
    environment: str
    rows: int
    training_statistics: str
    found_by: str
    drift: List[FeatureDrift]
    anomalies: List[SchemaAnomaly]
    min_rows: int = 1

    @property
    def drift_judged(self) -> bool:
        return self.rows >= self.min_rows

    @property
    def drifted(self) -> List[FeatureDrift]:
        return [d for d in self.drift if d.drifted] if self.drift_judged else []

    @property
    def alarm(self) -> bool:
        return bool(self.drifted or self.anomalies)

    def to_json(self) -> dict:
        return {
            "data": self.data, "environment": self.environment, "rows": self.rows,
            "training_statistics": self.training_statistics, "found_by": self.found_by,
            "alarm": self.alarm, "drift_judged": self.drift_judged,
            "drifted_features": [d.feature for d in self.drifted],
            "anomalous_features": sorted({a.feature for a in self.anomalies}),
            "drift": [{**dataclasses.asdict(d), "drifted": d.drifted} for d in self.drift],
            "anomalies": [dataclasses.asdict(a) for a in self.anomalies],
        }

    def summary(self) -> str:
        lines = [f"Data:      {self.data} ({self.rows:,} rows, {self.environment} environment)",
                 f"Baseline:  {self.training_statistics}",
                 f"           ({self.found_by})", "",
                 f"  {'feature':<24} {'measure':<16} {'value':>8} {'threshold':>10}"]
        for d in sorted(self.drift, key=lambda d: (-d.drifted, -d.value / d.threshold)):
            measure = "L-infinity" if d.measure == L_INFINITY else "Jensen-Shannon"
            flag = "  DRIFT" if d.drifted and self.drift_judged else ""
            lines.append(f"  {d.feature:<24} {measure:<16} {d.value:>8.4f} "
                         f"{d.threshold:>10.4f}{flag}")
        if not self.drift_judged:
            lines.append(f"  (only {self.rows} rows, fewer than monitoring.min_rows = "
                         f"{self.min_rows}: distances shown, drift not judged)")
        lines.append("")
        if self.anomalies:
            lines.append(f"Schema anomalies ({len(self.anomalies)}):")
            lines += [f"  {a.feature}: {a.short}: {a.description}" for a in self.anomalies]
        else:
            lines.append("Schema anomalies: none")
        drifted = ", ".join(d.feature for d in self.drifted) or "none"
        lines.append(f"Drifted features: {drifted}")
        lines.append("ALARM: a threshold was crossed" if self.alarm else "OK: within thresholds")
        return "\n".join(lines)


def csv_header(pattern: str) -> List[str]:
    files = sorted(glob.glob(pattern))
    if not files:
        raise FileNotFoundError(f"no file matches {pattern}")
    with open(files[0], newline="") as handle:
        return next(csv.reader(handle), [])


def monitor(data_pattern: str, schema, training: TrainingStatistics, settings: MonitoringConfig,
            model_features: List[str], label_columns: List[str]) -> MonitorReport:
    """TFDV statistics of the CSV file(s) matching `data_pattern`, compared with `training`."""
    import tensorflow_data_validation as tfdv
    from tensorflow_metadata.proto.v0 import schema_pb2

    header = csv_header(data_pattern)
    columns = [c for c in header if not is_meta_column(c)]
    environment = TRAINING if label_columns and set(label_columns) <= set(header) else SERVING
    options = tfdv.StatsOptions(schema=schema, infer_type_from_schema=True,
                                feature_allowlist=columns)
    new_statistics = tfdv.generate_statistics_from_csv(data_pattern, stats_options=options)
    training_statistics = tfdv.load_stats_binary(str(training.path))

    compared = schema_pb2.Schema()
    compared.CopyFrom(schema)
    thresholds = _set_comparators(compared, settings, model_features, training_statistics)
    result = tfdv.validate_statistics(new_statistics, compared, environment=environment,
                                      previous_statistics=training_statistics)
    drift = _measured(result, thresholds)
    anomalies = _schema_anomalies(result)
    return MonitorReport(
        data=data_pattern, environment=environment,
        rows=new_statistics.datasets[0].num_examples if new_statistics.datasets else 0,
        training_statistics=str(training.path), found_by=training.found_by,
        drift=drift, anomalies=anomalies, min_rows=settings.min_rows)


def _set_comparators(schema, settings: MonitoringConfig, model_features: List[str],
                     training_statistics) -> Dict[str, tuple]:
    """Adds a drift comparator per monitored feature; feature -> (measure, threshold)."""
    string_features = {f.path.step[0] for f in training_statistics.datasets[0].features
                       if f.HasField("string_stats")}
    wanted = settings.features if settings.features is not None else model_features
    thresholds = {}
    for feature in schema.feature:
        if feature.name not in wanted:
            continue
        if feature.name in string_features:
            measure = L_INFINITY
            threshold = settings.thresholds.get(feature.name, settings.categorical_threshold)
            feature.drift_comparator.infinity_norm.threshold = threshold
        else:
            measure = JENSEN_SHANNON
            threshold = settings.thresholds.get(feature.name, settings.numeric_threshold)
            feature.drift_comparator.jensen_shannon_divergence.threshold = threshold
        thresholds[feature.name] = (measure, threshold)
    return thresholds


def _measured(result, thresholds: Dict[str, tuple]) -> List[FeatureDrift]:
    from tensorflow_metadata.proto.v0 import anomalies_pb2
    names = {anomalies_pb2.DriftSkewInfo.Measurement.Type.Value(m): m
             for m in (L_INFINITY, JENSEN_SHANNON)}
    drift = []
    for info in result.drift_skew_info:
        feature = info.path.step[0]
        if feature not in thresholds:
            continue
        for measurement in info.drift_measurements:
            measure = names.get(measurement.type)
            if measure == thresholds[feature][0]:
                drift.append(FeatureDrift(feature, measure, measurement.value,
                                          thresholds[feature][1]))
    return drift


DRIFT_TYPES = {"COMPARATOR_L_INFTY_HIGH", "COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH"}


def _schema_anomalies(result) -> List[SchemaAnomaly]:
    """Every anomaly reason but drift (reported with its measure), one line per reason."""
    from tensorflow_metadata.proto.v0 import anomalies_pb2
    found = []
    for name, info in sorted(result.anomaly_info.items()):
        for reason in info.reason:
            if anomalies_pb2.AnomalyInfo.Type.Name(reason.type) not in DRIFT_TYPES:
                found.append(SchemaAnomaly(name.strip("'"), reason.short_description,
                                           reason.description))
    return found
