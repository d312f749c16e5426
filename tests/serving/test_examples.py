"""The request contract (SERVING environment of the curated schema) and the tf.Example encoder."""

import pytest

import mlpipe  # noqa: F401  (process settings before TensorFlow)
from mlpipe.serving.examples import ExampleEncoder, RequestError, as_json_predictions
from mlpipe.core.schema_io import SERVING, TRAINING, environment_features
from tests.support.examples import example_of


@pytest.fixture(scope="module")
def encoder(taxi_schema):
    return ExampleEncoder(environment_features(taxi_schema, SERVING))


def test_serving_environment_leaves_out_the_label_source(taxi_schema):
    serving = environment_features(taxi_schema, SERVING)
    assert "tips" not in serving and "tips" in environment_features(taxi_schema, TRAINING)
    assert len(serving) == 17
    required = {name for name, info in serving.items() if info.required}
    assert required == {"fare", "trip_start_month", "trip_start_hour", "trip_start_day",
                        "trip_start_timestamp", "trip_miles", "payment_type"}
    assert serving["payment_type"].type == "BYTES" and serving["fare"].type == "FLOAT"


def test_encoded_examples_parse_back_to_protobuf_built_ones(encoder, taxi_row):
    import tensorflow as tf
    row = {k: v for k, v in taxi_row().items() if k != "tips"}
    row.update(pickup_census_tract=-5, company="Café ünïcode", trip_seconds=2**40)
    checked = encoder.check_json_row(row, "instances[0]")
    parsed = tf.train.Example.FromString(encoder.serialize(checked))
    expected = example_of(row, floats={name for name, info in encoder.features.items()
                                       if info.type == "FLOAT"})
    assert parsed == expected
    assert encoder.serialize({}) == tf.train.Example().SerializeToString()


def test_a_batch_encodes_each_row_as_alone_and_absent_features_as_empty(encoder, taxi_row):
    import tensorflow as tf
    full = encoder.check_json_row({k: v for k, v in taxi_row().items() if k != "tips"}, "")
    short = {name: full[name] for name in encoder.required}
    batch = [tf.train.Example.FromString(s) for s in encoder.serialize_all([full, short, full])]
    assert batch[0] == batch[2] == tf.train.Example.FromString(encoder.serialize(full))
    assert batch[1].features.feature["fare"].float_list.value == full["fare"]
    company = batch[1].features.feature["company"]
    assert company.WhichOneof("kind") is None or not company.bytes_list.value


def test_a_few_rows_built_as_messages_parse_as_many_rows_encoded_in_cpp(encoder, taxi_row):
    import tensorflow as tf
    from mlpipe.serving.examples import FEW_ROWS
    full = encoder.check_json_row({k: v for k, v in taxi_row().items() if k != "tips"}, "")
    short = {name: full[name] for name in encoder.required}
    rows = [full, short] * FEW_ROWS   # more than FEW_ROWS: the C++ encoder
    spec = {name: tf.io.VarLenFeature({"FLOAT": tf.float32, "INT": tf.int64,
                                       "BYTES": tf.string}[info.type])
            for name, info in encoder.features.items()}

    def parsed(serialized):
        return {name: tf.sparse.to_dense(values).numpy().tolist()
                for name, values in tf.io.parse_example(serialized, spec).items()}
    few = encoder.serialize_all(rows[:2])
    assert parsed(few) == parsed(encoder.serialize_all(rows)[:2])
    assert tf.train.Example.FromString(few[1]) != tf.train.Example.FromString(few[0])


def test_json_numbers_are_refused_outside_their_type_range(encoder, taxi_row):
    row = {k: v for k, v in taxi_row().items() if k != "tips"}
    with pytest.raises(RequestError, match="'fare' value 1e\\+39 is out of the FLOAT") as error:
        encoder.check_json_row({**row, "fare": 1e39}, "instances[0]")
    assert error.value.field == "fare"
    with pytest.raises(RequestError, match="'trip_seconds' expects an integer"):
        encoder.check_json_row({**row, "trip_seconds": 2**63}, "instances[0]")


def test_csv_rows_are_typed_by_the_schema_and_extra_columns_ignored(encoder, taxi_row):
    row = {k: str(v) for k, v in taxi_row(company="").items()}
    checked = encoder.check_csv_row(row, "line 2")
    assert "tips" not in checked and "company" not in checked
    assert checked["fare"] == [10.0] and checked["trip_start_hour"] == [19]
    assert checked["payment_type"] == [b"Credit Card"]
    with pytest.raises(RequestError, match="line 7: column 'trip_start_hour' expects an integer"):
        encoder.check_csv_row({**row, "trip_start_hour": "7.5"}, "line 7")
    with pytest.raises(RequestError, match="missing required feature 'fare'") as error:
        encoder.check_csv_row({**row, "fare": ""}, "line 3")
    assert error.value.field == "fare"


def test_columnar_and_row_requests_give_the_same_rows(encoder, taxi_row):
    rows = [{k: v for k, v in taxi_row(fare=f).items() if k != "tips"} for f in (1.0, 2.0)]
    by_rows, layout = encoder.rows_from_request({"instances": rows})
    assert layout == "row"
    by_columns, layout = encoder.rows_from_request(
        {"inputs": {name: [row[name] for row in rows] for name in rows[0]}})
    assert layout == "columnar" and by_columns == by_rows


