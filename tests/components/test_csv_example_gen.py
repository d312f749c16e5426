"""mlpipe's CSV ExampleGen executor (mlpipe.components.csv_example_gen) against TFX's
CsvExampleGen executor, both run for real on the same exec_properties: the same tf.Examples in
the same splits, the same artifact properties, TFX's errors; and, without Beam, its column
kinds and numbers against tfx_bsl's and TFX's own conversion of the same cells."""

import collections
import pathlib
import random

import mlpipe  # noqa: F401  (process settings before TensorFlow)
import pyarrow as pa
import pytest
import tensorflow as tf
from tfx.components.example_gen.base_example_gen_executor import BaseExampleGenExecutor
from tfx.components.example_gen.csv_example_gen import executor as tfx_csv
from tfx.components.util import examples_utils
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_artifacts
from tfx.utils import proto_utils
from tfx_bsl.coders import csv_decoder

from mlpipe.components.csv_example_gen import executor as csv_executor

HEADER = "count,price,mixed,name,note,nothing,science,huge"
# int (one '+3'), float (float32's max, an underflow), int and float (' 7': Python's float),
# text (a newline in quotes, UTF-8), quoted commas, quotes and newlines, an all-blank column,
# exponents and nan/inf, an int too big for int64 (text); blank cells, blank lines, CRLF, no
# final newline.
TRICKY = {
    "a.csv": (f"{HEADER}\n"
              '1,1.5,1,hello,"a,b",,1e3,1\n'
              '-2,-0.25,2.5,"two\nlines",x,,-1.5E-2,12345678901234567890\n'
              "\n"
              '+3,,3,café,"say ""hi""",,nan,\n'
              ",7,,,,,,\n"),
    "b.csv": (f"{HEADER}\r\n"
              '4,0.1, 7,plain,"",,inf,-5\r\n'
              "\r\n"
              '5,3.4028235e+38,8,"quoted, comma",y,,2,9223372036854775807\r\n'
              '6,1e-50,-0,z,"multi\r\nline",,-0.0,0'),
}
# Stray quotes: TFX's reader joins lines up to an even number of quotes, and Python's csv reader
# fails on the newline in an unquoted field of the joined text (pyarrow would read 4 rows).
STRAY = "a,b\nx\"y,1\nz,2\nw\"v,3\nq,4\n"
SPLITS = (("train", 2), ("eval", 1))


def _write(folder: pathlib.Path, files: dict) -> pathlib.Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_bytes(text.encode())
    return folder


def _exec_properties(input_base, pattern="*.csv", splits=SPLITS, input_splits=None,
                     partition_feature=None):
    """What FileBasedExampleGen gives its executor: one input split hashed into `splits`, or
    with `input_splits` ({name: pattern}), those splits as they are."""
    if input_splits:
        input_config = example_gen_pb2.Input(splits=[
            example_gen_pb2.Input.Split(name=name, pattern=split_pattern)
            for name, split_pattern in input_splits.items()])
        output_config = example_gen_pb2.Output()
    else:
        input_config = example_gen_pb2.Input(splits=[
            example_gen_pb2.Input.Split(name="all", pattern=pattern)])
        output_config = example_gen_pb2.Output(split_config=example_gen_pb2.SplitConfig(
            splits=[example_gen_pb2.SplitConfig.Split(name=name, hash_buckets=buckets)
                    for name, buckets in splits]))
        if partition_feature is not None:
            output_config.split_config.partition_feature_name = partition_feature
    return {
        "input_base": str(input_base),
        "input_config": proto_utils.proto_to_json(input_config),
        "output_config": proto_utils.proto_to_json(output_config),
        "output_data_format": example_gen_pb2.FORMAT_TF_EXAMPLE,
        "output_file_format": example_gen_pb2.FORMAT_TFRECORDS_GZIP,
    }


def _run(executor, output: pathlib.Path, exec_properties: dict):
    examples = standard_artifacts.Examples()
    examples.uri = str(output)
    executor.Do({}, {"examples": [examples]}, dict(exec_properties))
    return examples


