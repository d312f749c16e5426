"""The problem config `mlpipe init` writes: its decisions as values, each reason as a comment.

Comments start with a keyword a reader (or a test) can find: `missing:`, `task:`, `positive
class:`, `left out:`, `schema:`, `budget:`, `baseline:`, `kpi floor:`. The text is checked
against `ProblemConfig` before anything is written, and nothing that exists is overwritten
without `force`.
"""

import os
import pathlib
from typing import Iterable, List, Optional

import yaml

from mlpipe.config import ProblemConfig
from mlpipe.errors import BadInputError
from mlpipe.init.inference import AUC_MARGIN, SPLIT, Analysis, Features

SCHEMA_FILE = "schema.pbtxt"
MAX_REGRESSION_AUC = 0.02   # a small eval split: a retrained model's AUC moves by about this


def outputs(output_dir: pathlib.Path, name: str) -> List[pathlib.Path]:
    """[config file, schema file] that `init` writes into `output_dir`."""
    return [output_dir / f"{name}.yaml", output_dir / SCHEMA_FILE]


def refuse_overwrite(paths: Iterable[pathlib.Path], force: bool) -> None:
    for path in paths:
        if path.is_dir():
            raise BadInputError(f"{path} is a folder; choose another --output or --name")
        if path.exists() and not force:
            raise BadInputError(f"{path} exists: not overwritten (use --force to replace it)")


def config_text(analysis: Analysis, features: Features, name: str, data_ref: str,
                config_ref: str, optional_columns: List[str]) -> str:
    """The config file's text. `data_ref`: data.path as written (relative to the config's
    folder); `config_ref`: how the user names the config file (for the next command);
    `optional_columns`: the columns the schema lets be blank."""
    label, base, budget = analysis.label, analysis.baseline, analysis.budget
    lines = [
        f"# mlpipe problem config written by `mlpipe init` from {analysis.path.name} "
        f"({analysis.rows} rows, {len(analysis.header)} columns).",
        "# Each decision is a comment next to its value: review them, then run",
        f"#   mlpipe run --config {config_ref}",
        f"name: {name}",
        "",
        "data:",
        f"  path: {_scalar(data_ref)}",
        "  format: csv",
        f"  split: {{train: {SPLIT['train']}, eval: {SPLIT['eval']}}}",
    ]
    if analysis.missing_values:
        where = "; ".join(
            f"{column}: " + ", ".join(f"{count} x {token}" for token, count in counts.items())
            for column, counts in analysis.token_counts.items())
        lines += [f"  # missing: {', '.join(analysis.missing_values)} read as a blank cell in "
                  f"every column (found in numeric columns: {where})"]
    else:
        lines += ["  # missing: no missing-value tokens found (a blank cell is a missing value)"]
    lines += [f"  missing_values: {_flow(analysis.missing_values)}", ""]

    counts = ", ".join(f"{value!r} ({label.counts[value]} rows)" for value in
                       sorted(label.counts))
    lines += [
        "label:",
        f"  # task: binary: column '{label.column}' has two values: {counts}",
        f"  # positive class: {label.positive_class!r} is label 1 ({label.why}); "
        f"{label.negative_class!r} is 0",
        f"  name: {_scalar(label.name)}",
        "  task: binary",
        f"  column: {_scalar(label.column)}",
        f"  positive_class: {_scalar(label.positive_class)}",
        "",
        "features:",
    ]
    for kind, names in (("numeric", features.numeric), ("categorical", features.categorical)):
        if not names:
            lines.append(f"  {kind}: []")
            continue
        lines.append(f"  {kind}:")
        width = max(len(_scalar(column)) for column in names)
        lines += [f"    - {_scalar(column):<{width}}  # {features.why[column]}" for column in names]
    lines += ["  # No bucketized features: numeric ones are z-scored with missing values imputed;",
              "  # add `bucketized: {column: 10}` for a column whose effect is not monotonic."]
    if analysis.excluded:
        lines.append("  # Columns left out (move one into a list above to use it):")
        lines += [f"  # left out: {item.column}: {item.reason}" for item in analysis.excluded]
    lines += [
        "",
        f"# schema: {SCHEMA_FILE}: TFDV's inference on this data as CsvExampleGen reads it, "
        "with blank cells allowed",
        f"# schema: in columns that have them and in the columns left out (optional: "
        f"{', '.join(optional_columns) or 'none'});",
        f"# schema: the label column '{label.column}' is not in the SERVING environment.",
        f"schema: {SCHEMA_FILE}",
        "",
        "train:",
        f"  # budget: {budget.why}",
        f"  epochs: {budget.epochs}",
        f"  batch_size: {budget.batch_size}",
        "  hidden_units: [64, 32]",
        "  learning_rate: 0.01",
        "  strategy: auto",
        "  seed: 0",
        "",
        "evaluation:",
        f"  # baseline: the class prior on {base.held_out_rows} held-out rows (a fixed-seed "
        f"third of the {base.train_rows + base.held_out_rows}):",
        f"  # baseline: AUC {base.auc:.3f}, accuracy {base.accuracy:.3f} (always "
        f"{base.majority_class!r})",
        f"  # kpi floor: AUC at least {base.auc:.1f} + {AUC_MARGIN}; accuracy at least the "
        "majority class's: a useful model beats both",
        "  kpi:",
        f"    auc: {{min: {base.auc_floor}}}",
        f"    binary_accuracy: {{min: {base.accuracy_floor}}}",
        f"  max_regression: {{auc: {MAX_REGRESSION_AUC}}}",
        "  main_metric: auc",
        "  slices: []",
        "",
    ]
    text = "\n".join(lines)
    _check(text)
    return text


def write_problem(output_dir: pathlib.Path, name: str, config: str, schema: str,
                  force: bool) -> List[pathlib.Path]:
    """Writes the schema, then the config (each to a temporary name first, then renamed)."""
    config_file, schema_file = outputs(output_dir, name)
    refuse_overwrite([config_file, schema_file], force)
    output_dir.mkdir(parents=True, exist_ok=True)
    for path, text in ((schema_file, schema), (config_file, config)):
        partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
        partial.write_text(text, encoding="utf-8")
        partial.replace(path)
    return [config_file, schema_file]


def data_reference(data_path: pathlib.Path, output_dir: pathlib.Path) -> str:
    """data.path relative to the config's folder (a project folder moves as a whole), or
    absolute where no relative path exists."""
    try:
        return os.path.relpath(data_path.resolve(), output_dir.resolve())
    except ValueError:
        return str(data_path.resolve())


def _check(text: str) -> None:
    """The text must load as a problem config (a bug here must not write a broken file)."""
    ProblemConfig.model_validate(yaml.safe_load(text))


def _scalar(value: str) -> str:
    """One YAML scalar, quoted where YAML needs it ('yes', '1', 'a: b')."""
    return _flow([value])[1:-1]


def _flow(values: Optional[List[str]]) -> str:
    return yaml.safe_dump(list(values or []), default_flow_style=True, width=1 << 20).strip()
