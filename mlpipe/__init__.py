"""mlpipe: a TFX pipeline package, from raw tabular data to a validated, evaluated, pushed model.

Importing any part of the package applies the process environment first (see `mlpipe.process`),
so TensorFlow, whenever it is imported afterwards, sees them; Beam worker processes inherit them
through the environment.
"""

from mlpipe import process as _process

_process.apply_environment()