def _records(examples) -> dict:
    """Split -> the records of its files, read as the downstream components read them (every
    file of the split, gzip TFRecord)."""
    records = {}
    for split in artifact_utils.decode_split_names(examples.split_names):
        files = tf.io.gfile.glob(f"{artifact_utils.get_split_uri([examples], split)}/*")
        dataset = tf.data.TFRecordDataset(files, compression_type="GZIP").batch(4096)
        records[split] = [record for batch in dataset.as_numpy_iterator() for record in batch]
    return records


def _contents(examples) -> dict:
    """Split -> Counter of its tf.Examples (deterministic serializations)."""
    return {split: collections.Counter(
                tf.train.Example.FromString(record).SerializeToString(deterministic=True)
                for record in records)
            for split, records in _records(examples).items()}


def _assert_same_output(ours, theirs) -> dict:
    """`ours` holds what `theirs` holds (returned: split -> Counter of examples), as files
    named data_tfrecord-*.gz of deterministic serializations."""
    assert ours.split_names == theirs.split_names
    assert examples_utils.get_payload_format(ours) == examples_utils.get_payload_format(theirs)
    assert examples_utils.get_file_format(ours) == examples_utils.get_file_format(theirs)
    ours_records = _records(ours)
    ours_contents = {split: collections.Counter(records)
                     for split, records in ours_records.items()}
    theirs_contents = _contents(theirs)
    assert ours_contents == theirs_contents  # and so ours are deterministic serializations
    assert all(sum(counter.values()) for counter in theirs_contents.values())  # a real test
    for split in ours_contents:
        folder = pathlib.Path(artifact_utils.get_split_uri([ours], split))
        names = sorted(path.name for path in folder.iterdir())
        assert names and all(name.startswith("data_tfrecord-") and name.endswith(".gz")
                             for name in names), names
    assert not (pathlib.Path(ours.uri) / csv_executor.TEMP_DIR).exists()
    return ours_contents


@pytest.fixture(scope="module")
def tricky(tmp_path_factory):
    """The tricky CSV files and TFX's outputs on them (hashed into two splits; each file a split
    of its own)."""
    root = tmp_path_factory.mktemp("csv")
    data = _write(root / "data", TRICKY)
    by_hash = _exec_properties(data)
    by_input = _exec_properties(data, input_splits={"first": "a.csv", "second": "b.csv"})
    return {"root": root, "data": data, "by_hash": by_hash, "by_input": by_input,
            "tfx_by_hash": _run(tfx_csv.Executor(), root / "tfx-hash", by_hash),
            "tfx_by_input": _run(tfx_csv.Executor(), root / "tfx-input", by_input)}


# ---- the executor against TFX's --------------------------------------------------------------

@pytest.mark.parametrize("chunk_bytes", [None, 40])
def test_the_same_examples_in_the_same_splits_as_csv_example_gen(tricky, monkeypatch,
                                                                  chunk_bytes):
    if chunk_bytes:  # files cut into many chunks, one inside quotes
        monkeypatch.setattr(csv_executor, "CHUNK_BYTES", chunk_bytes)
    ours = _run(csv_executor.Executor(), tricky["root"] / f"ours-{chunk_bytes}",
                tricky["by_hash"])
    kinds = {}
    for counter in _assert_same_output(ours, tricky["tfx_by_hash"]).values():
        for record in counter:
            for name, feature in tf.train.Example.FromString(record).features.feature.items():
                kinds.setdefault(name, set()).add(feature.WhichOneof("kind"))
    assert kinds == {"count": {"int64_list"}, "price": {"float_list"}, "mixed": {"float_list"},
                     "name": {"bytes_list"}, "note": {"bytes_list"}, "nothing": {None},
                     "science": {"float_list"}, "huge": {"bytes_list"}}


def test_input_splits_as_csv_example_gen(tricky):
    ours = _run(csv_executor.Executor(), tricky["root"] / "ours-input", tricky["by_input"])
    _assert_same_output(ours, tricky["tfx_by_input"])


def test_the_split_by_a_partition_feature_is_csv_example_gen_s(tricky):
    exec_properties = _exec_properties(tricky["data"], partition_feature="count")
    _assert_same_output(
        _run(csv_executor.Executor(), tricky["root"] / "ours-partition", exec_properties),
        _run(tfx_csv.Executor(), tricky["root"] / "tfx-partition", exec_properties))


