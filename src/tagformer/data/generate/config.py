"""Typed configuration of a generation run (every physics setting, the seed and the output path)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from tagformer.errors import ConfigError

#: Every class tagformer can generate, in the order of the one-hot label columns.
ALL_CLASSES: tuple[str, ...] = ("g", "q", "w", "z", "t")

#: Settings that do not change the physics or the arrays (excluded from the run fingerprint).
RUN_ONLY_FIELDS = frozenset({"output", "workers", "overwrite", "keep_parts", "command"})

#: Largest seed: the seed is stored as a 64-bit signed integer in the output's metadata.
SEED_MAX = 2**63 - 1
#: Most constituents stored per jet (the published datasets store 30 to 200).
MAX_CONSTITUENTS = 10_000
#: Most particle slots (shard_size x constituents) in one shard; a shard's arrays are built in memory
#: (about 200 bytes per slot while the features are computed, so about 4 GB at the limit).
MAX_SHARD_SLOTS = 20_000_000
#: Most shards in a run (the shard plan is a list held in memory by every command).
MAX_SHARDS = 1_000_000
#: Smallest calorimeter cell (eta and phi): finer grids have more cells per axis than float64 counts exactly.
MIN_CELL = 1e-12
#: Jets above this multiple of the pT-hat maximum are too rare to collect (less than 1 in 1000 events).
MAX_JET_PT_OVER_PTHAT = 2.0


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
        for name, value in self._floats().items():
            if not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value}")
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
        if self.pthat_min >= self.sqrt_s / 2:
            raise ValueError(f"pthat_min {self.pthat_min} GeV is out of reach: a hard process at sqrt(s) = "
                             f"{self.sqrt_s} GeV has pT-hat below {self.sqrt_s / 2} GeV")
        if not 0 <= self.seed <= SEED_MAX:
            raise ValueError(f"seed must be between 0 and 2**63 - 1, got {self.seed}")
        if self.workers < 0:
            raise ValueError(f"workers must be >= 0 (0 = all cores), got {self.workers}")
        if self.jet_pt_min < 0 or not 0 <= self.softdrop_zcut < 1:
            raise ValueError("jet_pt_min must be >= 0 and softdrop_zcut in [0, 1)")
        if self.jet_pt_min > MAX_JET_PT_OVER_PTHAT * self.pthat_max:
            raise ValueError(f"jet_pt_min {self.jet_pt_min} GeV is unreachable with pthat_max {self.pthat_max} GeV "
                             f"(jets above {MAX_JET_PT_OVER_PTHAT:g} x pT-hat max are rarer than 1 in 1000 events): "
                             "raise the pT-hat window or lower the jet pT cut")
        self._check_sizes()
        return self

    def _floats(self) -> dict[str, float]:
        return {name: value for name, value in self.__dict__.items() if isinstance(value, float)}

    def _check_sizes(self) -> None:
        """Limits that keep the shard plan and one shard's arrays in memory, and the calorimeter grid exact."""
        if self.n_constituents > MAX_CONSTITUENTS:
            raise ValueError(f"n_constituents must be at most {MAX_CONSTITUENTS}, got {self.n_constituents}")
        slots = self.shard_size * self.n_constituents
        if slots > MAX_SHARD_SLOTS:
            raise ValueError(f"one shard would hold shard_size x n_constituents = {slots:,} particle slots, more "
                             f"than the limit of {MAX_SHARD_SLOTS:,} (about 4 GB in memory): lower the shard size")
        shards = len(self.classes) * -(-self.jets_per_class // self.shard_size)
        if shards > MAX_SHARDS:
            raise ValueError(f"the run would have {shards:,} shards (jets_per_class / shard_size per class), more "
                             f"than the limit of {MAX_SHARDS:,}: raise the shard size or lower jets_per_class")
        for name in ("ecal_cell", "hcal_cell"):
            if getattr(self, name) < MIN_CELL:
                raise ValueError(f"{name} must be at least {MIN_CELL:g}, got {getattr(self, name):g}")

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
        where = ".".join(str(p) for p in err.get("loc", ()))
        msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
        raise ConfigError(f"invalid generation setting {where}: {msg}" if where else
                          f"invalid generation setting: {msg}") from None
