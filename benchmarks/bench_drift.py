"""Does drift detection cry wolf, and does it see real drift? False alarms and detection of
`mlpipe.core.drift` (the rule `mlpipe monitor` and the DriftGate apply) against TFDV's own drift
comparators (what both used before), on the statistics TFDV computes for each sample.

- False alarms: SAMPLES random samples of a table (with replacement where it is smaller) at 500,
  5,000 and 50,000 rows, each compared with the whole table's statistics. Target: at most 2% of
  samples alarm on any feature, per size.
- Detection: fresh 5,000-row samples, each with one planted change on a feature drawn at random
  among those it applies to (and at least half present in the table): a number's mean moved by
  0.5 of its standard deviation, its spread around the mean scaled by 1.5, its unit changed
  (x100); 10% of a string feature's rows given a value never seen, its most common value's share
  moved by 15 points; 20% of any feature's cells blanked. Target: at least 95% of samples alarm
  naming the planted feature.
- Tables: the bundled taxi table (the taxi config's features), the penguins (multiclass) and the
  taxi fare (regression) tables of `make bench-problems`.
- A sweep of the thresholds beside the defaults: what the defaults were chosen from.

    .venv/bin/python -m benchmarks.bench_drift [--samples 50] [--out benchmarks/out]
"""

import argparse
import json
import pathlib
import tempfile
import time

import numpy as np
import pandas as pd

import mlpipe  # noqa: F401  (process settings before TensorFlow)
from mlpipe.config import load_config
from mlpipe.config.monitoring import DriftThresholds
from mlpipe.core import drift

SIZES = (500, 5_000, 50_000)
DETECTION_ROWS = 5_000
FALSE_ALARM_TARGET, DETECTION_TARGET = 0.02, 0.95
PLANTS = ("mean +0.5 sd", "spread x1.5", "unit x100", "10% unseen value", "top share +-15 pts",
          "20% blanked")
NUMERIC_PLANTS, CATEGORICAL_PLANTS = PLANTS[:3], PLANTS[3:5]
SWEEP_NUMERIC = (0.05, 0.1, 0.2)
SWEEP_CATEGORICAL = (0.05, 0.08, 0.1)
OURS, TFDV = "ours (PSI / L-inf + chance)", "TFDV comparators (JS / L-inf)"
FARE_ROWS = 10_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--out", default="benchmarks/out")
    args = parser.parse_args()
    defaults = DriftThresholds()
    started = time.monotonic()
    results = {}
    for name, frame in _tables().items():
        print(f"{name}: {len(frame):,} rows, {frame.shape[1]} features", flush=True)
        results[name] = _table_results(frame, args.samples, np.random.default_rng(7))
    out = pathlib.Path(args.out) / f"drift-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    _print_rates(results, defaults.numeric_psi, defaults.categorical_threshold)
    _print_sweep(results)
    print(f"\n{args.samples} samples per size and plant; {time.monotonic() - started:.0f} s; "
          f"raw distances: {out}")


def _tables() -> dict:
    config = load_config()
    taxi = pd.read_csv(config.data.path)
    taxi_features = taxi[config.features.raw_columns]
    fare = taxi.head(FARE_ROWS).drop(columns=["fare", "tips"])
    with tempfile.TemporaryDirectory() as folder:
        from tests.support.problems import penguin_csv
        penguins = pd.read_csv(penguin_csv(pathlib.Path(folder) / "penguins.csv"))
    return {"taxi": taxi_features, "penguins": penguins.drop(columns=["species"]),
            "taxi-fare": fare}


def _statistics(frame: pd.DataFrame):
    import tensorflow_data_validation as tfdv
    return tfdv.generate_statistics_from_dataframe(frame, stats_options=drift.statistics_options())


def _table_results(frame: pd.DataFrame, samples: int, rng) -> dict:
    baseline = _statistics(frame)
    features = list(frame.columns)
    # A plant needs values to change: features mostly blank in the table are left out of them.
    plantable = [c for c in features if frame[c].notna().mean() >= 0.5]
    numeric = [c for c in plantable if pd.api.types.is_numeric_dtype(frame[c])]
    strings = [c for c in plantable if c not in numeric]
    result = {"null": {}, "plants": {}}
    for size in SIZES:
        result["null"][size] = [
            _distances(baseline, _statistics(_sample(frame, size, rng)), features)
            for _ in range(samples)]
    for plant in PLANTS:
        candidates = (numeric if plant in NUMERIC_PLANTS else
                      strings if plant in CATEGORICAL_PLANTS else plantable)
        if not candidates:
            continue
        runs = []
        for _ in range(samples):
            feature = str(rng.choice(candidates))
            changed = _plant(_sample(frame, DETECTION_ROWS, rng), frame, plant, feature, rng)
            runs.append({"feature": feature,
                         **_distances(baseline, _statistics(changed), features)})
        result["plants"][plant] = runs
    return result


def _sample(frame: pd.DataFrame, size: int, rng) -> pd.DataFrame:
    rows = rng.choice(len(frame), size=size, replace=size > len(frame))
    return frame.iloc[rows].reset_index(drop=True)