def test_tfx_generate_examples_by_beam_gives_the_same_output(tricky):
    """TFX's own Do (GenerateExamplesByBeam, WriteSplit) on this executor's records."""
    executor = csv_executor.Executor()
    examples = standard_artifacts.Examples()
    examples.uri = str(tricky["root"] / "ours-base")
    BaseExampleGenExecutor.Do(executor, {}, {"examples": [examples]}, dict(tricky["by_hash"]))
    assert _contents(examples) == _contents(tricky["tfx_by_hash"])


def test_the_taxi_csv_gives_csv_example_gen_s_train_and_eval(taxi_config, tmp_path):
    path = pathlib.Path(taxi_config.data.path)
    exec_properties = _exec_properties(path.parent, pattern=path.name)
    ours = _run(csv_executor.Executor(), tmp_path / "ours", exec_properties)
    theirs = _run(tfx_csv.Executor(), tmp_path / "tfx", exec_properties)
    counts = {split: sum(counter.values())
              for split, counter in _assert_same_output(ours, theirs).items()}
    assert sum(counts.values()) == 15002 and counts["train"] > counts["eval"] > 0


def test_a_split_without_rows_gets_an_empty_file(tmp_path):
    data = _write(tmp_path / "data", {"one.csv": "a,b\n1,2\n"})
    examples = _run(csv_executor.Executor(), tmp_path / "out",
                    _exec_properties(data, splits=(("train", 1), ("eval", 1))))
    counts = {split: sum(counter.values()) for split, counter in _contents(examples).items()}
    assert sorted(counts.values()) == [0, 1]


# ---- missing-value tokens --------------------------------------------------------------------

# A numeric column and a string column spelling "no value" as NA (a quoted "NA" too) or ?, beside
# real blanks; `NA,` inside a longer text stays text. The same table with those cells blank:
WITH_TOKENS = ("count,price,name,note\n"
               "1,1.5,ann,plain\n"
               "NA,2.5,NA,\"NA, or not\"\n"
               "3,?,bob,\"NA\"\n"
               ",NA,,x\n"
               "5,4.25,?,y\n")
WITH_BLANKS = ("count,price,name,note\n"
               "1,1.5,ann,plain\n"
               ",2.5,,\"NA, or not\"\n"
               "3,,bob,\n"
               ",,,x\n"
               "5,4.25,,y\n")


def _with_tokens(exec_properties: dict, tokens) -> dict:
    """exec_properties as FileBasedExampleGen(custom_config=custom_config(tokens)) hands them
    to its executor: the CustomConfig as JSON."""
    return {**exec_properties, "custom_config": proto_utils.proto_to_json(
        csv_executor.custom_config(tokens))}


def test_the_custom_config_carries_the_tokens():
    assert csv_executor.missing_values_of(_with_tokens({}, ["NA", "?"])) == ("NA", "?")
    assert csv_executor.missing_values_of({}) == ()
    assert csv_executor.missing_values_of({"custom_config": None}) == ()


def test_declared_tokens_are_read_as_blank_cells(tmp_path):
    tokens = _write(tmp_path / "tokens", {"t.csv": WITH_TOKENS})
    blanks = _write(tmp_path / "blanks", {"t.csv": WITH_BLANKS})
    ours = _run(csv_executor.Executor(), tmp_path / "ours",
                _with_tokens(_exec_properties(tokens), ["NA", "?"]))
    # The examples (and splits) of the same table written with blank cells, by TFX itself.
    theirs = _run(tfx_csv.Executor(), tmp_path / "tfx", _exec_properties(blanks))
    contents = _assert_same_output(ours, theirs)
    examples = [tf.train.Example.FromString(record)
                for counter in contents.values() for record in counter.elements()]
    assert len(examples) == 5
    features = {name: [example.features.feature[name] for example in examples]
                for name in ("count", "price", "name", "note")}
    # The numeric columns stay numbers, with an empty value list where the token was.
    assert {f.WhichOneof("kind") for f in features["count"]} == {"int64_list"}
    assert sorted(len(f.int64_list.value) for f in features["count"]) == [0, 0, 1, 1, 1]
    assert {f.WhichOneof("kind") for f in features["price"]} == {"float_list"}
    assert sorted(len(f.float_list.value) for f in features["price"]) == [0, 0, 1, 1, 1]
    names = sorted(v for f in features["name"] for v in f.bytes_list.value)
    assert names == [b"ann", b"bob"]                  # NA and ? blank, not a category
    notes = sorted(v for f in features["note"] for v in f.bytes_list.value)
    assert notes == [b"NA, or not", b"plain", b"x", b"y"]   # a quoted "NA" is the token too


