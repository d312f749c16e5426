"""The kind each numeric column must hold, for the preflight check (`mlpipe.local.preflight`)
of every format: the curated schema's INT or FLOAT, or NUMBER for a numeric or bucketized feature
of the config that the schema does not type."""

from typing import Dict

from mlpipe.config import ProblemConfig

NUMBER = "a number"   # the kind asked of a numeric feature the schema does not call INT or FLOAT


def numeric_kinds(config: ProblemConfig, numeric_columns: Dict[str, str]) -> Dict[str, str]:
    """Column -> INT, FLOAT (the schema's word) or NUMBER (a numeric or bucketized feature of the
    config that the schema does not type)."""
    kinds = dict(numeric_columns)
    for column in [*config.features.numeric, *config.features.bucketized]:
        kinds.setdefault(column, NUMBER)
    return kinds
