"""User-facing errors: the one error-handling seam of the package.

Anything a user can cause (a bad path, config, dataset or argument, an output that cannot be written)
raises a :class:`TagformerError` subclass whose message is exactly what the user sees. The command line
(:mod:`tagformer.cli.main`) prints it as a single ``error: ...`` line and exits with status 2
(:data:`EXIT_USER_ERROR`); Ctrl+C exits with 130 (:data:`EXIT_INTERRUPTED`); ``--debug`` or
``TAGFORMER_DEBUG=1`` adds the traceback. Everything else is an internal bug and raises normally.
"""

from __future__ import annotations

#: Exit status of a command stopped by a user error (and of a usage error).
EXIT_USER_ERROR = 2
#: Exit status of a command interrupted by Ctrl+C (128 + SIGINT).
EXIT_INTERRUPTED = 130


class TagformerError(Exception):
    """An error the user can fix: printed as one line by the CLI, exit status 2."""


class DataError(TagformerError):
    """Bad, missing, corrupt or inconsistent input data (names the file and the problem)."""


class ConfigError(TagformerError):
    """Bad configuration: unknown key, wrong type, impossible value."""


class ModelError(TagformerError):
    """Unknown model/preset or an argument the model does not take."""


class OutputError(TagformerError):
    """An output that cannot be written (read-only file system, a file where a directory belongs) or that
    would replace something the user made without ``--overwrite``."""


class ResumeError(TagformerError):
    """A run that cannot be resumed as asked (corrupt run files, changes that a resume cannot make);
    raised before anything in the run directory is changed."""
