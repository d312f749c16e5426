"""The problem config `mlpipe init` writes: its decisions as values, each reason as a comment.

Comments start with a keyword a reader (or a test) can find: `missing:`, `task:`, `positive
class:` (binary), `classes:` (multiclass), `left out:`, `schema:`, `budget:`, `hidden_units:`,
`baseline:`, `kpi floor:` (binary, multiclass), `kpi ceiling:` and `plot range:` (regression).
Only what applies to the label's task is written: `positive_class` for binary, `classes` for
multiclass, `plot_range` for regression. The text is checked against `ProblemConfig` before
anything is written, and nothing that exists is overwritten without `force`.
"""

import os
import pathlib
from typing import Iterable, List, Optional

import yaml

from mlpipe.config import ProblemConfig
from mlpipe.errors import BadInputError
from mlpipe.init.budget import (AUC_MARGIN, ERROR_REDUCTION, RMSE_MARGIN, plot_range,
                                significant)
from mlpipe.init.inference import SPLIT, Analysis, Features, Shape

SCHEMA_FILE = "schema.pbtxt"
MAX_REGRESSION_AUC = 0.02   # a small eval split: a retrained model's AUC moves by about this
MAX_REGRESSION_ACCURACY = 0.02   # ... and its accuracy
MAX_REGRESSION_RMSE = 0.02  # ... and its RMSE by about this share of the baseline's
SHOWN_CLASSES = 12          # classes whose row counts the `task:` comment lists


def outputs(output_dir: pathlib.Path, name: str) -> List[pathlib.Path]:
    """[config file, schema file] that `init` writes into `output_dir`."""
    return [output_dir / f"{name}.yaml", output_dir / SCHEMA_FILE]


def refuse_overwrite(paths: Iterable[pathlib.Path], force: bool) -> None:
    for path in paths:
        if path.is_dir():
            raise BadInputError(f"{path} is a folder; choose another --output or --name")
        if path.exists() and not force:
            raise BadInputError(f"{path} exists: not overwritten (use --force to replace it)")


def config_text(analysis: Analysis, features: Features, shape: Shape, name: str, data_ref: str,
                config_ref: str, optional_columns: List[str]) -> str:
    """The config file's text. `data_ref`: data.path as written (relative to the config's
    folder); `config_ref`: how the user names the config file (for the next command);
    `optional_columns`: the columns the schema lets be blank."""
    label, budget = analysis.label, analysis.budget
    lines = [
        f"# mlpipe problem config written by `mlpipe init` from {analysis.path.name} "
        f"({analysis.rows} rows, {len(analysis.header)} columns).",
        "# Each decision is a comment next to its value: review them, then run",
        f"#   mlpipe run --config {config_ref}",
        f"name: {name}",
        "",
        "data:",
        f"  path: {_scalar(data_ref)}",
        f"  format: {_scalar(analysis.format)}",
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

    lines += ["label:", *_label_lines(analysis), "", "features:"]
    for kind, names in (("numeric", features.numeric), ("categorical", features.categorical)):
        if not names:
            lines.append(f"  {kind}: []")
            continue
        lines.append(f"  {kind}:")
        width = max(len(_scalar(column)) for column in names)
        lines += [f"    - {_scalar(column):<{width}}  # {features.why[column]}" for column in names]
    lines += ["  # No bucketized features: numeric ones are z-scored, a missing value imputed (the",
              "  # mean) and flagged by an indicator of its own;",
              "  # add `bucketized: {column: 10}` for a column whose effect is not monotonic.",
              f"  # numeric_bins: {budget.bins_why}",
              f"  numeric_bins: {budget.numeric_bins}"]
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
        f"  # hidden_units: {shape.why}",
        f"  hidden_units: {shape.hidden_units}",
        f"  learning_rate: {budget.learning_rate}",
        "  # ensemble: networks trained from their own initial weights, their answers averaged",
        "  # (steadier than one; 1 trains and scores a single network, N times cheaper)",
        f"  ensemble: {budget.ensemble}",
        "  distribution: auto",
        "  seed: 0",
        "",
        "evaluation:",
        *_evaluation_lines(analysis),
        "  slices: []",
        "",
    ]
    text = "\n".join(lines)
    _check(text)
    return text