def test_tokens_through_tfx_generate_examples_by_beam_and_tfx_s_reader(tmp_path, monkeypatch):
    """TFX's own Do (GenerateExamplesByBeam) reads the same tokens as blank; so does the chunk
    read by TFX's line reader (stray quotes), which pyarrow would read otherwise."""
    tokens = _write(tmp_path / "tokens", {"t.csv": WITH_TOKENS})
    blanks = _write(tmp_path / "blanks", {"t.csv": WITH_BLANKS})
    executor = csv_executor.Executor()
    examples = standard_artifacts.Examples()
    examples.uri = str(tmp_path / "base")
    BaseExampleGenExecutor.Do(executor, {}, {"examples": [examples]},
                              _with_tokens(_exec_properties(tokens), ["NA", "?"]))
    assert _contents(examples) == _contents(
        _run(tfx_csv.Executor(), tmp_path / "tfx", _exec_properties(blanks)))
    batch = csv_executor._tfx_batch(b'NA,"x""y"\n?,NA\n', ["0", "1"], "t.csv", ("NA", "?"))
    assert batch.column(0).to_pylist() == [None, None]
    assert batch.column(1).to_pylist() == ['x"y', None]


# ---- errors ----------------------------------------------------------------------------------

def test_a_pattern_matching_no_file_is_tfx_s_error(tmp_path):
    (tmp_path / "data").mkdir()
    with pytest.raises(RuntimeError, match=r"Split pattern .*data/\*\.csv does not match any "
                                           r"files"):
        _run(csv_executor.Executor(), tmp_path / "out", _exec_properties(tmp_path / "data"))


def test_files_with_different_headers_are_named(tmp_path):
    data = _write(tmp_path / "data", {"a.csv": "x,y\n1,2\n", "b.csv": "x,z\n1,2\n"})
    with pytest.raises(RuntimeError, match=r"different header: .*b\.csv differ from .*a\.csv"):
        _run(csv_executor.Executor(), tmp_path / "out", _exec_properties(data))


def test_stray_quotes_are_tfx_s_error(tmp_path):
    data = _write(tmp_path / "data", {"stray.csv": STRAY})
    for executor in (tfx_csv.Executor(), csv_executor.Executor()):
        with pytest.raises(Exception, match="new-line character seen in unquoted field"):
            _run(executor, tmp_path / type(executor).__module__, _exec_properties(data))


def test_unbalanced_quotes_are_tfx_s_error(tmp_path):
    data = _write(tmp_path / "data", {"a.csv": 'x,y\n1,2\n3,Flash" Cab\n'})
    with pytest.raises(Exception, match="unbalanced quotes"):
        _run(csv_executor.Executor(), tmp_path / "out", _exec_properties(data))


# ---- kinds and values, without Beam ----------------------------------------------------------

CELLS = ["1", "-1", "+1", " 1", "1 ", "1_000", "007", "-0", "1.5", "-.5", "5.", ".", "-", "--1",
         "1-", "-1.5", "1.2.3", "1e5", "-1.5E-3", "1e", "nan", "-NaN", "inf", "-Infinity",
         "0x1F", "9223372036854775807", "9223372036854775808", "-9223372036854775808",
         "-9223372036854775809", "123456789012345678", "1234567890123456789",
         "12345678901234567890", "abc", "\u0663", "1\u00a0", "true"]


@pytest.mark.parametrize("cells", [[cell] for cell in CELLS] + [
    ["1", "2.5"], ["1", "x"], ["1.5", "1e3"], ["+1", "2"], ["1", "12345678901234567890"],
    ["", "3"], ["", ""]])
