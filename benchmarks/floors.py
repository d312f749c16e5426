"""Hand-written fast paths the benchmarks compare the product against (no checks, nothing written).

- `read_typed_csv` + `serialized_chunks`: a CSV read whole by pyarrow with given column types,
  each chunk's columns as one-value lists (blank cell: null list, i.e. no value), encoded to
  serialized tf.Examples by tfx_bsl's RecordBatchToExamplesEncoder;
- `read_floor`: that, timed over a whole CSV (every column, typed by the schema): the rate at
  which rows can become tf.Examples at all;
- `model_floor`: a SavedModel's serving signature alone, on already serialized chunks.

Used by bench_serving.py (batch scoring) and bench_scale.py. TensorFlow and tfx_bsl are imported
inside the functions, so importing this module costs nothing.
"""

import time
from typing import Callable, Dict, Iterator, List


def best_rate(run: Callable[[], int], repeats: int = 2) -> Dict[str, float]:
    """`run` (returns the rows it handled) timed `repeats` times; the best time counts."""
    best, rows = None, 0
    for _ in range(repeats):
        started = time.perf_counter()
        rows = run()
        elapsed = time.perf_counter() - started
        best = elapsed if best is None else min(best, elapsed)
    return {"rows": rows, "seconds": best, "rows_per_s": rows / best}


def arrow_types(type_names: Dict[str, str]) -> dict:
    """Column name -> pyarrow type, from column name -> schema type name (INT: int64,
    FLOAT: float32, BYTES: binary)."""
    import pyarrow as pa
    arrow_type = {"INT": pa.int64(), "FLOAT": pa.float32(), "BYTES": pa.binary()}
    return {name: arrow_type[type_name] for name, type_name in type_names.items()}


def schema_arrow_types(schema_path: str) -> dict:
    """Feature name -> pyarrow type for every INT, FLOAT and BYTES feature of the schema (all
    environments: the label's source columns too)."""
    from tensorflow_metadata.proto.v0 import schema_pb2
    from mlpipe.core.schema_io import load_schema
    return arrow_types({feature.name: schema_pb2.FeatureType.Name(feature.type)
                        for feature in load_schema(schema_path).feature
                        if schema_pb2.FeatureType.Name(feature.type) in ("INT", "FLOAT", "BYTES")})


def read_typed_csv(path, types: dict, only_typed: bool = True):
    """The whole CSV as one pyarrow Table, `types` applied (a blank cell is null, text included);
    with `only_typed`, only the columns in `types`, else every column (others inferred)."""
    import pyarrow.csv as pa_csv
    return pa_csv.read_csv(str(path), convert_options=pa_csv.ConvertOptions(
        column_types=types, include_columns=list(types) if only_typed else None,
        strings_can_be_null=True))


def serialized_chunks(table, batch: int) -> Iterator[List[bytes]]:
    """`table` in chunks of `batch` rows, each as serialized tf.Examples: every column becomes a
    one-value list (null cell: null list, no value), encoded by tfx_bsl."""
    import numpy as np
    import pyarrow as pa
    from tfx_bsl.coders import example_coder
    coder = example_coder.RecordBatchToExamplesEncoder()
    for chunk in table.to_batches(batch):
        lists = []
        for column in chunk.columns:
            offsets = np.arange(chunk.num_rows + 1, dtype=np.int32)
            if not column.null_count:
                lists.append(pa.ListArray.from_arrays(pa.array(offsets), column))
                continue
            np.cumsum(column.is_valid().to_numpy(zero_copy_only=False), out=offsets[1:])
            lists.append(pa.ListArray.from_arrays(pa.array(offsets), column.drop_null(),
                                                  mask=column.is_null()))
        yield coder.encode(pa.RecordBatch.from_arrays(lists, chunk.schema.names))


def read_floor(path, schema_path: str, batch: int = 2048, repeats: int = 2) -> Dict[str, float]:
    """Rows/s from a CSV file to serialized tf.Examples of all its columns (typed by the schema,
    the others inferred): pyarrow read + tfx_bsl encode, nothing kept; best of `repeats`."""
    types = schema_arrow_types(schema_path)

    def run() -> int:
        table = read_typed_csv(path, types, only_typed=False)
        return sum(len(chunk) for chunk in serialized_chunks(table, batch))
    return best_rate(run, repeats)


def record_chunks(folder, batch: int) -> List[List[bytes]]:
    """The serialized records of a folder of gzipped TFRecord files (an Examples split, as
    ExampleGen wrote it), in chunks of `batch`."""
    import glob
    import tensorflow as tf
    records = [bytes(record.numpy()) for record in tf.data.TFRecordDataset(
        sorted(glob.glob(f"{folder}/*")), compression_type="GZIP")]
    return [records[i:i + batch] for i in range(0, len(records), batch)]


def model_floor(model, chunks: List[List[bytes]], repeats: int = 2) -> Dict[str, float]:
    """Rows/s of `model` (a mlpipe.serving.model.LoadedModel) called on each pre-serialized
    chunk in turn; best of `repeats`."""
    def run() -> int:
        rows = 0
        for chunk in chunks:
            outputs = model.predict(chunk)
            rows += len(next(iter(outputs.values())))
        return rows
    return best_rate(run, repeats)
