"""The ExampleGen executor for parquet files: TFX's FileBasedExampleGen runs it (see
`mlpipe.pipeline.pipeline._example_gen`).

TFX 1.16 ships a parquet executor (`tfx.components.example_gen.custom_executors.
parquet_executor`), but its row conversion (`example_gen.utils.dict_to_example`) tests each value
for truth: a 0, a 0.0, an empty string and False become a feature with no value, i.e. missing.
On the taxi data every trip without a tip would lose its `tips` value; a numeric feature's zeros
would be imputed in training and not in serving. This executor is TFX's own, but for the
conversion: `mlpipe.core.data_files.table_examples`, per column and typed by the parquet schema,
the rule the preflight check, `mlpipe init` and the schema proposal read parquet with. A null
is an empty value list of the column's kind, as CsvExampleGen writes a blank cell, so the same
rows written as CSV or as parquet give the same examples (and the same split).
"""

import os
from typing import Any, Dict

import apache_beam as beam
import tensorflow as tf
from tfx.components.example_gen.base_example_gen_executor import BaseExampleGenExecutor
from tfx.types import standard_component_specs

from mlpipe.core.data_files import table_examples


@beam.ptransform_fn
@beam.typehints.with_input_types(beam.Pipeline)
@beam.typehints.with_output_types(tf.train.Example)
def _ParquetToExample(pipeline: beam.Pipeline, exec_properties: Dict[str, Any],  # noqa: N802
                      split_pattern: str) -> beam.pvalue.PCollection:
    """The parquet files of one input split -> tf.Examples, a row group at a time."""
    pattern = os.path.join(exec_properties[standard_component_specs.INPUT_BASE_KEY],
                           split_pattern)
    return (pipeline
            | "ReadParquet" >> beam.io.ReadFromParquetBatched(pattern)
            | "ToTFExample" >> beam.FlatMap(table_examples))


class Executor(BaseExampleGenExecutor):
    """FileBasedExampleGen's executor for parquet files (see the module docstring)."""

    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:  # noqa: N802 (TFX's name)
        return _ParquetToExample
