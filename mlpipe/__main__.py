"""`python -m mlpipe`: the same as the `mlpipe` console command."""

from mlpipe.cli import run

run()
