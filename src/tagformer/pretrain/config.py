"""Typed configuration of a pretraining run: the run sections of ``tagformer train`` plus ``pretrain``.

A :class:`PretrainConfig` has the ``seed``, ``data``, ``model``, ``optim``, ``schedule`` and ``trainer``
sections of :class:`~tagformer.config.RunConfig` (merged the same way: packaged ``base.yaml``, the model's
packaged config, ``--model``/``--data``, dotted overrides) and a ``pretrain`` section naming the method with
one sub-section per method. Overrides of the ``pretrain`` section are dotted like the others
(``pretrain.mpm.mask_fraction=0.3``). Labels in the data are never read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tagformer.config import (
    RunSections,
    build_config,
    deep_merge,
    parse_overrides,
)
from tagformer.errors import ConfigError
from tagformer.train.init_from import PRETRAIN_SECTION

#: The pretraining methods, in the order they are documented.
METHODS = ("mpm", "jjepa", "rino")
#: The top-level key of the pretraining section.
SECTION = PRETRAIN_SECTION  # one name, defined where --init-from reads it


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MPMConfig(_Strict):
    """Masked particle modelling. ``recipe=features``: mask ``mask_fraction`` of the particles and regress
    their standardised input features (``loss`` l1 or mse); ``recipe=one_particle``: mask one particle and
    regress its (log pT, Δη, Δφ, log E)."""

    recipe: Literal["features", "one_particle"] = "features"
    mask_fraction: float = Field(0.4, gt=0, lt=1)
    loss: Literal["l1", "mse"] = "l1"
    head_hidden: int = Field(128, ge=1)


class EMAConfig(_Strict):
    """Teacher momentum: cosine from ``ema_start`` to ``ema_end`` over the run's optimiser steps."""

    ema_start: float = Field(0.99, ge=0, le=1)
    ema_end: float = Field(1.0, ge=0, le=1)


class JJEPAConfig(EMAConfig):
    """J-JEPA: C/A subjets of radius ``subjet_radius``, pT-ordered, at most ``max_subjets``; about
    ``target_fraction`` of the ``leading`` hardest subjets are targets; a ``predictor_layers``-layer
    transformer predictor of width ``predictor_dim``."""

    subjet_radius: float = Field(0.2, gt=0)
    max_subjets: int = Field(20, ge=2)
    leading: int = Field(10, ge=2)
    target_fraction: float = Field(0.3, gt=0, lt=1)
    predictor_dim: int = Field(64, ge=8)
    predictor_layers: int = Field(2, ge=1)
    predictor_heads: int = Field(4, ge=1)


class RINOConfig(EMAConfig):
    """RINO: views are exclusive-kT reclusterings of the jet into ``global_views`` and ``local_views``
    subjets (0 = the particles themselves); DINO head with ``out_dim`` prototypes; teacher temperature from
    ``teacher_temp_start`` to ``teacher_temp`` over ``teacher_temp_warmup`` of the run."""

    global_views: list[int] = Field(default_factory=lambda: [0, 16])
    local_views: list[int] = Field(default_factory=lambda: [8, 4, 2])
    out_dim: int = Field(256, ge=2)
    head_hidden: int = Field(256, ge=1)
    bottleneck: int = Field(64, ge=1)
    student_temp: float = Field(0.1, gt=0)
    teacher_temp_start: float = Field(0.04, gt=0)
    teacher_temp: float = Field(0.07, gt=0)
    teacher_temp_warmup: float = Field(0.3, ge=0, le=1)
    center_momentum: float = Field(0.9, ge=0, lt=1)
    ema_start: float = Field(0.996, ge=0, le=1)

    @field_validator("global_views", "local_views")
    @classmethod
    def _counts(cls, value: list[int]) -> list[int]:
        if any(v < 0 for v in value):
            raise ValueError(f"subjet counts must be >= 0 (0 = the particles), got {value}")
        return value

    @model_validator(mode="after")
    def _two_global(self) -> RINOConfig:
        if len(self.global_views) < 2:
            raise ValueError("rino needs at least two global views (pretrain.rino.global_views)")
        return self


class PretrainSection(_Strict):
    method: Literal["mpm", "jjepa", "rino"] = "mpm"
    mpm: MPMConfig = MPMConfig()
    jjepa: JJEPAConfig = JJEPAConfig()
    rino: RINOConfig = RINOConfig()


class PretrainConfig(RunSections):
    """Everything one pretraining run needs; saved as the run's ``config.yaml``."""

    pretrain: PretrainSection = PretrainSection()

    @model_validator(mode="after")
    def _monitor_loss(self) -> PretrainConfig:
        if self.trainer.monitor != "val_loss":
            raise ValueError(f"pretraining has no accuracy: trainer.monitor must be val_loss, got "
                             f"{self.trainer.monitor}")
        return self


def is_pretrain_config(raw: Mapping[str, Any]) -> bool:
    """Whether a saved config (a mapping) belongs to a pretraining run."""
    return isinstance(raw.get(SECTION), Mapping)


def _error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    if err["type"] == "extra_forbidden":
        return f"unknown config key {loc!r}"
    msg = str(err["msg"]).removeprefix("Value error, ")
    return f"bad config value for {loc!r}: {msg}" if loc else f"bad config: {msg}"


def build_pretrain_config(*, model: str | None = None, data: str | None = None, method: str | None = None,
                          overrides: Iterable[str] = (), base: Mapping[str, Any] | None = None) -> PretrainConfig:
    """Merge settings like :func:`tagformer.config.build_config` and add the ``pretrain`` section.

    ``base`` is a saved pretraining config (a resume); ``method`` overrides ``pretrain.method``.
    """
    overrides = list(overrides)
    mine = [o for o in overrides if o.split("=", 1)[0].split(".")[0] == SECTION]
    rest = [o for o in overrides if o not in mine]
    if method is not None and method not in METHODS:
        raise ConfigError(f"unknown pretraining method {method!r}; choose one of {', '.join(METHODS)}")
    run_base = None if base is None else {k: v for k, v in base.items() if k != SECTION}
    run = build_config(model=model, data=data, overrides=rest, base=run_base)
    raw = run.to_dict()
    raw.pop("tasks", None)
    raw.pop("finetune", None)  # pretraining starts from scratch and has no heads
    section = dict((base or {}).get(SECTION) or {})
    section = deep_merge(section, parse_overrides(mine).get(SECTION) or {})
    if method is not None:
        section["method"] = method
    if section.get("method") not in (None, *METHODS):
        raise ConfigError(f"unknown pretraining method {section.get('method')!r}; choose one of {', '.join(METHODS)}")
    try:
        cfg = PretrainConfig.model_validate({**raw, SECTION: section})
    except ValidationError as exc:
        raise ConfigError(_error(exc)) from exc
    cfg.model._choice = run.model.choice
    return cfg
