"""How far a feature's distribution moved: one comparison of two TFDV statistics, shared by the
DriftGate (a span against the previous one) and `mlpipe monitor` (new data or the request log
against the training data). It reads only what TFDV's statistics keep, so no raw training data
is read again at monitoring time.

Why not TFDV's own drift comparators: for a number they compute the Jensen-Shannon divergence of
two equal-width histograms, each spanning its own sample's [min, max]; one outlier (a 1,710-mile
taxi trip) moves every bucket edge, and random thirds of one table "drift" by 0.3-0.7 (issue 21).

- Numbers: the population stability index (PSI) over bins fixed by the baseline: its deciles
  (open-ended first and last bins, so no outlier moves an edge) plus one bin for missing values.
  The new data's share in each bin comes from its own quantiles (TFDV's QUANTILES histogram),
  interpolated at the baseline's edges. PSI 0.1 is the usual "moderate shift" line.
- Strings: the L-infinity distance between value shares (TFDV's categorical measure), over the
  baseline's values plus "(unseen)" (values the baseline never had) and "(missing)".
- Both: a distance counts as drift only above its threshold *and* above what chance gives two
  samples of these sizes with probability 0.001 (a chi-square bound, `chance_level`): a 30-row
  sample's distances are mostly chance.

`benchmarks/bench_drift.py` measures false alarms and detection of these rules; the README's
drift table is its output.
"""

import dataclasses
import math
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

PSI, L_INFINITY = "PSI", "L-infinity"
MISSING, UNSEEN, OTHER = "(missing)", "(unseen)", "(other)"
CHANCE_P_VALUE = 0.001
DECILES = tuple(k / 10 for k in range(1, 10))
# Values whose baseline share is below this are pooled into OTHER (fewer bins, less noise).
RARE_SHARE = 0.005
# TFDV's default, 10 quantile buckets, leaves the new data's share at a baseline edge to linear
# interpolation across a decile: on discrete codes (community areas, census tracts) random
# samples then "drift" (bench-drift: 85% false alarms at 500 rows; 0% with 100 buckets).
QUANTILE_BUCKETS = 100
_FLOOR = 1e-4  # a bin empty on one side still counts (PSI's usual smoothing)
_QUANTILES = 1  # statistics_pb2.Histogram.QUANTILES


@dataclasses.dataclass(frozen=True)
class Distribution:
    """One feature in one dataset, as TFDV's statistics keep it."""
    rows: int                                   # examples in the dataset
    missing: int                                # of those, without a value
    quantiles: Optional[Tuple[Tuple[float, float], ...]] = None  # numbers: (value, cum. share)
    counts: Optional[Dict[str, float]] = None   # strings: value -> count

    @property
    def numeric(self) -> bool:
        return self.quantiles is not None

    @property
    def present(self) -> int:
        return max(self.rows - self.missing, 0)

    def cdf(self, value: float) -> float:
        """Share of present values <= `value`, linear within a quantile bucket."""
        values = np.array([v for v, _ in self.quantiles])
        shares = np.array([s for _, s in self.quantiles])
        index = int(np.searchsorted(values, value, side="right"))
        if index == 0:
            return 0.0
        if index == len(values):
            return 1.0
        low, high = values[index - 1], values[index]
        fraction = (value - low) / (high - low) if high > low else 0.0
        return float(shares[index - 1] + (shares[index] - shares[index - 1]) * fraction)

    def edge(self, share: float) -> float:
        """The first quantile point whose cumulative share reaches `share`: a value the data
        has (interpolating would put an edge between two codes of a discrete feature)."""
        for value, cumulative in self.quantiles:
            if cumulative >= share - 1e-9:
                return float(value)
        return float(self.quantiles[-1][0])


@dataclasses.dataclass(frozen=True)
class FeatureDrift:
    feature: str
    measure: str              # PSI or L_INFINITY
    value: float
    threshold: float
    chance: float             # what chance reaches with these sample sizes (p = 0.001)
    moved: Dict[str, object]  # what moved, in a person's terms (see `describe`)

    @property
    def drifted(self) -> bool:
        return self.value > self.threshold and self.value > self.chance

    def to_json(self) -> dict:
        return {**dataclasses.asdict(self), "drifted": self.drifted}


