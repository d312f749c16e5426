"""`mlpipe runs` and `mlpipe lineage`: the audit trail (registered with `mlpipe.cli`).

Both read the run home's ML Metadata store and provenance records, never TensorFlow (TFMA only
for an evaluation whose metrics no command has read before). Exit codes: 0; 2 no run home, or
no run or version matches.
"""

import json

from mlpipe.errors import EXIT_OK, BadInputError


def register(command) -> None:
    runs = command("runs", _runs,
                   "every run of the problem, newest first: outcome, KPI metrics, pushed version, "
                   "data fingerprint and code version")
    runs.add_argument("--json", action="store_true", help="print JSON instead of a table")
    lineage = command("lineage", _lineage,
                      "the full provenance of a pushed version or a run (data hashes, schema, "
                      "config, code and package versions, hyperparameters, evaluation, who ran "
                      "it); --data PATH: the versions and runs trained on a data file")
    lineage.add_argument("target", nargs="?", metavar="VERSION|RUN",
                         help="pushed model version, run id, or a unique prefix of a run id")
    lineage.add_argument("--data", metavar="PATH",
                         help="a data file (or folder): the runs that read the same content")
    lineage.add_argument("--json", action="store_true", help="print JSON instead of text")


def _runs(invocation) -> int:
    from mlpipe.governance import render
    summaries = _summaries(invocation)
    if invocation.args.json:
        print(json.dumps([summary.to_json() for summary in summaries], indent=1))
    else:
        print(render.runs_table(summaries, _metric_names(invocation.config),
                                invocation.config.name))
    return EXIT_OK


def _lineage(invocation) -> int:
    args = invocation.args
    if (args.target is None) == (args.data is None):
        raise BadInputError("lineage: give a pushed version or run id, or --data PATH "
                            "(one of the two)")
    from mlpipe.core import lineage
    from mlpipe.governance import provenance, render
    home = invocation.home
    _require_store(home)
    with lineage.open_store(home.metadata_path) as store:
        summaries = _collect(store, invocation)
        if args.data is not None:
            found = provenance.data_lineage(args.data, summaries, home)
            print(json.dumps(found, indent=1) if args.json else render.data_lineage(found))
            return EXIT_OK
        summary = provenance.select_run(summaries, args.target, home)
        traced = provenance.run_lineage(summary, summaries, home)
    print(json.dumps(traced, indent=1) if args.json else render.run_lineage(traced))
    return EXIT_OK


def _summaries(invocation):
    from mlpipe.core import lineage
    _require_store(invocation.home)
    with lineage.open_store(invocation.home.metadata_path) as store:
        return _collect(store, invocation)


def _collect(store, invocation):
    from mlpipe.governance.runs import collect_runs
    return collect_runs(store, invocation.home, _metric_names(invocation.config))


def _require_store(home) -> None:
    if not home.metadata_path.exists():
        raise BadInputError(f"{home.root}: no pipeline run found here (no metadata.sqlite); "
                            "run `mlpipe run` first, or pass the --home used for it")


def _metric_names(config):
    names = sorted(config.evaluation.kpi)
    main = config.evaluation.main_metric
    return names + ([main] if main not in names else [])
