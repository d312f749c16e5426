"""`python -m mlpipe`: the same as the `mlpipe` console command."""

import sys

from mlpipe.cli import main

sys.exit(main())
