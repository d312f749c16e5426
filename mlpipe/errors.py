"""The errors a command can end with, each carrying its exit code.

Work functions raise these; the command layer (`mlpipe.cli`) prints `error: <message>` once and
exits with the error's code, so no handler prints errors or picks exit codes itself.

Exit codes: 0 success; 1 a pipeline component or a cloud call failed; 2 bad config, flags or
input data; 3 the model was not blessed (nothing pushed); 4 monitoring crossed a threshold;
5 another run holds the run home (nothing was done).
"""

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_NOT_BLESSED = 3
EXIT_ALARM = 4
EXIT_BUSY = 5


class MlpipeError(Exception):
    """Base of every error a user can act on; the message names the file, field or flag."""

    exit_code = EXIT_FAILED


class BadInputError(MlpipeError, ValueError):
    """Config, flags or data that cannot be used (exit 2)."""

    exit_code = EXIT_BAD_INPUT


class ConfigError(BadInputError):
    """A config file (or a flag overriding it) that cannot be used; names the file and the field."""


class InputDataError(BadInputError):
    """Input data that cannot be used; names the file, the column and the line."""


class HomeBusyError(MlpipeError):
    """Another `mlpipe run` holds the run home (exit 5): this one did nothing."""

    exit_code = EXIT_BUSY


class CallFailedError(MlpipeError, RuntimeError):
    """A step that was attempted and failed: a cloud call, a pipeline component (exit 1)."""

    exit_code = EXIT_FAILED