def distributions(statistics) -> Dict[str, Distribution]:
    """Feature name -> Distribution, from a DatasetFeatureStatisticsList (its first dataset)."""
    if not statistics.datasets:
        return {}
    dataset = statistics.datasets[0]
    found = {}
    for feature in dataset.features:
        if not feature.path.step:
            continue
        name = feature.path.step[0]
        if feature.HasField("num_stats"):
            common = feature.num_stats.common_stats
            found[name] = Distribution(dataset.num_examples, _missing(dataset, common),
                                       quantiles=_quantile_points(feature.num_stats))
        elif feature.HasField("string_stats"):
            common = feature.string_stats.common_stats
            counts = {b.label: b.sample_count for b in feature.string_stats.rank_histogram.buckets}
            found[name] = Distribution(dataset.num_examples, _missing(dataset, common),
                                       counts=counts)
    return found


def _missing(dataset, common) -> int:
    """Rows without a value. TFX's ExampleGens write a blank cell as an empty value list, which
    TFDV counts as present (num_non_missing); a CSV read by TFDV directly has it absent. For a
    feature of at most one value per row both come to rows less values."""
    present = common.num_non_missing
    if common.max_num_values <= 1:
        present = min(present, common.tot_num_values)
    return int(dataset.num_examples - present)


def _quantile_points(num_stats) -> Tuple[Tuple[float, float], ...]:
    histogram = next((h for h in num_stats.histograms if h.type == _QUANTILES), None)
    if histogram is None or not histogram.buckets:
        return ()
    total = sum(b.sample_count for b in histogram.buckets) or 1.0
    points, cumulative = [(histogram.buckets[0].low_value, 0.0)], 0.0
    for bucket in histogram.buckets:
        cumulative += bucket.sample_count
        points.append((bucket.high_value, min(cumulative / total, 1.0)))
    return tuple(points)


def compare(baseline_statistics, new_statistics, features: Sequence[str],
            numeric_threshold: float, categorical_threshold: float,
            feature_thresholds: Mapping[str, float]) -> List[FeatureDrift]:
    """One FeatureDrift per feature present on both sides (largest, relative to its threshold,
    first). A feature that is a number on one side and a string on the other is compared as
    neither (the schema check reports the type change)."""
    baseline, new = distributions(baseline_statistics), distributions(new_statistics)
    found = []
    for feature in features:
        if feature not in baseline or feature not in new:
            continue
        before, after = baseline[feature], new[feature]
        if before.numeric and after.numeric:
            threshold = feature_thresholds.get(feature, numeric_threshold)
            found.append(_numeric(feature, before, after, threshold))
        elif not before.numeric and not after.numeric:
            threshold = feature_thresholds.get(feature, categorical_threshold)
            found.append(_categorical(feature, before, after, threshold))
    return sorted(found, key=lambda d: (-d.drifted, -d.value / d.threshold, d.feature))


def psi(before: Sequence[float], after: Sequence[float]) -> float:
    before = np.maximum(np.asarray(before, float), _FLOOR)
    after = np.maximum(np.asarray(after, float), _FLOOR)
    return float(np.sum((after - before) * np.log(after / before)))


def chance_level(bins: int, rows: int, baseline_rows: int, measure: str) -> float:
    """The distance two samples of one distribution exceed with probability CHANCE_P_VALUE.
    PSI: PSI / (1/n + 1/m) is close to chi-square with bins-1 degrees of freedom. L-infinity: the
    largest of `bins` share differences, each a normal with variance p(1-p)(1/n + 1/m) <= that
    of p = 1/2 (Bonferroni over the bins)."""
    from scipy import stats
    if rows <= 0 or baseline_rows <= 0 or bins < 2:
        return math.inf if rows <= 0 else 0.0
    scale = 1 / rows + 1 / baseline_rows
    if measure == PSI:
        return float(stats.chi2.ppf(1 - CHANCE_P_VALUE, bins - 1) * scale)
    z = stats.norm.ppf(1 - CHANCE_P_VALUE / (2 * bins))
    return float(z * math.sqrt(0.25 * scale))


def _numeric(feature: str, before: Distribution, after: Distribution,
             threshold: float) -> FeatureDrift:
    edges = sorted({before.edge(q) for q in DECILES}) if before.quantiles else []
    shares_before = _binned(before, edges)
    shares_after = _binned(after, edges)
    value = psi(shares_before, shares_after)
    chance = chance_level(len(shares_before), after.rows, before.rows, PSI)
    return FeatureDrift(feature, PSI, value, threshold, chance, _numeric_moved(before, after))


def _binned(distribution: Distribution, edges: Sequence[float]) -> List[float]:
    """Shares of all rows in (-inf, e1], (e1, e2], ..., (ek, inf), then missing."""
    rows = distribution.rows or 1
    present = distribution.present / rows
    if distribution.quantiles:
        cumulative = [0.0] + [distribution.cdf(e) for e in edges] + [1.0]
        shares = [present * (b - a) for a, b in zip(cumulative, cumulative[1:])]
    else:
        shares = [present] + [0.0] * len(edges)
    return shares + [distribution.missing / rows]


