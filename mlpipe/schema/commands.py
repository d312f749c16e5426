"""`mlpipe schema`: a TFDV proposal from the data, diffed with the curated schema.

It needs the problem's curated schema to diff with: without one, loading the config fails (exit 2)
and says that `mlpipe init` writes a new problem's config and first curated schema."""

import pathlib

from mlpipe.config import ConfigError
from mlpipe.core.contract import TRAINING
from mlpipe.core.schema_io import environment_features, load_schema, numeric_columns
from mlpipe.errors import EXIT_OK
from mlpipe.local.preflight import check_input_data


def register(command) -> None:
    schema = command("schema", _schema,
                     "propose a schema from the data with TFDV and diff it with the curated one")
    schema.add_argument("--output", help="where to write the proposal "
                                         "(default: <run home>/schema-proposal.pbtxt)")


def _schema(invocation) -> int:
    config, home, args = invocation.config, invocation.home, invocation.args
    output = pathlib.Path(args.output) if args.output else home.schema_proposal
    if output.resolve() == pathlib.Path(config.schema_path).resolve():
        raise ConfigError(f"--output {output}: refusing to overwrite the curated schema")
    curated = load_schema(config.schema_path)
    # With data by span, the checks and the proposal read the newest span's files.
    span = check_input_data(config, numeric_columns(curated)).span
    data_path = span.path if span else config.data.path
    from google.protobuf import text_format

    from mlpipe.schema import proposal
    # A column the curated schema lets be blank stays optional in the proposal (a column the
    # model does not read, such as one `mlpipe init` left out, even when this data fills it).
    optional = [name for name, info in environment_features(curated, TRAINING).items()
                if not info.required]
    proposed = proposal.propose_schema(data_path, config.label_only_columns,
                                       config.data.missing_values, optional,
                                       data_format=config.data.format)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text_format.MessageToString(proposed))
    differences = proposal.schema_diff(curated, proposed)
    if span:
        print(f"Data: span {span.describe()}: {data_path}")
    print(f"Proposal written to {output}")
    print(f"Compared with the curated schema {config.schema_path}:")
    print("\n".join(differences) if differences else "  no differences")
    return EXIT_OK
