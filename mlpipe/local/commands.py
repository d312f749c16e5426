"""`mlpipe run`: the whole pipeline locally (registered with `mlpipe.cli`).

Exit codes: 0 blessed and pushed; 1 a component failed; 2 bad config or input data; 3 the model
was not blessed (nothing pushed).
"""

from mlpipe.errors import EXIT_NOT_BLESSED, EXIT_OK


def register(command) -> None:
    run = command("run", _run, "run the whole pipeline locally on Beam's DirectRunner")
    run.add_argument("--span", metavar="N",
                     help="data by span: ingest span N (a backfill) instead of the newest; for a "
                          "{YYYY}{MM}{DD} pattern also a date YYYY-MM-DD")
    run.add_argument("--accept-drift", action="store_true",
                     help="let the DriftGate pass a span that drifted from the previous one, for "
                          "this run only (recorded in the run's metadata)")
    run.add_argument("--recheck", action="store_true",
                     help="go through TFX's cache even when config, code, data and metadata are "
                          "as the last run left them (such a re-run is otherwise answered from "
                          "that run's record, without loading TFX)")


def _run(invocation) -> int:
    from mlpipe.local.local_runner import run_local
    config, args = invocation.config, invocation.args
    print(f"mlpipe run: {config.name}\n  config: {config.source}\n  data:   {config.data.path}")
    result = run_local(config, invocation.home, span=args.span, accept_drift=args.accept_drift,
                       recheck=args.recheck)
    _print_result(result, config)
    return EXIT_OK if result.blessed else EXIT_NOT_BLESSED


def _print_result(result, config) -> None:
    print(f"\n{_component_summary(result)}; {result.data.rows:,} rows checked "
          f"({result.data.underivable_labels} without a derivable label)")
    _print_spans(result, config)
    for name in sorted(config.evaluation.kpi):
        if name in result.metrics:
            print(f"  {name:<16} {result.metrics[name]:.4f}")
    verdict = {True: "BLESSED", False: "NOT BLESSED (a threshold failed)",
               None: "no blessing decision"}[result.blessed]
    print(f"Model:        {verdict}")
    for failure in result.fairness_failures:
        print(f"  fairness:   {failure}")
    if result.fairness_uri:
        print(f"Fairness:     {result.fairness_uri}/fairness.json")
    print(f"Pushed model: {result.pushed_version or 'nothing pushed by this run'}")
    print(f"Evaluation:   {result.evaluation_uri}")
    if result.inference_uri:
        print(f"Scored data:  {result.inference_uri} (PredictionLog TFRecords)")
    print(f"Metadata:     {result.metadata_path}")
    print(f"Log:          {result.log_file}")


def _component_summary(result) -> str:
    count = len(result.components)
    if result.unchanged_since is not None:
        since = f"run {result.unchanged_since}" if result.unchanged_since else "the last run"
        return (f"Unchanged since {since}: config, code, data files and metadata are as it "
                f"left them.\n{count} components, none ran (--recheck asks TFX's cache)")
    cached = sum(1 for c in result.components if c.state == "cached")
    return f"{count} components, {cached} cached"


def _print_spans(result, config) -> None:
    """Data by span: the span ingested, the spans trained on, the drift gate's verdict."""
    if result.span is None:
        return
    trained = ", ".join(str(span) for span in result.trained_spans) or "-"
    print(f"Span:         {result.span.describe()}; trained on span"
          f"{'s' if len(result.trained_spans) != 1 else ''} {trained} "
          f"(data.window {config.data.window})")
    if result.drift is not None:
        from mlpipe.components.drift_gate import summary  # TFX is loaded by now
        print(f"Drift gate:   {summary(result.drift)}")
