"""Offline physics generation of labelled jets (Pythia 8 + FastJet), written in the hls4ml layout.

>>> from tagformer.data.generate import generate, make_config
>>> path = generate(make_config(output="data/jets.h5", jets_per_class=300))  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

from tagformer.data.generate.config import ALL_CLASSES, GenerateConfig, make_config
from tagformer.data.generate.merge import merge_parts
from tagformer.data.generate.runner import RunReport, check_output, parts_dir, run_shards

__all__ = ["ALL_CLASSES", "GenerateConfig", "RunReport", "generate", "make_config", "merge_parts", "parts_dir",
           "run_shards"]


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
    """
    check_output(config.output, config.overwrite)
    run_shards(config, part, show_progress)
    if part is not None:
        return parts_dir(config.output)
    return merge_parts(config.output, overwrite=config.overwrite, keep_parts=config.keep_parts,
                       command=config.command)
