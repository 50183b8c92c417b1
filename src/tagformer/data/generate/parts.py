"""The parts directory of a run (``OUTPUT.parts/``): which files belong to a run, its settings file, cleanup.

A parts directory holds ``settings.json`` (the physics settings of the run), the finished shards
``shard-<class>-<index>.h5``, the lock files of :mod:`tagformer.data.generate.lock` and, after a crash,
hidden temporaries (``.NAME.tmp<pid>``). Nothing here deletes a file it did not make: every removal is
limited to these names, and the directory itself goes only when it is empty afterwards.
"""

from __future__ import annotations

import contextlib
import errno
import json
import re
from pathlib import Path

from tagformer.atomic import atomic_write_text
from tagformer.data.generate.config import RUN_ONLY_FIELDS, GenerateConfig, make_config
from tagformer.data.generate.shard import ShardSpec
from tagformer.errors import ConfigError, DataError

SETTINGS_FILE = "settings.json"
LOCK_FILE = ".lock"
WORKERS_LOCK_FILE = ".workers.lock"
_SHARD_NAME = re.compile(r"shard-[a-z]-\d{5,}\.h5")
_TEMPORARY = re.compile(r"\.(shard-[a-z]-\d{5,}\.h5|settings\.json)\.tmp\d+")
#: errno values that mean "the file system is full" (no space, quota, file size limit).
DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


def parts_dir(output: Path) -> Path:
    """The directory of shards beside ``output``."""
    output = Path(output)
    return output.with_name(output.name + ".parts")


def shard_path(parts: Path, spec: ShardSpec) -> Path:
    return Path(parts) / f"shard-{spec.name}.h5"


def shard_files(parts: Path) -> list[Path]:
    """Every finished shard file in ``parts`` (of any settings), sorted by name."""
    parts = Path(parts)
    if not parts.is_dir():
        return []
    return sorted(p for p in parts.iterdir() if _SHARD_NAME.fullmatch(p.name) and p.is_file())


def remove_temporaries(parts: Path) -> None:
    """Delete the hidden temporaries a killed writer left (call only while holding the run lock)."""
    parts = Path(parts)
    if parts.is_dir():
        for p in parts.iterdir():
            if _TEMPORARY.fullmatch(p.name):
                with contextlib.suppress(OSError):
                    p.unlink()


def remove_files(paths: list[Path]) -> None:
    """Delete ``paths`` (those already gone are fine)."""
    for p in paths:
        with contextlib.suppress(FileNotFoundError):
            p.unlink()


def remove_run_files(parts: Path, shards: list[Path] | None = None) -> None:
    """Delete ``shards`` (default: every shard file), the settings, locks and temporaries of a run, then the
    directory if nothing else is left in it (files the user put there are never touched).

    Call it last, while holding the run lock: the lock files go too.
    """
    parts = Path(parts)
    if not parts.is_dir():
        return
    remove_temporaries(parts)
    remove_files([*(shard_files(parts) if shards is None else shards),
                  *(parts / n for n in (SETTINGS_FILE, LOCK_FILE, WORKERS_LOCK_FILE))])
    with contextlib.suppress(OSError):
        parts.rmdir()  # fails (and is meant to) when the user keeps other files here


def settings_keys() -> frozenset[str]:
    """The keys of a run's ``settings.json`` (every setting that changes the arrays)."""
    return frozenset(GenerateConfig.model_fields) - RUN_ONLY_FIELDS


def read_settings(parts: Path) -> dict | None:
    """The physics settings stored in ``parts``; None when there is no settings file.

    Raises
    ------
    DataError
        If the file is unreadable or not a settings file written by ``tagformer generate``
        (not a JSON object, or keys that are not physics settings, e.g. ``output``).
    """
    settings = Path(parts) / SETTINGS_FILE
    if not settings.exists():
        return None
    try:
        values = json.loads(settings.read_text())
    except (OSError, UnicodeDecodeError, ValueError):
        raise DataError(f"{settings} is corrupt (not readable JSON)") from None
    if not isinstance(values, dict):
        raise DataError(f"{settings} is not a settings file of tagformer generate (a JSON "
                        f"{type(values).__name__}, not an object of settings)")
    unknown = sorted(set(values) - settings_keys())
    if unknown:
        raise DataError(f"{settings} is not a settings file of tagformer generate (unknown key(s) "
                        f"{', '.join(map(repr, unknown[:4]))})")
    return values


def holds_run_settings(parts: Path) -> bool:
    """True unless ``parts`` holds a settings file that tagformer did not write (or that is unreadable)."""
    try:
        read_settings(parts)
    except DataError:
        return False
    return True


def config_from_settings(parts: Path, output: Path) -> GenerateConfig:
    """The run configuration stored in ``parts``, targeting ``output``; DataError if missing or invalid."""
    values = read_settings(parts)
    if values is None:
        raise DataError(f"no shards to merge: {Path(parts) / SETTINGS_FILE} does not exist "
                        "(run `tagformer generate --shard i/n` first)")
    try:
        return make_config(output=output, **values)
    except ConfigError as exc:
        raise DataError(f"{Path(parts) / SETTINGS_FILE} holds an invalid setting ({exc})") from None


def write_settings(parts: Path, settings: dict) -> None:
    """Write ``settings.json`` atomically; DataError (disk full named as such) when it cannot be written."""
    path = Path(parts) / SETTINGS_FILE
    try:
        atomic_write_text(path, json.dumps(settings, sort_keys=True, indent=1))
    except OSError as exc:
        raise write_error(path, exc) from None


def write_error(path: Path, exc: OSError, parts: Path | None = None) -> DataError:
    """One clear message for a failed write; a full disk says what is kept and how to resume."""
    reason = exc.strerror or str(exc)
    if exc.errno in DISK_FULL:
        kept = f"shards finished so far stay in {parts}; " if parts is not None else ""
        return DataError(f"disk full: cannot write {path} ({reason}); {kept}free some space and rerun the same "
                         "command to resume")
    return DataError(f"cannot write {path}: {reason}")
