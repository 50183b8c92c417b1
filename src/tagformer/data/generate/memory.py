"""Memory a merge needs, and what the machine has: refuse up front instead of dying halfway."""

from __future__ import annotations

from tagformer.data.generate.config import GenerateConfig
from tagformer.errors import DataError

#: Bytes per stored number (float32) in the output arrays.
_ITEM = 4
#: A merge holds the assembled arrays and the in-memory HDF5 image of the output at once.
_COPIES = 2


def merge_bytes(config: GenerateConfig, n_jets: int) -> int:
    """Peak memory of merging ``n_jets`` jets of this run (arrays plus the file image)."""
    from tagformer.data.generate.writer import JET_FEATURE_NAMES, TARGET_NAMES

    per_jet = (config.n_constituents * 16 + len(JET_FEATURE_NAMES) + len(TARGET_NAMES)) * _ITEM
    return _COPIES * n_jets * per_jet


def machine_memory(field: str) -> int | None:
    """``MemTotal`` or ``MemAvailable`` from ``/proc/meminfo`` in bytes; None where it cannot be read."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                name, _, rest = line.partition(":")
                if name == field:
                    return int(rest.split()[0]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _size(nbytes: int) -> str:
    return f"{nbytes / 2**30:.1f} GiB" if nbytes >= 2**30 else f"{nbytes / 2**20:.1f} MiB"


def check_merge_memory(config: GenerateConfig, n_jets: int, field: str = "MemAvailable") -> None:
    """Raise DataError if merging ``n_jets`` jets needs more memory than ``field`` says the machine has."""
    have = machine_memory(field)
    need = merge_bytes(config, n_jets)
    if have is not None and need > have:
        what = "has" if field == "MemTotal" else "has available"
        raise DataError(f"merging {n_jets:,} jets into one file needs about {_size(need)} of memory and this "
                        f"machine {what} {_size(have)}: generate fewer jets per output file (several runs with "
                        "different seeds), or store fewer constituents")
