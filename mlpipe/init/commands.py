"""`mlpipe init --data FILE.csv --label COLUMN`: a new problem, ready for `mlpipe run`.

Reads the CSV once, decides (mlpipe.init.inference: the task, binary, multiclass or regression,
and everything that follows from it), infers the curated schema with the same
TFDV proposal `mlpipe schema` makes (mlpipe.schema.proposal, fitted to how CsvExampleGen writes
blank cells, so it passes the pipeline's gate on this data), and writes `<name>.yaml` and
`schema.pbtxt` into --output (default ./<name>/). Needs no --config. Every check runs before
anything is written: bad data, a label it cannot use, or a file that exists (without --force)
is exit 2 and writes nothing.
"""

import pathlib

from mlpipe.errors import EXIT_OK


def register(command) -> None:
    init = command("init", _init, "start a problem from a CSV file: write a config and a "
                                  "curated schema to review, then `mlpipe run` them",
                   needs_config=False)
    init.add_argument("--data", required=True, help="the CSV file (a header line, then rows)")
    init.add_argument("--label", required=True, help="the column to predict")
    init.add_argument("--task", default="auto",
                      help="auto, binary, multiclass or regression (default: auto: two values "
                           "are binary; a few text values or up to 10 whole numbers multiclass; "
                           "other numbers regression); refused when the label does not fit it")
    init.add_argument("--positive-class",
                      help="binary: the label value that is class 1 (default: 1/true/yes, else "
                           "the minority class)")
    init.add_argument("--name", help="problem name (default: from the file name)")
    init.add_argument("--output", help="folder to write into (default: ./<name>/)")
    init.add_argument("--force", action="store_true",
                      help="replace the config and schema if they exist")


def _init(invocation) -> int:
    from mlpipe.init import inference, writer
    from mlpipe.init.table import read_table
    args = invocation.args
    data = pathlib.Path(args.data)
    name = inference.problem_name(args.name, data)
    output = pathlib.Path(args.output) if args.output else pathlib.Path(name)
    config_file, _ = writer.outputs(output, name)
    writer.refuse_overwrite(writer.outputs(output, name), args.force)
    table = read_table(data)
    analysis = inference.analyse(table, args.label, args.task, args.positive_class)
    print(f"mlpipe init: {data} ({table.rows:,} rows, {len(table.header)} columns)")
    print("  inferring the schema with TFDV ...", flush=True)

    from google.protobuf import text_format

    from mlpipe.core.schema_io import environment_features, numeric_columns
    from mlpipe.core.contract import TRAINING
    from mlpipe.schema.proposal import propose_schema
    schema = propose_schema(str(data), [analysis.label.column], analysis.missing_values,
                            optional=analysis.excluded_columns, data_format=table.format)
    _label_domain(schema, analysis.label)
    types = {feature: "BYTES" for feature in table.header}
    types.update(numeric_columns(schema))
    features = inference.choose_features(analysis, types)
    shape = _network_shape(table, analysis, features)
    optional = [info.name for info in environment_features(schema, TRAINING).values()
                if not info.required]
    text = writer.config_text(analysis, features, shape, name,
                              data_ref=writer.data_reference(data, output),
                              config_ref=str(config_file), optional_columns=optional)
    written = writer.write_problem(output, name, text, _schema_text(schema, data, text_format),
                                   args.force)
    _print_decisions(analysis, features, shape)
    print(f"Wrote {written[0]} (review the decisions in its comments)")
    print(f"      {written[1]}")
    print(f"Next: mlpipe run --config {config_file}")
    return EXIT_OK


def _network_shape(table, analysis, features):
    """The hidden layers, from a linear model and boosted trees cross-validated on the training
    rows (regression only; scikit-learn loads only here)."""
    from mlpipe.init import baselines, inference
    if analysis.label.task == "regression":
        print("  comparing a linear model with boosted trees ...", flush=True)
    return baselines.choose_shape(analysis.label.task,
                                  lambda: inference.training_examples(table, analysis),
                                  features.numeric, features.categorical)


def _schema_text(schema, data: pathlib.Path, text_format) -> str:
    header = (f"# Curated schema written by `mlpipe init` from {data.name}: TFDV's inference,\n"
              "# fitted to how CsvExampleGen writes blank cells. Review and edit it: it is the\n"
              "# data contract the pipeline's gate checks every run against.\n")
    return header + text_format.MessageToString(schema)


def _label_domain(schema, label) -> None:
    """A multiclass text label's values are its schema domain: TFDV infers one from a few text
    values; where it did not (or left a class out), the classes are the domain, so the gate
    refuses a class the model has no score for."""
    if label.task != "multiclass":
        return
    from tensorflow_metadata.proto.v0 import schema_pb2
    feature = next(f for f in schema.feature if f.name == label.column)
    if feature.type != schema_pb2.BYTES:
        return
    domain = next((d for d in schema.string_domain if d.name == feature.domain), None)
    if domain is None:
        domain = schema.string_domain.add(name=label.column)
        feature.domain = label.column
    missing = [name for name in label.classes if name not in set(domain.value)]
    domain.value.extend(missing)


def _print_decisions(analysis, features, shape) -> None:
    label = analysis.label
    print(f"  label:       {_label_summary(analysis)}")
    if analysis.missing_values:
        print(f"  missing:     {', '.join(analysis.missing_values)} read as blank "
              f"(in {', '.join(analysis.token_counts)})")
    print(f"  numeric:     {', '.join(features.numeric) or '-'}")
    print(f"  categorical: {', '.join(features.categorical) or '-'}")
    for item in analysis.excluded:
        print(f"  left out:    {item.column}: {item.reason}")
    print(f"  KPI:         {_kpi_summary(analysis.baseline, label.task)}")
    budget = analysis.budget
    print(f"  training:    {budget.why}, learning rate {budget.learning_rate}, "
          f"{budget.ensemble} networks averaged")
    print(f"  hidden:      {shape.why}")
    print(f"  bins:        {budget.bins_why}")


def _label_summary(analysis) -> str:
    label = analysis.label
    if label.task == "binary":
        share = label.counts[label.positive_class] / analysis.rows
        return (f"{label.column} -> {label.name}: binary, positive class "
                f"{label.positive_class!r} ({label.counts[label.positive_class]} of "
                f"{analysis.rows} rows, {share:.1%}; {label.why})")
    if label.task == "multiclass":
        shown = ", ".join(repr(name) for name in label.classes[:8])
        more = ", ..." if len(label.classes) > 8 else ""
        return (f"{label.column} -> {label.name}: multiclass, {len(label.classes)} classes: "
                f"{shown}{more} ({label.task_why})")
    return (f"{label.column} -> {label.name}: regression, {label.distinct} distinct numbers "
            f"from {label.low:g} to {label.high:g} ({label.task_why})")


def _kpi_summary(base, task: str) -> str:
    held_out = f"on {base.held_out_rows} held-out rows"
    if task == "binary":
        return (f"auc >= {base.auc_floor}, binary_accuracy >= {base.accuracy_floor} (class "
                f"prior {held_out}: auc {base.auc:.1f}, accuracy {base.accuracy:.3f})")
    if task == "multiclass":
        return (f"accuracy >= {base.accuracy_floor} (always {base.majority_class!r} "
                f"{held_out}: accuracy {base.accuracy:.3f})")
    return (f"rmse <= {base.rmse_ceiling:g} (the mean {held_out}: rmse "
            f"{base.rmse:.4g})")
