"""Pythia 8 processes per jet class, deterministic per-shard seeds and a configured generator."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

import numpy as np

from tagformer.data.generate.config import ALL_CLASSES, GenerateConfig
from tagformer.errors import ConfigError

_W_HADRONIC = ("24:onMode = off", "24:onIfAny = 1 2 3 4 5")

#: Pythia settings selecting the hard process of each class (also listed in docs/data.md, "Processes").
PROCESSES: dict[str, tuple[str, ...]] = {
    "t": ("Top:gg2ttbar = on", "Top:qqbar2ttbar = on", *_W_HADRONIC),
    "w": ("WeakBosonAndParton:qqbar2Wg = on", "WeakBosonAndParton:qg2Wq = on", *_W_HADRONIC),
    "z": ("WeakBosonAndParton:qqbar2gmZg = on", "WeakBosonAndParton:qg2gmZq = on", "WeakZ0:gmZmode = 2",
          "23:onMode = off", "23:onIfAny = 1 2 3 4 5"),
    "g": ("HardQCD:gg2gg = on", "HardQCD:qqbar2gg = on"),
    "q": ("HardQCD:qg2qg = on", "HardQCD:qq2qq = on", "HardQCD:qqbar2qqbarNew = on"),
}

#: Largest seed Pythia accepts (``Random:seed`` must lie in [0, 900000000]).
_PYTHIA_SEED_MAX = 900_000_000


def shard_seeds(seed: int, label: str, shard: int) -> tuple[int, np.random.SeedSequence]:
    """Pythia seed and numpy seed sequence of one shard.

    Derived only from (run seed, class, shard index), never from the worker that runs the shard, so
    any number of workers produces identical arrays.
    """
    key = (ALL_CLASSES.index(label), shard)
    state = np.random.SeedSequence(seed, spawn_key=key).generate_state(1, dtype=np.uint64)[0]
    return int(state % _PYTHIA_SEED_MAX) + 1, np.random.SeedSequence(seed, spawn_key=(*key, 1))


def pythia_settings(config: GenerateConfig, label: str, pythia_seed: int) -> list[str]:
    """All ``readString`` lines for one class: beams, process, pT-hat window, quiet output, seed."""
    return [
        f"Beams:eCM = {config.sqrt_s}",
        *PROCESSES[label],
        f"PhaseSpace:pTHatMin = {config.pthat_min}",
        f"PhaseSpace:pTHatMax = {config.pthat_max}",
        "PartonLevel:MPI = on",
        "HadronLevel:all = on",
        "Print:quiet = on",
        "Next:numberCount = 0",
        "Next:numberShowEvent = 0",
        "Random:setSeed = on",
        f"Random:seed = {pythia_seed}",
    ]


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    """Silence C++ writes to file descriptor 1 (Pythia's and FastJet's banners)."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def make_pythia(config: GenerateConfig, label: str, pythia_seed: int):  # -> pythia8mc.Pythia
    """An initialised, quiet Pythia for one class.

    Raises
    ------
    ConfigError
        If Pythia rejects a setting (``readString`` returns False) or fails to initialise.
    """
    import pythia8mc

    with _quiet_stdout():
        py = pythia8mc.Pythia("", False)
        for line in pythia_settings(config, label, pythia_seed):
            if not py.readString(line):
                raise ConfigError(f"Pythia rejected the setting {line!r} for class {label!r}")
        ok = py.init()
    if not ok:
        raise ConfigError(f"Pythia failed to initialise for class {label!r} (check the pT-hat window and energy)")
    return py


def silence_fastjet_banner() -> None:
    """Cluster one tiny event with stdout silenced so FastJet prints its banner to nowhere."""
    import awkward as ak
    import fastjet

    arr = ak.Array([[{"px": 1.0, "py": 0.0, "pz": 0.0, "E": 1.0}]], with_name="Momentum4D")
    with _quiet_stdout():
        fastjet.ClusterSequence(arr, fastjet.JetDefinition(fastjet.antikt_algorithm, 0.4)).inclusive_jets(0.0)
