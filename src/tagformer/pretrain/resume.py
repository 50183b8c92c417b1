"""What ``tagformer pretrain --resume`` reads and checks before touching the run directory.

The same rules as ``tagformer train --resume``: only how long and how the run goes may change
(:data:`tagformer.train.resume.RESUMABLE_KEYS`); everything is read and checked first.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from tagformer.config import read_saved_config
from tagformer.errors import DataError, ResumeError
from tagformer.pretrain.config import PretrainConfig, build_pretrain_config, is_pretrain_config
from tagformer.rundir import RunDir, read_json
from tagformer.train.resume import RESUMABLE_KEYS, flatten, load_checkpoint


@dataclass
class PretrainResume:
    """A checked resume: config (with the allowed changes), changed keys, normaliser, wall time, checkpoint."""

    config: PretrainConfig
    changed: list[str]
    normaliser: dict[str, Any]
    wall_time_s: float
    checkpoint: dict[str, Any] | None


def saved_config(paths: RunDir) -> dict[str, Any]:
    """The run's ``config.yaml`` as a mapping; ResumeError if it is not a pretraining run's."""
    raw = read_saved_config(paths.config)
    if not is_pretrain_config(raw):
        raise ResumeError(f"{paths.root} is a training run, not a pretraining run; resume it with "
                          "`tagformer train --resume`")
    return raw


def check_pretrain_resume(paths: RunDir, overrides: Iterable[str] = (), *, model: str | None = None,
                          data: str | None = None, method: str | None = None) -> PretrainResume:
    """Read and check everything a resume of ``paths`` needs; nothing is written."""
    from tagformer.data.normalise import Normaliser

    if not paths.is_run():
        raise ResumeError(f"cannot resume: {paths.root} is not a tagformer run directory")
    raw = saved_config(paths)
    saved = build_pretrain_config(base=raw)
    wanted = build_pretrain_config(model=model, data=data, method=method, overrides=list(overrides), base=raw)
    before, after = flatten(saved.to_dict()), flatten(wanted.to_dict())
    changed = [k for k in sorted(set(before) | set(after)) if before.get(k) != after.get(k)]
    refused = [k for k in changed if k not in RESUMABLE_KEYS]
    if refused:
        shown = ", ".join(f"{k}={after.get(k)!r} (was {before.get(k)!r})" for k in refused)
        raise ResumeError(f"cannot resume {paths.root} with {shown}: only {', '.join(RESUMABLE_KEYS)} may change. "
                          "Nothing in the run directory was changed.")
    state = read_json(paths.normaliser, "feature normalisation")
    try:
        Normaliser.from_state(state)
    except DataError as exc:
        raise DataError(f"{paths.normaliser} is corrupt ({exc})") from None
    wall = 0.0
    if paths.wall_time.exists():
        value = read_json(paths.wall_time, "training wall time").get("wall_time_s")
        wall = float(value) if isinstance(value, (int, float)) and math.isfinite(value) and value >= 0 else 0.0
    return PretrainResume(config=wanted, changed=changed, normaliser=state, wall_time_s=wall,
                          checkpoint=load_checkpoint(paths))
