"""`mlpipe schema`: a TFDV proposal from the data, diffed with the curated schema."""

import pathlib

from mlpipe.config import ConfigError
from mlpipe.core.schema_io import load_schema, numeric_columns
from mlpipe.errors import EXIT_OK
from mlpipe.pipeline.preflight import check_input_data
from mlpipe.process import import_tensorflow_quietly


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
    check_input_data(config, numeric_columns(curated))
    import_tensorflow_quietly()
    from google.protobuf import text_format

    from mlpipe.schema import proposal
    proposed = proposal.propose_schema(config.data.path, config.label_only_columns)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text_format.MessageToString(proposed))
    differences = proposal.schema_diff(curated, proposed)
    print(f"Proposal written to {output}")
    print(f"Compared with the curated schema {config.schema_path}:")
    print("\n".join(differences) if differences else "  no differences")
    return EXIT_OK
