"""`mlpipe run`: the whole pipeline locally (registered with `mlpipe.cli`).

Exit codes: 0 blessed and pushed; 1 a component failed; 2 bad config or input data; 3 the model
was not blessed (nothing pushed).
"""

from mlpipe.errors import EXIT_NOT_BLESSED, EXIT_OK


def register(command) -> None:
    command("run", _run, "run the whole pipeline locally on Beam's DirectRunner")


def _run(invocation) -> int:
    from mlpipe.pipeline.local_runner import run_local
    config = invocation.config
    print(f"mlpipe run: {config.name}\n  config: {config.source}\n  data:   {config.data.path}")
    result = run_local(config, invocation.home)
    _print_result(result, config)
    return EXIT_OK if result.blessed else EXIT_NOT_BLESSED


def _print_result(result, config) -> None:
    cached = sum(1 for c in result.components if c.state == "cached")
    print(f"\n{len(result.components)} components, {cached} cached; "
          f"{result.data.rows:,} rows checked ({result.data.underivable_labels} without a "
          f"derivable label)")
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
