"""The local run: `mlpipe run`, its preflight check of the data, its progress lines and the
answer of an unchanged re-run; the graph it runs is `mlpipe.pipeline`'s."""
