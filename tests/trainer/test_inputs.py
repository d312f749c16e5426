"""The Trainer's input pipeline on real gzipped TFRecords read through TFX's data accessor: held
in memory when the split fits (a new permutation every epoch, the same ones for the same seed),
streamed when it does not, and said which."""

import mlpipe  # noqa: F401  (process settings before TensorFlow)
import numpy as np
import pytest

from mlpipe.trainer.inputs import load_in_memory, training_input
from tests.support import transformed

ROWS = 1000


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = transformed.write_examples(tmp_path_factory.mktemp("transformed"),
                                        {"train": ROWS, "eval": 10})
    return transformed.fn_args(folder)


def _input(data, batch_size=64, seed=0, in_memory_mb=10):
    return training_input(data.train_files, data.data_accessor, transformed.schema(),
                          transformed.LABEL_KEY, batch_size, seed, in_memory_mb)


def _epoch(dataset):
    """(u_z of every row in order, batch sizes) of one pass."""
    values, sizes = [], []
    for features, label in dataset:
        values.extend(np.asarray(features["u_z"]).reshape(-1).tolist())
        sizes.append(int(label.shape[0]))
    return values, sizes


def test_a_split_that_fits_is_held_in_memory_and_said(data):
    loaded = _input(data)
    assert loaded.how.startswith(f"in memory: {ROWS:,} rows, ")
    assert "(at most 10 MB), reshuffled every epoch" in loaded.how


def test_every_epoch_is_every_row_once_in_batches_of_the_global_size(data):
    values, sizes = _epoch(_input(data).dataset)
    assert sizes == [64] * (ROWS // 64) + [ROWS % 64]
    assert len(set(values)) == ROWS


def test_each_epoch_draws_a_new_order_and_a_seed_repeats_them(data):
    dataset = _input(data, seed=3).dataset
    first, second = _epoch(dataset)[0], _epoch(dataset)[0]
    assert first != second and sorted(first) == sorted(second)
    again = _input(data, seed=3).dataset
    assert [_epoch(again)[0], _epoch(again)[0]] == [first, second]
    assert _epoch(_input(data, seed=4).dataset)[0] != first


def test_in_memory_and_streamed_hold_the_same_rows(data):
    streamed = _input(data, in_memory_mb=0)
    assert streamed.how == "streamed from the files every epoch (train.in_memory_mb is 0)"
    assert sorted(_epoch(streamed.dataset)[0]) == sorted(_epoch(_input(data).dataset)[0])


def test_a_split_over_the_limit_is_streamed_after_reading_no_more_than_the_limit(data):
    loaded, why = load_in_memory(data.train_files, transformed.schema(), transformed.LABEL_KEY,
                                 limit_bytes=1000)
    assert loaded is None and why == "over train.in_memory_mb's limit of 1,000 bytes"
    features, label = load_in_memory(data.train_files, transformed.schema(),
                                      transformed.LABEL_KEY, limit_bytes=1 << 20)[0]
    assert int(label.shape[0]) == ROWS
    assert set(features) == {"u_z", "v_z", "u_missing", "v_missing", "c_id"}