def _label_lines(analysis: Analysis) -> List[str]:
    """The label section's lines (indented), with the task's comments."""
    label = analysis.label
    task = label.task
    head = [f"  name: {_scalar(label.name)}", f"  task: {task}",
            f"  column: {_scalar(label.column)}"]
    if task == "binary":
        counts = ", ".join(f"{value!r} ({label.counts[value]} rows)" for value in
                           sorted(label.counts))
        return [f"  # task: binary: column '{label.column}' has two values: {counts}"
                + ("" if label.task_why in ("", "two values") else f"; {label.task_why}"),
                f"  # positive class: {label.positive_class!r} is label 1 ({label.why}); "
                f"{label.negative_class!r} is 0",
                *head,
                f"  positive_class: {_scalar(label.positive_class)}"]
    if task == "multiclass":
        shown = ", ".join(f"{value!r} ({label.counts[value]} rows)"
                          for value in label.classes[:SHOWN_CLASSES])
        more = (f", ... ({len(label.classes)} classes in all)"
                if len(label.classes) > SHOWN_CLASSES else "")
        return [f"  # task: multiclass: column '{label.column}' has {len(label.classes)} "
                f"values: {shown}{more}; {label.task_why}",
                "  # classes: every class as the data spells it, in order of value (numbers as "
                "numbers), not by frequency;",
                "  # classes: the model's scores come in this order, which a refreshed file "
                "with other class shares keeps",
                *head,
                f"  classes: {_quoted(label.classes)}"]
    return [f"  # task: regression: column '{label.column}' has {label.distinct} distinct "
            f"numbers from {_number(label.low)} to {_number(label.high)} (mean "
            f"{_number(significant(label.mean, 4))}); {label.task_why}",
            *head]


def _evaluation_lines(analysis: Analysis) -> List[str]:
    """The evaluation section's lines (indented, up to slices): baseline, KPI, regression bound,
    main metric and, for regression, the plot range."""
    base, task = analysis.baseline, analysis.label.task
    held_out = (f"{base.held_out_rows} held-out rows (a fixed-seed third of the "
                f"{base.train_rows + base.held_out_rows})")
    if task == "binary":
        return [
            f"  # baseline: the class prior on {held_out}:",
            f"  # baseline: AUC {base.auc:.3f}, accuracy {base.accuracy:.3f} (always "
            f"{base.majority_class!r})",
            f"  # kpi floor: AUC at least {base.auc:.1f} + {AUC_MARGIN}; accuracy at least the "
            "majority class's: a useful model beats both",
            "  kpi:",
            f"    auc: {{min: {base.auc_floor}}}",
            f"    binary_accuracy: {{min: {base.accuracy_floor}}}",
            f"  max_regression: {{auc: {MAX_REGRESSION_AUC}}}",
            "  main_metric: auc",
        ]
    if task == "multiclass":
        return [
            f"  # baseline: always answering the majority class {base.majority_class!r} on "
            f"{held_out}:",
            f"  # baseline: accuracy {base.accuracy:.3f}",
            f"  # kpi floor: accuracy at least {base.accuracy:.3f} + {ERROR_REDUCTION} x "
            f"{1 - base.accuracy:.3f} (its errors): a useful model removes at least a tenth of",
            "  # kpi floor: the errors of any constant answer (a flat margin would be out of "
            "reach when one class",
            "  # kpi floor: holds nearly every row, and trivial when the classes are even)",
            "  kpi:",
            f"    accuracy: {{min: {base.accuracy_floor}}}",
            f"  max_regression: {{accuracy: {MAX_REGRESSION_ACCURACY}}}",
            "  main_metric: accuracy",
        ]
    low, high = plot_range(analysis.label.low, analysis.label.high)
    drop = significant(MAX_REGRESSION_RMSE * base.rmse, 2)
    return [
        f"  # baseline: always predicting the held-out rows' mean, "
        f"{_number(significant(base.mean, 4))}, on {held_out}:",
        f"  # baseline: RMSE {_number(significant(base.rmse, 4))} (their standard deviation: no "
        "constant does better)",
        f"  # kpi ceiling: RMSE at most (1 - {RMSE_MARGIN}) x {_number(significant(base.rmse, 4))}"
        ": a useful model explains about a",
        "  # kpi ceiling: tenth of the label's variance (R^2 ~ 0.1); more would refuse honest "
        "models of noisy targets",
        "  kpi:",
        f"    rmse: {{max: {_number(base.rmse_ceiling)}}}",
        f"  # max_regression: RMSE may grow by {MAX_REGRESSION_RMSE:.0%} of the baseline's "
        "against the last blessed model",
        f"  max_regression: {{rmse: {_number(drop)}}}",
        "  main_metric: rmse",
        f"  # plot range: the label's range in the data ({_number(analysis.label.low)} to "
        f"{_number(analysis.label.high)}), rounded outward",
        f"  plot_range: [{_number(low)}, {_number(high)}]",
    ]


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


def _number(value: float) -> str:
    """A number as YAML reads it back: 2700 rather than 2700.0, else Python's shortest repr."""
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def _quoted(values: List[str]) -> str:
    """A flow list of texts, each quoted: a class is text as the data spells it, even `1`."""
    return yaml.safe_dump(list(values), default_flow_style=True, default_style="'",
                          allow_unicode=True, width=1 << 20).strip()


def _flow(values: Optional[List[str]]) -> str:
    return yaml.safe_dump(list(values or []), default_flow_style=True, width=1 << 20).strip()