def _plant(sample: pd.DataFrame, table: pd.DataFrame, plant: str, feature: str,
           rng) -> pd.DataFrame:
    sample = sample.copy()
    column = sample[feature]
    if plant == "mean +0.5 sd":
        sample[feature] = column + 0.5 * table[feature].std()
    elif plant == "spread x1.5":
        mean = table[feature].mean()
        sample[feature] = mean + 1.5 * (column - mean)
    elif plant == "unit x100":
        sample[feature] = column * 100
    elif plant == "10% unseen value":
        rows = rng.choice(len(sample), size=len(sample) // 10, replace=False)
        sample.loc[rows, feature] = "never seen before"
    elif plant == "top share +-15 pts":
        sample[feature] = _moved_share(column, rng)
    elif plant == "20% blanked":
        rows = rng.choice(len(sample), size=len(sample) // 5, replace=False)
        sample[feature] = sample[feature].astype(object)
        sample.loc[rows, feature] = None
        if pd.api.types.is_numeric_dtype(column):
            sample[feature] = pd.to_numeric(sample[feature])
    return sample


def _moved_share(column: pd.Series, rng) -> pd.Series:
    """The most common value's share up by 15 points (taken from the other values), or down
    by 15 (given to the second) when it is above one half."""
    counts = column.value_counts()
    top, second = counts.index[0], counts.index[1]
    moved = int(0.15 * len(column))
    column = column.copy()
    if counts.iloc[0] / len(column) <= 0.5:
        others = np.flatnonzero((column != top).to_numpy() & column.notna().to_numpy())
        column.iloc[rng.choice(others, size=moved, replace=False)] = top
    else:
        tops = np.flatnonzero((column == top).to_numpy())
        column.iloc[rng.choice(tops, size=moved, replace=False)] = second
    return column


def _distances(baseline, new, features) -> dict:
    """Per feature: ours (measure, value, chance) and TFDV's comparator value."""
    ours = {d.feature: [d.measure, d.value, d.chance]
            for d in drift.compare(baseline, new, features, 1.0, 1.0, {})}
    return {"ours": ours, "tfdv": _tfdv_distances(baseline, new, features)}


def _tfdv_distances(baseline, new, features) -> dict:
    import tensorflow_data_validation as tfdv
    schema = tfdv.infer_schema(baseline)
    for feature in schema.feature:
        if feature.name not in features:
            continue
        if feature.type == 1:  # BYTES
            feature.drift_comparator.infinity_norm.threshold = 1.0
        else:
            feature.drift_comparator.jensen_shannon_divergence.threshold = 1.0
    result = tfdv.validate_statistics(new, schema, previous_statistics=baseline)
    return {info.path.step[0]: max(m.value for m in info.drift_measurements)
            for info in result.drift_skew_info if info.drift_measurements}


def _alarmed(distances: dict, statistic: str, numeric: float, categorical: float,
             chance: bool = True) -> set:
    if statistic == TFDV:
        return {f for f, value in distances["tfdv"].items()
                if value > (categorical if f in distances["ours"] and
                            distances["ours"][f][0] == drift.L_INFINITY else numeric)}
    # The library's own rule (FeatureDrift.drifted) at the swept thresholds; no chance level
    # for the sweep's "without the chance bound" rows.
    return {feature for feature, (measure, value, floor) in distances["ours"].items()
            if drift.FeatureDrift(feature, measure, value,
                                  numeric if measure == drift.PSI else categorical,
                                  floor if chance else 0.0, {}).drifted}


def _rates(table: dict, statistic: str, numeric: float, categorical: float,
           chance: bool = True) -> dict:
    rates = {}
    for size, runs in table["null"].items():
        rates[f"false alarms @{int(size):,}"] = np.mean(
            [bool(_alarmed(r, statistic, numeric, categorical, chance)) for r in runs])
    for plant, runs in table["plants"].items():
        rates[plant] = np.mean([r["feature"] in _alarmed(r, statistic, numeric, categorical,
                                                         chance) for r in runs])
    return rates


def _print_rates(results: dict, numeric: float, categorical: float) -> None:
    print(f"\nShare of samples that alarm (false alarms: target <= {FALSE_ALARM_TARGET:.0%}; "
          f"detection at {DETECTION_ROWS:,} rows, naming the planted feature: target >= "
          f"{DETECTION_TARGET:.0%})")
    print(f"thresholds: numbers {numeric} (ours: PSI; TFDV: Jensen-Shannon 0.15), "
          f"strings {categorical} (L-infinity)")
    for name, table in results.items():
        ours = _rates(table, OURS, numeric, categorical)
        theirs = _rates(table, TFDV, 0.15, categorical)
        print(f"\n{name}")
        print(f"  {'case':<26}{'ours':>8}{'TFDV':>8}  verdict (ours)")
        for case, rate in ours.items():
            target_met = (rate <= FALSE_ALARM_TARGET if case.startswith("false")
                          else rate >= DETECTION_TARGET)
            print(f"  {case:<26}{rate:>8.0%}{theirs[case]:>8.0%}  "
                  f"{'ok' if target_met else 'MISSED'}")


def _print_sweep(results: dict) -> None:
    print("\nThreshold sweep (ours, all tables): worst false-alarm rate over sizes / worst "
          "detection rate over plants")
    print(f"  {'numbers (PSI)':<15}{'strings (L-inf)':<17}{'chance':<8}{'false alarms':>13}"
          f"{'detection':>11}")
    for chance in (True, False):
        for numeric in SWEEP_NUMERIC:
            for categorical in SWEEP_CATEGORICAL:
                rates = [_rates(t, OURS, numeric, categorical, chance) for t in results.values()]
                false = max(v for r in rates for k, v in r.items() if k.startswith("false"))
                found = min(v for r in rates for k, v in r.items() if not k.startswith("false"))
                print(f"  {numeric:<15}{categorical:<17}{'yes' if chance else 'no':<8}"
                      f"{false:>13.0%}{found:>11.0%}")


if __name__ == "__main__":
    main()