def _numeric_moved(before: Distribution, after: Distribution) -> Dict[str, object]:
    """The baseline's and the new data's quantiles side by side, the share of present values
    outside the baseline's range, and the missing shares."""
    quantiles = {}
    if before.quantiles and after.quantiles:
        for name, share in (("min", 0.0), ("p10", 0.1), ("p50", 0.5), ("p90", 0.9),
                            ("max", 1.0)):
            quantiles[name] = [before.edge(share), after.edge(share)]
    return {"quantiles": quantiles, "outside_baseline_range": _outside(before, after),
            "missing": [_share(before.missing, before.rows), _share(after.missing, after.rows)]}


def _outside(before: Distribution, after: Distribution) -> float:
    """Share of the new present values certainly outside the baseline's [min, max]: the new
    quantile buckets lying wholly beyond it (a bucket that straddles the edge, like the top one
    holding a single outlier, is not counted: the number is a lower bound)."""
    if not before.quantiles or not after.quantiles:
        return 0.0
    low, high = before.quantiles[0][0], before.quantiles[-1][0]
    points = after.quantiles
    outside = sum(b[1] - a[1] for a, b in zip(points, points[1:]) if a[0] > high or b[0] < low)
    return round(float(outside), 4)


def _categorical(feature: str, before: Distribution, after: Distribution,
                 threshold: float) -> FeatureDrift:
    labels, known = _category_bins(before), set(before.counts)
    shares_before = _category_shares(before, labels, known)
    shares_after = _category_shares(after, labels, known)
    differences = {label: shares_after[label] - shares_before[label] for label in shares_before}
    value = max(abs(d) for d in differences.values())
    chance = chance_level(len(differences), after.rows, before.rows, L_INFINITY)
    largest = sorted(differences, key=lambda label: -abs(differences[label]))[:3]
    moved = {"values": [[label, round(shares_before[label], 4), round(shares_after[label], 4)]
                        for label in largest]}
    return FeatureDrift(feature, L_INFINITY, value, threshold, chance, moved)


def _category_bins(before: Distribution) -> List[str]:
    present = sum(before.counts.values()) or 1.0
    return sorted(label for label, count in before.counts.items()
                  if count / present >= RARE_SHARE)


def _category_shares(distribution: Distribution, labels: Sequence[str],
                     known: set) -> Dict[str, float]:
    """Shares of all rows: each of the baseline's common values, OTHER (its rare values),
    UNSEEN (values the baseline never had), MISSING."""
    rows = distribution.rows or 1
    kept = set(labels)
    shares = {label: distribution.counts.get(label, 0.0) / rows for label in labels}
    shares[OTHER] = sum(c for label, c in distribution.counts.items()
                        if label in known and label not in kept) / rows
    shares[UNSEEN] = sum(c for label, c in distribution.counts.items()
                         if label not in known) / rows
    shares[MISSING] = distribution.missing / rows
    return shares


def _share(count: int, rows: int) -> float:
    return round(count / rows, 4) if rows else 0.0


def describe(measure: str, moved: Mapping[str, object]) -> str:
    """What moved, in one line, from a FeatureDrift's (or its JSON's) measure and `moved`:
    'p10 4.25 -> 6.5, p50 7.85 -> 11.2, p90 ..., 0.4% outside the baseline's range' or
    'Cash 61.2% -> 0.0%, Credit Card 36.1% -> 97.3%'."""
    if measure == PSI:
        parts = [f"{name} {_number(a)} -> {_number(b)}"
                 for name, (a, b) in moved.get("quantiles", {}).items() if name != "min"]
        if moved.get("outside_baseline_range"):
            parts.append(f"at least {moved['outside_baseline_range']:.1%} outside the "
                         "baseline's range")
        before, after = moved.get("missing", [0, 0])
        if before or after:
            parts.append(f"missing {before:.1%} -> {after:.1%}")
        return ", ".join(parts)
    return ", ".join(f"{label or '(empty text)'} {a:.1%} -> {b:.1%}"
                     for label, a, b in moved.get("values", []))


def _number(value: float) -> str:
    return f"{value:.4g}"


def statistics_options(**options):
    """TFDV's StatsOptions with the quantile resolution this comparison reads (every statistics
    the comparison sees is computed with it: StatisticsGen's, `mlpipe monitor`'s)."""
    import tensorflow_data_validation as tfdv
    return tfdv.StatsOptions(num_quantiles_histogram_buckets=QUANTILE_BUCKETS, **options)
