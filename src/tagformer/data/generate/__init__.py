"""Offline physics generation of labelled jets (Pythia 8 + FastJet), written in the hls4ml layout.

>>> from tagformer.data.generate import generate, make_config
>>> path = generate(make_config(output="data/jets.h5", jets_per_class=300))  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

from tagformer.data.generate.config import ALL_CLASSES, GenerateConfig, make_config
from tagformer.data.generate.extras import MissingExtraError, require_generate_extra
from tagformer.data.generate.lock import run_lock
from tagformer.data.generate.memory import check_merge_memory
from tagformer.data.generate.merge import merge_parts
from tagformer.data.generate.parts import holds_run_settings, parts_dir, remove_run_files, shard_files
from tagformer.data.generate.runner import RunReport, check_output, run_shards
from tagformer.errors import DataError

__all__ = ["ALL_CLASSES", "GenerateConfig", "MissingExtraError", "RunReport", "generate", "make_config",
           "merge_parts", "parts_dir", "run_shards"]


def generate(config: GenerateConfig, part: tuple[int, int] | None = None, show_progress: bool = True) -> Path:
    """Generate a labelled jet dataset (resuming finished shards) and return the path written.

    Parameters
    ----------
    config
        All settings; ``config.output`` is the HDF5 file to create.
    part
        ``(i, n)`` to generate only slice i of n of the shards (for batch systems); the shards stay in
        the parts directory and :func:`merge_parts` joins them. ``None`` generates everything and merges.
    show_progress
        Draw a progress bar with jets/s and ETA.

    Returns
    -------
    Path
        The output file, or the parts directory when ``part`` is given.

    Raises
    ------
    TagformerError
        Every failure a user can cause or fix, as one clear message (see ``docs/data.md``, "When generation
        goes wrong"): finished shards are always kept, and a run that failed before its first shard leaves
        nothing behind.
    """
    require_generate_extra()
    check_output(config.output, config.overwrite, writes_output=part is None)
    if part is None:
        check_merge_memory(config, len(config.classes) * config.jets_per_class, field="MemTotal")
    parts = parts_dir(config.output)
    if parts.exists() and not parts.is_dir():
        raise DataError(f"{parts} exists and is not a directory; the shards of {config.output} go there")
    with run_lock(parts):
        try:
            run_shards(config, part, show_progress)
        except BaseException:
            if not shard_files(parts) and holds_run_settings(parts):  # nothing to protect: leave nothing
                remove_run_files(parts, [])  # behind that would refuse the corrected command
            raise
        if part is not None:
            return parts
        return merge_parts(config.output, overwrite=config.overwrite, keep_parts=config.keep_parts,
                           command=config.command, lock=False)
