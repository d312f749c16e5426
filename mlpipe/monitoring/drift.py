"""New data against the training data: TFDV statistics, drift per feature, schema anomalies.

For each monitored feature (default: the model's features) `mlpipe.core.drift` (the comparison
the DriftGate makes too) measures how far it moved from the training statistics: the population
stability index over the training deciles for numbers, the L-infinity distance of value shares
for strings, with the thresholds of the config's `monitoring:` section. Anomalies against the
curated schema (unexpected values, types, missing columns) come from
`tfdv.validate_statistics(new, schema)`, in the environment the data belongs to: TRAINING when
the label's source columns are present, else SERVING.

The request log's own columns (`_model_version`, `_prediction`, `_logged_at` and a multiclass
model's `_score_<class>`: `request_log.is_meta_column`) are left out of the statistics, whatever
the model's task.
"""

import csv
import dataclasses
import glob
from typing import List, Optional

from mlpipe.config.monitoring import MonitoringConfig
from mlpipe.core import drift as drift_measure
from mlpipe.core.drift import FeatureDrift
from mlpipe.core.schema_io import SERVING, TRAINING, environment_features
from mlpipe.errors import BadInputError
from mlpipe.monitoring.training_stats import TrainingStatistics
from mlpipe.serving.examples import ExampleEncoder
from mlpipe.serving.predict import InputError, csv_chunks
from mlpipe.serving.request_log import is_meta_column


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
            "drift": [d.to_json() for d in self.drift],
            "anomalies": [dataclasses.asdict(a) for a in self.anomalies],
        }

    def summary(self) -> str:
        width = max([24, *(len(d.feature) for d in self.drift)])
        lines = [f"Data:      {self.data} ({self.rows:,} rows, {self.environment} environment)",
                 f"Baseline:  {self.training_statistics}",
                 f"           ({self.found_by})", "",
                 f"  {'feature':<{width}} {'measure':<11} {'value':>8} {'threshold':>10} "
                 f"{'chance':>8}"]
        for d in self.drift:
            flag = "  DRIFT" if d.drifted and self.drift_judged else ""
            lines.append(f"  {d.feature:<{width}} {d.measure:<11} {d.value:>8.4f} "
                         f"{d.threshold:>10.4f} {d.chance:>8.4f}{flag}")
            if d.drifted and self.drift_judged:
                lines.append(f"      moved: {drift_measure.describe(d.measure, d.moved)}")
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
    import tensorflow_data_validation as tfdv  # slow: only when drift is computed

    header = csv_header(data_pattern)
    columns = [c for c in header if not is_meta_column(c)]
    environment = TRAINING if label_columns and set(label_columns) <= set(header) else SERVING
    options = drift_measure.statistics_options(schema=schema, infer_type_from_schema=True,
                                               feature_allowlist=columns)
    new_statistics = _csv_statistics(data_pattern, options, schema)
    training_statistics = tfdv.load_stats_binary(str(training.path))
    wanted = settings.features if settings.features is not None else model_features
    drift = drift_measure.compare(training_statistics, new_statistics, wanted,
                                  settings.numeric_psi, settings.categorical_threshold,
                                  settings.feature_thresholds)
    if environment == SERVING:
        schema = unread_columns_optional(schema, model_features)
    anomalies = _schema_anomalies(tfdv.validate_statistics(new_statistics, schema,
                                                           environment=environment))
    return MonitorReport(
        data=data_pattern, environment=environment,
        rows=new_statistics.datasets[0].num_examples if new_statistics.datasets else 0,
        training_statistics=str(training.path), found_by=training.found_by,
        drift=drift, anomalies=anomalies, min_rows=settings.min_rows)


def unread_columns_optional(schema, model_features: List[str]):
    """A copy of `schema` that asks no presence of the columns the model does not read (the
    ones `mlpipe init` left out): a serving client need not send them, as TF Serving's clients
    send what the model reads, so a request log without them is no "column dropped" anomaly."""
    relaxed = type(schema)()
    relaxed.CopyFrom(schema)
    for feature in relaxed.feature:
        if feature.name not in model_features and feature.HasField("presence"):
            feature.presence.min_count = 0
            feature.presence.min_fraction = 0.0
    return relaxed


def _csv_statistics(data_pattern: str, options, schema):
    """TFDV's statistics of the CSV file(s); a cell the schema's type cannot hold is a
    BadInputError naming file, line and column (TFDV's own error names neither)."""
    import tensorflow_data_validation as tfdv  # slow: see monitor()
    try:
        return tfdv.generate_statistics_from_csv(data_pattern, stats_options=options)
    except ValueError as error:
        raise BadInputError(_first_bad_cell(data_pattern, schema)
                            or f"{data_pattern}: {error}") from error


def _first_bad_cell(data_pattern: str, schema) -> Optional[str]:
    """Where the first cell the schema's SERVING types refuse is, found with the request check
    that `mlpipe predict` uses (read again only on this error path); None when no feature cell
    is at fault."""
    encoder = ExampleEncoder(environment_features(schema, SERVING))
    for path in sorted(glob.glob(data_pattern)):
        try:
            for _ in csv_chunks(path, encoder, batch_size=4096):
                pass
        except InputError as error:
            return str(error)
    return None


def _schema_anomalies(result) -> List[SchemaAnomaly]:
    """Every anomaly reason, one line per reason."""
    return [SchemaAnomaly(name.strip("'"), reason.short_description, reason.description)
            for name, info in sorted(result.anomaly_info.items()) for reason in info.reason]
