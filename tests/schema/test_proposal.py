"""Schema proposal with TFDV and the per-feature diff with the curated schema."""

import re

import mlpipe  # noqa: F401  (process settings before TensorFlow)
import pytest
from tensorflow_metadata.proto.v0 import schema_pb2

from mlpipe.core.contract import SERVING, TRAINING
from mlpipe.core.schema_io import add_environments, load_schema
from mlpipe.schema import proposal


def _diff_features(lines):
    """{feature: '-'|'+'|'~'} from schema_diff's output."""
    found = {}
    for line in lines:
        match = re.match(r"^([-+~]) feature (\S+?):", line)
        if match:
            found[match.group(2)] = match.group(1)
    return found


@pytest.fixture(scope="module")
def proposed(tmp_path_factory, taxi_config, taxi_row, write_csv):
    rows = [taxi_row(fare=5.0 + i, tips=float(i % 4), payment_type=["Cash", "Credit Card"][i % 2],
                     trip_start_hour=i) for i in range(20)]
    path = write_csv(tmp_path_factory.mktemp("data") / "trips.csv", rows)
    label_only = [column for column in taxi_config.label.source_columns
                  if column not in taxi_config.features.raw_columns]
    assert label_only == ["tips"]
    return proposal.propose_schema(str(path), label_only)


@pytest.fixture(scope="module")
def curated(taxi_config):
    return load_schema(taxi_config.schema_path)


def test_proposal_has_every_column(proposed, taxi_header):
    assert sorted(feature.name for feature in proposed.feature) == sorted(taxi_header)
    types = {feature.name: feature.type for feature in proposed.feature}
    assert types["fare"] == schema_pb2.FLOAT
    assert types["trip_start_hour"] == schema_pb2.INT
    assert types["payment_type"] == schema_pb2.BYTES


def test_label_source_is_in_training_not_serving(proposed):
    assert list(proposed.default_environment) == [TRAINING, SERVING]
    features = {feature.name: feature for feature in proposed.feature}
    assert list(features["tips"].not_in_environment) == [SERVING]
    assert list(features["tips"].in_environment) == []
    # Every other column, features included, is expected in both environments.
    assert all(not feature.not_in_environment
               for name, feature in features.items() if name != "tips")


def test_add_environments_replaces_earlier_ones():
    schema = schema_pb2.Schema()
    schema.default_environment.append("OLD")
    label = schema.feature.add(name="label")
    label.not_in_environment.append("OLD")
    schema.feature.add(name="x")
    add_environments(schema, ["label"])
    assert list(schema.default_environment) == ["TRAINING", "SERVING"]
    assert list(schema.feature[0].not_in_environment) == ["SERVING"]
    assert list(schema.feature[1].not_in_environment) == []


def test_curated_schema_matches_itself(curated):
    assert proposal.schema_diff(curated, curated) == []
    copy = schema_pb2.Schema()
    copy.CopyFrom(curated)
    assert proposal.schema_diff(curated, copy) == []


def test_curated_schema_declares_tips_serving_only_absent(curated):
    features = {feature.name: feature for feature in curated.feature}
    assert list(features["tips"].not_in_environment) == ["SERVING"]
    assert not features["fare"].not_in_environment


def test_removed_feature_is_reported(curated):
    proposed = schema_pb2.Schema()
    proposed.CopyFrom(curated)
    kept = [feature for feature in proposed.feature if feature.name != "company"]
    del proposed.feature[:]
    proposed.feature.extend(kept)
    lines = proposal.schema_diff(curated, proposed)
    assert _diff_features(lines) == {"company": "-"}
    assert lines == ["- feature company: in the curated schema, not seen in the data"]


def test_added_feature_is_reported(curated):
    proposed = schema_pb2.Schema()
    proposed.CopyFrom(curated)
    proposed.feature.add(name="surcharge", type=schema_pb2.FLOAT)
    lines = proposal.schema_diff(curated, proposed)
    assert lines == ["+ feature surcharge: in the data, not in the curated schema"]


def test_changed_type_is_reported(curated):
    proposed = schema_pb2.Schema()
    proposed.CopyFrom(curated)
    feature = next(f for f in proposed.feature if f.name == "trip_seconds")
    feature.type = schema_pb2.FLOAT
    feature.ClearField("int_domain")
    lines = proposal.schema_diff(curated, proposed)
    assert _diff_features(lines) == {"trip_seconds": "~"}
    assert lines[0] == "~ feature trip_seconds:"
    assert "    -type: INT" in lines and "    +type: FLOAT" in lines


def test_removed_and_changed_together(curated):
    proposed = schema_pb2.Schema()
    proposed.CopyFrom(curated)
    kept = [feature for feature in proposed.feature if feature.name != "pickup_latitude"]
    del proposed.feature[:]
    proposed.feature.extend(kept)
    next(f for f in proposed.feature if f.name == "trip_start_day").type = schema_pb2.BYTES
    assert _diff_features(proposal.schema_diff(curated, proposed)) == {
        "pickup_latitude": "-", "trip_start_day": "~"}


def test_changed_string_domain_is_reported(curated):
    proposed = schema_pb2.Schema()
    proposed.CopyFrom(curated)
    domain = next(d for d in proposed.string_domain if d.name == "payment_type")
    domain.value.append("Mobile")
    lines = proposal.schema_diff(curated, proposed)
    assert _diff_features(lines) == {"payment_type": "~"}
    assert '    +value: "Mobile"' in lines


def test_proposal_differs_from_curated_in_domains_not_in_columns(curated, proposed):
    """The proposal from the data has the same columns; the hand-edits (ranges) show as '~'."""
    found = _diff_features(proposal.schema_diff(curated, proposed))
    assert "-" not in found.values() and "+" not in found.values()
    assert found.get("trip_start_hour") == "~"  # curated adds int_domain [0, 23]


def test_long_domain_changes_are_counted_not_listed(curated):
    proposed_schema = schema_pb2.Schema()
    proposed_schema.CopyFrom(curated)
    domain = next(d for d in proposed_schema.string_domain if d.name == "payment_type")
    domain.value.extend(f"Token {i}" for i in range(20))
    lines = proposal.schema_diff(curated, proposed_schema)
    added = [line for line in lines if line.strip().startswith("+value:")]
    assert len(added) == 5
    assert any("and 15 more domain values" in line for line in lines)
