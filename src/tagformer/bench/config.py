"""What a profile measures and how: :class:`ProfileConfig` (shared by :mod:`.profile` and :mod:`.measure`)."""

from __future__ import annotations

from dataclasses import dataclass

from tagformer.bench.device import resolve_device
from tagformer.errors import ConfigError

_DTYPES = ("fp32", "bf16")
_MEMORY = ("auto", "subprocess", "inprocess", "off")


@dataclass(frozen=True)
class ProfileConfig:
    """What to measure and how (typed; validated by :meth:`check`)."""

    particles: tuple[int, ...] = (16, 32, 64, 150)
    batches: tuple[int, ...] = (1, 1024)
    device: str = "cpu"
    dtype: str = "fp32"
    compile: bool = False
    threads: int | None = None
    in_features: int = 3
    num_classes: int = 5
    warmup: int = 5
    repeats: int = 50
    budget_s: float = 2.0
    memory: str = "auto"
    calibrate_size: int = 2048

    def check(self) -> ProfileConfig:
        """Raise :class:`ConfigError` on impossible settings; return ``self``."""
        if not self.particles or any(int(n) < 1 for n in self.particles):
            raise ConfigError(f"particle counts must be positive integers, got {list(self.particles)}")
        if not self.batches or any(int(b) < 1 for b in self.batches):
            raise ConfigError(f"batch sizes must be positive integers, got {list(self.batches)}")
        if self.dtype not in _DTYPES:
            raise ConfigError(f"dtype must be one of {', '.join(_DTYPES)}, got {self.dtype!r}")
        if self.memory not in _MEMORY:
            raise ConfigError(f"memory must be one of {', '.join(_MEMORY)}, got {self.memory!r}")
        if self.threads is not None and self.threads < 1:
            raise ConfigError(f"threads must be >= 1, got {self.threads}")
        if self.in_features < 1:
            raise ConfigError(f"features per particle must be >= 1, got {self.in_features}")
        if self.num_classes < 2:
            raise ConfigError(f"a classifier needs at least 2 classes, got {self.num_classes}")
        resolve_device(self.device)
        if self.repeats < 1 or self.warmup < 0:
            raise ConfigError("repeats must be >= 1 and warmup >= 0")
        if not self.budget_s > 0 or self.budget_s == float("inf"):
            raise ConfigError(f"the time budget per row must be a positive number of seconds, got {self.budget_s}")
        return self
