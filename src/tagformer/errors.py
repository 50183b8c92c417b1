"""User-facing errors.

Anything a user can cause (a bad path, config, dataset or argument) raises :class:`TagformerError`
with one clear sentence. The CLI turns it into a single ``error: ...`` line and a non-zero exit;
everything else is an internal bug and may raise normally.
"""

from __future__ import annotations


class TagformerError(Exception):
    """An error the user can fix: printed as one line by the CLI, exit status 2."""


class DataError(TagformerError):
    """Bad, missing, corrupt or inconsistent input data (names the file and the problem)."""


class ConfigError(TagformerError):
    """Bad configuration: unknown key, wrong type, impossible value."""


class ModelError(TagformerError):
    """Unknown model/preset or an argument the model does not take."""
