"""Typed data settings: where the jets are and how they become batches (unknown keys are errors)."""

from __future__ import annotations

from typing import Literal

import pydantic
from pydantic import ConfigDict


class DataConfig(pydantic.BaseModel):
    """Where the jets are and how to turn them into batches (unknown keys are errors)."""

    model_config = ConfigDict(extra="forbid")

    path: str
    val_path: str | None = None
    test_path: str | None = None
    format: str | None = None
    feature_set: str = "ptetaphi"
    num_particles: int = pydantic.Field(64, gt=0)
    ordering: str = "pt"
    batch_size: int = pydantic.Field(256, gt=0)
    num_workers: int = pydantic.Field(0, ge=0)
    streaming: bool = False
    shuffle_buffer: int = pydantic.Field(100_000, gt=0)
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    seed: int = 0
    max_jets: int | None = pydantic.Field(None, gt=0)
    #: named per-jet targets to read besides the labels (e.g. ``["mass"]`` for a regression task); the run's
    #: tasks add theirs automatically. A name the file does not have is an error that lists the available ones.
    targets: list[str] = pydantic.Field(default_factory=list)
    #: train on this fraction of the training split's labelled jets (a fixed, seeded, class-balanced subset,
    #: nested across fractions); validation and test splits are untouched. 1.0 = all.
    label_fraction: float = pydantic.Field(1.0, gt=0, le=1)
    #: input standardisation fitted on the training split: ``standard`` ((x - mean) / std) or ``robust``
    #: ((x - median) / (p95 - p5), the SAL-T/PHAT-JeT reference preparation).
    normalisation: Literal["standard", "robust"] = "standard"
