"""A two-family search space with a tiny budget, for the search tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

#: Two families, a budget of a few seconds per trial on one thread.
TINY_SPACE: dict[str, Any] = {
    "name": "tiny",
    "objectives": ["val_acc", "flops"],
    "constraints": ["params <= 100000"],
    "run": {"trainer": {"max_epochs": 2, "patience": 5, "progress": False, "threads": 1,
                        "checkpoint_every_n_steps": 2, "log_every_n_steps": 2},
            "data": {"batch_size": 32, "num_particles": 16}},
    "families": {
        "transformer": {"model": "transformer_tiny",
                        "params": {"dim": [8, 16], "num_heads": [2, 4], "num_layers": {"low": 1, "high": 2}}},
        "deepsets": {"model": "deepsets_tiny",
                     "params": {"phi_dims": [[8, 8], [16, 16], [32, 32]], "pooling": ["sum", "mean", "max"]}},
    },
    "sampler": {"population_size": 4, "seed": 0},
}


def write_space(path: Path, **changes: Any) -> Path:
    """TINY_SPACE with top-level ``changes`` (None removes a key) written to ``path``."""
    space = {**TINY_SPACE, **changes}
    space = {k: v for k, v in space.items() if v is not None}
    path.write_text(yaml.safe_dump(space, sort_keys=False))
    return path
