"""The optional packages ``tagformer generate`` needs (the ``generate`` extra), checked before any work."""

from __future__ import annotations

import importlib.util

from tagformer.errors import TagformerError

#: Import names of the ``tagformer[generate]`` extra.
GENERATE_EXTRA: tuple[str, ...] = ("pythia8mc", "fastjet", "vector")
INSTALL_HINT = "pip install 'tagformer[generate]'"


class MissingExtraError(TagformerError):
    """An optional dependency of the command is not installed (names the extra to install)."""


def _installed(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def require_generate_extra() -> None:
    """Raise :class:`MissingExtraError` naming the extra to install if a package of it is missing.

    Looks the packages up without importing them (``vector`` alone takes a second to import); a package
    that is present but fails to import is reported by :func:`import_failure` where it is imported.
    """
    missing = [name for name in GENERATE_EXTRA if not _installed(name)]
    if missing:
        verb = "is" if len(missing) == 1 else "are"
        raise MissingExtraError(f"generating jets needs {', '.join(missing)}, which {verb} not installed: "
                                f"{INSTALL_HINT}")


def import_failure(exc: ImportError) -> MissingExtraError:
    """The one-line error for a package of the extra that is installed but cannot be imported."""
    return MissingExtraError(f"cannot import {exc.name or 'a package of the generate extra'} ({exc}); "
                             f"reinstall it: {INSTALL_HINT}")
