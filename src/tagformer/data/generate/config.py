"""Typed configuration of a generation run (every physics setting, the seed and the output path)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from tagformer.errors import ConfigError

#: Every class tagformer can generate, in the order of the one-hot label columns.
ALL_CLASSES: tuple[str, ...] = ("g", "q", "w", "z", "t")

#: Settings that do not change the physics or the arrays (excluded from the run fingerprint).
RUN_ONLY_FIELDS = frozenset({"output", "workers", "overwrite", "keep_parts", "command"})


class GenerateConfig(BaseModel):
    """Settings of ``tagformer generate``.

    Defaults reproduce the hls4ml LHC jet recipe with Pythia 8 alone: 13 TeV pp, hard-process pT-hat in
    [1000, 1200] GeV (the narrow ~1 TeV window), anti-kT R = 0.8 jets with pT > 800 GeV and |eta| < 2.0,
    150 pT-ordered constituents, the parametric detector on.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    output: Path
    classes: tuple[str, ...] = ALL_CLASSES
    jets_per_class: int = 1000
    seed: int = 1
    sqrt_s: float = 13000.0
    pthat_min: float = 1000.0
    pthat_max: float = 1200.0
    jet_algorithm: Literal["antikt", "kt", "cambridge"] = "antikt"
    jet_r: float = 0.8
    jet_pt_min: float = 800.0
    eta_max: float = 2.0
    max_jets_per_event: int = 2
    n_constituents: int = 150
    detector: Literal["parametric", "none"] = "parametric"
    calo_eta_max: float = 3.0
    ecal_cell: float = 0.0174
    hcal_cell: float = 0.087
    softdrop_beta: float = 0.0
    softdrop_zcut: float = 0.1
    shard_size: int = 1000
    batch_events: int = 100
    shuffle: bool = True
    workers: int = 0
    overwrite: bool = False
    keep_parts: bool = False
    command: str = ""

    @field_validator("classes", mode="before")
    @classmethod
    def _classes(cls, value: object) -> tuple[str, ...]:
        if isinstance(value, str):
            value = [v for v in value.replace(",", " ").split() if v]
        names = tuple(str(v).strip().lower() for v in value)  # type: ignore[union-attr]
        unknown = [n for n in names if n not in ALL_CLASSES]
        if unknown:
            raise ValueError(f"unknown class {unknown[0]!r}; choose from {', '.join(ALL_CLASSES)}")
        if not names:
            raise ValueError("at least one class is needed")
        if len(set(names)) != len(names):
            raise ValueError("a class is listed twice")
        return names

    @model_validator(mode="after")
    def _check(self) -> GenerateConfig:
        positive = {"jets_per_class": self.jets_per_class, "n_constituents": self.n_constituents,
                    "shard_size": self.shard_size, "batch_events": self.batch_events,
                    "max_jets_per_event": self.max_jets_per_event, "jet_r": self.jet_r,
                    "eta_max": self.eta_max, "ecal_cell": self.ecal_cell, "hcal_cell": self.hcal_cell,
                    "sqrt_s": self.sqrt_s, "calo_eta_max": self.calo_eta_max}
        for name, value in positive.items():
            if not value > 0:
                raise ValueError(f"{name} must be positive, got {value}")
        if self.pthat_min < 0 or self.pthat_max <= self.pthat_min:
            raise ValueError(f"the pT-hat window [{self.pthat_min}, {self.pthat_max}] GeV is empty or inverted")
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0, got {self.seed}")
        if self.workers < 0:
            raise ValueError(f"workers must be >= 0 (0 = all cores), got {self.workers}")
        if self.jet_pt_min < 0 or not 0 <= self.softdrop_zcut < 1:
            raise ValueError("jet_pt_min must be >= 0 and softdrop_zcut in [0, 1)")
        return self

    @property
    def class_indices(self) -> tuple[int, ...]:
        """Index of each configured class in :data:`ALL_CLASSES` (the label column)."""
        return tuple(ALL_CLASSES.index(c) for c in self.classes)

    def physics_settings(self) -> dict:
        """Every setting that changes the arrays, as JSON-able values (the run fingerprint)."""
        data = self.model_dump(mode="json")
        return {k: v for k, v in data.items() if k not in RUN_ONLY_FIELDS}

    def fingerprint(self) -> str:
        """Canonical JSON of :meth:`physics_settings`; equal strings mean identical output arrays."""
        return json.dumps(self.physics_settings(), sort_keys=True)


def make_config(**kwargs: object) -> GenerateConfig:
    """Build a :class:`GenerateConfig`, turning validation failures into one-line :class:`ConfigError`."""
    try:
        return GenerateConfig(**kwargs)  # type: ignore[arg-type]
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err.get("loc", ())) or "config"
        msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
        raise ConfigError(f"invalid generation setting {where}: {msg}") from None