def test_responses_have_tf_serving_shapes():
    import numpy as np
    outputs = {"probability": np.array([[0.25], [0.5]], dtype=np.float32)}
    assert as_json_predictions(outputs, columnar=False) == {"predictions": [[0.25], [0.5]]}
    assert as_json_predictions(outputs, columnar=True) == {"outputs": [[0.25], [0.5]]}
    two = {"a": np.array([1, 2]), "b": np.array([3, 4])}
    assert as_json_predictions(two, columnar=False) == {
        "predictions": [{"a": 1, "b": 3}, {"a": 2, "b": 4}]}
    assert as_json_predictions(two, columnar=True) == {"outputs": {"a": [1, 2], "b": [3, 4]}}


def test_first_values_are_each_rows_first_value_or_null():
    import pyarrow as pa
    from mlpipe.serving.examples import first_values
    lists = [[1.5], None, [], [2.5, 3.5], [4.5]]
    column = pa.array(lists, pa.list_(pa.float32()))
    names = pa.array([[b"a"], [b"b"], None, [b"c"], []], pa.list_(pa.binary()))
    batch = pa.RecordBatch.from_arrays([column, names], ["x", "s"])
    expected = {"x": [1.5, None, None, 2.5, 4.5], "s": [b"a", b"b", None, b"c", None]}
    assert {k: v.to_pylist() for k, v in first_values(batch).items()} == expected
    sliced = first_values(batch.slice(1, 3))
    assert {k: v.to_pylist() for k, v in sliced.items()} == {k: v[1:4]
                                                            for k, v in expected.items()}


def test_first_values_of_one_value_lists_are_the_values_themselves_also_in_a_slice():
    import pyarrow as pa
    from mlpipe.serving.examples import first_values, list_lengths
    column = pa.array([[1.5], [2.5], [3.5], [4.5]], pa.large_list(pa.float32()))
    batch = pa.RecordBatch.from_arrays([column], ["x"])
    assert first_values(batch)["x"].to_pylist() == [1.5, 2.5, 3.5, 4.5]
    assert first_values(batch.slice(1, 2))["x"].to_pylist() == [2.5, 3.5]
    # A null list may span values (Arrow allows it): it counts as empty, its value unread.
    spanning = pa.ListArray.from_arrays(pa.array([0, 1, 2, 3], pa.int32()),
                                        pa.array([1.5, 2.5, 3.5], pa.float32()),
                                        mask=pa.array([False, True, False]))
    assert list(list_lengths(spanning)) == [1, 0, 1]
    assert first_values(pa.RecordBatch.from_arrays([spanning], ["x"]))["x"].to_pylist() == \
        [1.5, None, 3.5]


def test_one_value_lists_are_null_where_the_value_is():
    import pyarrow as pa
    from mlpipe.serving.examples import first_values, one_value_lists
    for values in ([1.5, None, 2.5, None], [1.5, 2.5], [None, None]):
        lists = one_value_lists(pa.array(values, pa.float32()))
        assert lists.to_pylist() == [None if v is None else [v] for v in values]
        assert lists.null_count == values.count(None)
        batch = pa.RecordBatch.from_arrays([lists], ["x"])
        assert first_values(batch)["x"].to_pylist() == values


PLAIN = {"fare": 12.5, "trip_start_month": 5, "trip_start_hour": 19, "trip_start_day": 6,
         "trip_start_timestamp": 1400269500, "trip_miles": 2.5, "payment_type": "Cash"}


def test_plain_instances_are_the_rows_checked_one_by_one(encoder):
    import tensorflow as tf
    from mlpipe.serving.examples import first_values
    rows = [{**PLAIN, "fare": 2 + i, "company": None if i % 3 else f"c{i}",
             "trip_seconds": i * 10} for i in range(40)]
    rows[7].pop("trip_seconds")
    batch, flat = encoder.plain_instances(rows)
    checked = encoder.batch_of_rows(encoder.rows_from_request({"instances": rows})[0])
    assert [tf.train.Example.FromString(e) for e in encoder.serialize_batch(batch)] == \
        [tf.train.Example.FromString(e) for e in encoder.serialize_batch(checked)]
    assert {k: v.to_pylist() for k, v in flat.items()} == \
        {k: v.to_pylist() for k, v in first_values(checked).items()}


@pytest.mark.parametrize("change", [
    {"fare": "12"}, {"fare": True}, {"fare": [12.5]}, {"fare": 1e39}, {"fare": None},
    {"trip_start_hour": 7.0}, {"trip_start_hour": 2**64}, {"payment_type": 3},
    {"payment_type": {"b64": "Q2FzaA=="}}, {"tips": 1.0},
])
def test_anything_but_plain_values_goes_to_the_row_check(encoder, change):
    rows = [dict(PLAIN) for _ in range(20)] + [{**PLAIN, **change}]
    assert encoder.plain_instances(rows) is None
    assert encoder.plain_instances(rows[:20] + ["not an object"]) is None