def test_column_kinds_are_tfx_bsl_s(cells):
    column = pa.array([cell or None for cell in cells], pa.string())
    inferrer = csv_decoder.ColumnTypeInferrer(["c"], skip_blank_lines=True)
    accumulator = inferrer.create_accumulator()
    for cell in cells:
        accumulator = inferrer.add_input(accumulator, [cell.encode()])
    [expected] = inferrer.extract_output(accumulator)
    assert csv_executor._infer_kind(column) == expected.type


def _tfx_examples(path: pathlib.Path):
    """TFX's CsvExampleGen's examples of a CSV file, by its own code without Beam."""
    names = path.read_text().splitlines()[0].split(",")
    reader, buffer, lines = csv_decoder._CSVRecordReader(","), tfx_csv._CsvLineBuffer(), []
    with path.open("rb") as file:
        file.readline()
        for line in file:
            buffer.write(line.decode())
            if buffer.is_complete_line():
                lines.append(reader.ReadLine(buffer.read()))
    inferrer = csv_decoder.ColumnTypeInferrer(names, skip_blank_lines=True)
    accumulator = inferrer.create_accumulator()
    for cells in lines:
        accumulator = inferrer.add_input(accumulator, cells)
    column_infos = inferrer.extract_output(accumulator)
    to_example = tfx_csv._ParsedCsvToTfExample()
    return [example.SerializeToString(deterministic=True)
            for cells in lines for example in to_example.process(cells, column_infos)]


def _our_examples(path: pathlib.Path, chunk_bytes=None):
    names = tuple(path.read_text().splitlines()[0].split(","))
    group = csv_executor._Group(str(path), (str(path),), names, ("all",))
    chunks = csv_executor._file_chunks(str(path), chunk_bytes)
    kinds = csv_executor._merge_kinds([csv_executor._chunk_kinds(group, 0, start, end)
                                       for start, end in chunks])
    return [record for start, end in chunks
            for _, records, _ in csv_executor._chunk_records(group, 0, start, end, kinds)
            for record in records]


def _spellings(rng: random.Random, value: float):
    return [repr(value), f"{value:.3e}", f"{value:.9g}", f"{value:.17g}", f"{value:.25f}",
            f"{rng.randint(-10**6, 10**6)}.{rng.randint(0, 10**20):020d}"]


def test_numbers_are_tfx_s_int_and_float32(tmp_path):
    rng = random.Random(7)
    specials = ["3.4028235e+38", "3.5e38", "-1e39", "1e-45", "7e-46", "-1e-46",
                "1.17549435e-38", "0.1000000000000000055511151231257827", "1e400", "-0",
                "+2.5", " 3.25", "1_000.5", "nan", "-nan", "inf"]
    floats = specials + [spelling for _ in range(300)
                         for spelling in _spellings(rng, rng.uniform(-1, 1) * 10 ** rng.randint(
                             -40, 40))]
    ints = [str(rng.randint(-2 ** 63, 2 ** 63 - 1)) for _ in range(len(floats) - 6)] + [
        "+12", " 8", "1_000", "007", "-0", "-9223372036854775808"]
    path = tmp_path / "numbers.csv"
    path.write_text("i,f\n" + "".join(f"{i},{f}\n" for i, f in zip(ints, floats)))
    expected = _tfx_examples(path)
    assert _our_examples(path) == expected
    assert len(expected) == len(floats)


def test_chunks_end_where_tfx_ends_a_record(tmp_path):
    path = tmp_path / "quoted.csv"
    rows = [f'{index},"line {index}\nand ""more"", {index}",x' for index in range(200)]
    path.write_text("a,b,c\n" + "\n".join(rows) + "\n")
    chunks = csv_executor._file_chunks(str(path), 100)
    assert len(chunks) > 10
    data = path.read_bytes()
    assert chunks[0][0] == len("a,b,c\n") and chunks[-1][1] == len(data)
    assert all(end == next_start for (_, end), (next_start, _) in zip(chunks, chunks[1:]))
    assert all(data[start:end].count(b'"') % 2 == 0 for start, end in chunks)
    assert _our_examples(path, 100) == _tfx_examples(path)
