"""Data by span in the config: `data.path` span patterns, `data.window` and the `drift_gate:`
section, checked at load time (a bad one is a ConfigError naming the field, exit 2)."""

import mlpipe  # noqa: F401  (process settings before TensorFlow)
import pytest

from mlpipe.config import ConfigError, load_config
from mlpipe.config.span_pattern import DATE, SPAN, span_kind, span_width
from mlpipe.errors import EXIT_BAD_INPUT
from tests.support import configs


@pytest.fixture
def load(tmp_path):
    """load(edit) -> the taxi config with `edit(raw)` applied, written and loaded."""
    def make(edit):
        return load_config(configs.write_config(tmp_path / "problem.yaml", edit=edit))
    return make


@pytest.fixture
def refused(load):
    """refused(edit) -> the ConfigError's message (checked to be exit code 2)."""
    def make(edit):
        with pytest.raises(ConfigError) as caught:
            load(edit)
        assert caught.value.exit_code == EXIT_BAD_INPUT
        return str(caught.value)
    return make


def _data(**changes):
    def edit(raw):
        raw["data"].update(changes)
    return edit


@pytest.mark.parametrize("path, kind", [
    ("data/span-{SPAN}/trips.csv", SPAN), ("data/{SPAN}.csv", SPAN),
    ("data/span-{SPAN:3}/", SPAN), ("data/{YYYY}-{MM}-{DD}/*.parquet", DATE),
    ("data/trips-{YYYY}{MM}{DD}.csv", DATE), ("data/trips.csv", None), ("data/*.csv", None),
])
def test_span_kinds(path, kind):
    assert span_kind(path) == kind


def test_span_width():
    assert span_width("data/span-{SPAN:3}/") == 3
    assert span_width("data/span-{SPAN}/") == 0


@pytest.mark.parametrize("path, words", [
    ("data/{SPAN}/{SPAN}.csv", "{SPAN} may appear once"),
    ("data/{SPAN}-{YYYY}{MM}{DD}.csv", "not both"),
    ("data/{YYYY}-{MM}.csv", "exactly once"),
    ("data/{YYYY}{MM}{DD}-{DD}.csv", "exactly once"),
    ("data/{SPAN:x}.csv", "positive number"),
    ("data/{SPAN:0}.csv", "positive number"),
    ("data/{span}/trips.csv", "not a span spec"),
    ("data/{SPAN}-v{VERSION}.csv", "{VERSION} is not supported"),
])
def test_a_pattern_tfx_would_refuse_is_a_config_error(refused, path, words):
    message = refused(_data(path=path))
    assert "data.path" in message and words in message


def test_a_span_pattern_resolves_against_the_config_and_keeps_its_trailing_slash(load, tmp_path):
    config = load(_data(path="spans/span-{SPAN}/"))
    assert config.data.path == f"{tmp_path}/spans/span-{{SPAN}}/"
    assert config.data.has_spans and config.data.window == 1


def test_window_needs_a_span_pattern(refused, load):
    message = refused(_data(window=3))
    assert "window 3 trains on several spans, but data.path" in message
    assert "no span spec" in message
    assert load(_data(path="s/{SPAN}.csv", window=3)).data.window == 3


def test_window_is_at_least_one(refused):
    assert "data.window" in refused(_data(path="s/{SPAN}.csv", window=0))


def test_score_path_takes_no_span_spec(refused):
    assert "data.score_path" in refused(_data(score_path="unlabelled/{SPAN}.csv"))


def test_cloud_data_path_is_checked_like_data_path(refused):
    def edit(raw):
        raw["cloud"] = {"data_path": "gs://b/data/{SPAN}/{SPAN}.csv"}
    message = refused(edit)
    assert "cloud.data_path" in message and "{SPAN} may appear once" in message


# --- the drift_gate section ------------------------------------------------------------------

def _gate(**section):
    def edit(raw):
        raw["drift_gate"] = section
    return edit


def test_drift_gate_defaults(taxi_config):
    gate = taxi_config.drift_gate
    assert gate.enabled and (gate.categorical_threshold, gate.numeric_psi) == (0.08, 0.1)
    assert gate.compared(taxi_config.features.raw_columns) == taxi_config.features.raw_columns


def test_drift_gate_section_loads(load):
    config = load(_gate(numeric_psi=0.3, feature_thresholds={"fare": 0.5},
                        features=["fare", "payment_type"]))
    assert config.drift_gate.feature_thresholds == {"fare": 0.5}
    assert config.drift_gate.compared(config.features.raw_columns) == ["fare", "payment_type"]


@pytest.mark.parametrize("section, field", [
    ({"categorical_threshold": 0}, "drift_gate.categorical_threshold"),
    ({"numeric_psi": 0}, "drift_gate.numeric_psi"),
    ({"feature_thresholds": {"fare": 0}}, "drift_gate.feature_thresholds"),
    ({"feature_thresholds": {"fare": 10.5}}, "drift_gate.feature_thresholds"),
    ({"features": []}, "drift_gate.features"),
    ({"features": ["fare", "fare"]}, "drift_gate.features"),
    ({"max_distance": 0.1}, "drift_gate.max_distance"),
])
def test_bad_drift_gate_fields(refused, section, field):
    assert field in refused(_gate(**section))


def test_a_threshold_at_one_is_allowed(load):
    # 1 is the largest L-infinity distance: a threshold of 1 never stops on a string feature.
    assert load(_gate(feature_thresholds={"company": 1})).drift_gate.feature_thresholds == {
        "company": 1}


@pytest.mark.parametrize("section, key, replacement", [
    ({"numeric_threshold": 0.15}, "numeric_threshold", "numeric_psi"),
    ({"thresholds": {"fare": 0.5}}, "thresholds", "feature_thresholds"),
])
@pytest.mark.parametrize("where", ["drift_gate", "monitoring"])
def test_a_replaced_threshold_is_refused_naming_what_replaced_it(refused, where, section, key,
                                                                 replacement):
    """The Jensen-Shannon thresholds of earlier configs would mean something else under the
    measures of today: refused at load time, not silently reread."""
    def edit(raw):
        raw[where] = section
    message = refused(edit)
    assert f"{key} was replaced by {replacement}" in message or \
        f"{key} (a Jensen-Shannon" in message and replacement in message
    assert where in message


@pytest.mark.parametrize("section", [{"feature_thresholds": {"tips": 0.2}},
                                     {"features": ["fare", "surcharge"]}])
def test_drift_gate_names_only_features_of_the_problem(refused, section):
    message = refused(_gate(**section))
    assert "drift_gate names" in message and "not features of this problem" in message
    assert ("tips" in message) or ("surcharge" in message)
